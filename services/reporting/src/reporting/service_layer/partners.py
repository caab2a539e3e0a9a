"""Use cases of the Open311 GeoReport v2 endpoint: an administrator issues, lists and revokes
partner systems' API keys; a partner files a request with its key (through the same
submission as a rider's report, as the reporter ``partner:<key id>``); anyone reads requests
back, without the reporter's identity."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from reporting.domain.catalogues import Catalogue
from reporting.domain.errors import DistrictNotServed, InactiveCategory, UnknownCategory
from reporting.domain.open311 import (
    ApiKey,
    NewRequest,
    Refusal,
    RequestDetails,
    RequestQuery,
    ServiceRequest,
    bad_request,
    forbidden,
    hash_api_key,
    not_found,
)
from reporting.domain.reports import Report, SubmitReport
from reporting.service_layer import handlers
from reporting.service_layer.unit_of_work import AbstractReportingUnitOfWork


class ApiKeyStore(Protocol):
    async def add(self, key: ApiKey) -> None: ...
    async def get(self, key_id: str, *, for_update: bool = False) -> ApiKey | None: ...
    async def by_hash(self, key_hash: str) -> ApiKey | None: ...
    async def of_districts(self, districts: Sequence[str]) -> list[ApiKey]:
        """The keys of ``districts``, revoked ones too, oldest first."""
        ...

    async def save(self, key: ApiKey) -> None: ...


class ServiceRequestStore(Protocol):
    async def add(self, details: RequestDetails) -> None: ...
    async def find(self, query: RequestQuery) -> list[ServiceRequest]:
        """The reports of the query's district that match it, newest first, each with its
        Open311 details if a partner filed it."""
        ...


class Open311UnitOfWork(AbstractReportingUnitOfWork, Protocol):
    @property
    def api_keys(self) -> ApiKeyStore: ...
    @property
    def service_requests(self) -> ServiceRequestStore: ...


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str
    """The API key itself: shown once, never stored."""


async def issue_key(
    partner: str, district: str, issued_by: str, uow: Open311UnitOfWork
) -> IssuedKey:
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        id=f"k-{secrets.token_hex(8)}",
        partner=partner,
        district=district,
        key_hash=hash_api_key(secret),
        created_at=datetime.now(UTC),
        created_by=issued_by,
    )
    async with uow:
        await uow.api_keys.add(key)
        await uow.commit()
    return IssuedKey(key, secret)


async def list_keys(districts: Sequence[str], uow: Open311UnitOfWork) -> list[ApiKey]:
    async with uow:
        return await uow.api_keys.of_districts(districts)


async def revoke_key(key_id: str, districts: Sequence[str], uow: Open311UnitOfWork) -> ApiKey:
    """Revoke the key (once; revoking it again changes nothing). LookupError if there is no
    such key in ``districts``."""
    async with uow:
        key = await uow.api_keys.get(key_id, for_update=True)
        if key is None or key.district not in districts:
            raise LookupError(key_id)
        if key.active:
            key = replace(key, revoked_at=datetime.now(UTC))
            await uow.api_keys.save(key)
            await uow.commit()
    return key


async def authenticate(api_key: str | None, uow: Open311UnitOfWork) -> ApiKey:
    """The active key ``api_key`` is, looked up by its hash; 403 otherwise."""
    if not api_key:
        raise forbidden("api_key is required to create a service request")
    async with uow:
        key = await uow.api_keys.by_hash(hash_api_key(api_key))
    if key is None or not key.active:
        raise forbidden("api_key is not valid (unknown or revoked)")
    return key


async def served_catalogues(uow: AbstractReportingUnitOfWork) -> dict[str, Catalogue]:
    """Every served district's catalogue (a district is served once dispatch published one)."""
    async with uow:
        return await uow.catalogues.of_districts(None)


async def file_request(
    key: ApiKey, request: NewRequest, catalogue: Catalogue, uow: Open311UnitOfWork
) -> Report:
    """File the partner's request as a report of the key's district, through the same
    submission as a rider's, storing its address and photo link with it."""
    entry = catalogue.find(request.service_code)
    if entry is None or not entry.active:
        raise bad_request(
            f"service_code '{request.service_code[:20]}' is not a service of jurisdiction "
            f"{catalogue.district}; GET services.json lists them"
        )
    command = SubmitReport(
        reporter_id=key.reporter_id,
        district=key.district,
        category=request.service_code,
        lat=request.lat,
        lon=request.lon,
        text=request.description or entry.name,
    )

    async def keep_details(report: Report) -> None:
        details = RequestDetails(report.id, key.id, request.address, request.media_url)
        await uow.service_requests.add(details)

    try:
        submission = await handlers.submit_report(command, uow, alongside=keep_details)
    except (UnknownCategory, InactiveCategory) as error:
        raise bad_request(str(error)) from error
    except DistrictNotServed as error:
        raise not_found(str(error)) from error
    return submission.report


async def find_requests(query: RequestQuery, uow: Open311UnitOfWork) -> list[ServiceRequest]:
    async with uow:
        return await uow.service_requests.find(query)


__all__ = [
    "ApiKeyStore",
    "IssuedKey",
    "Open311UnitOfWork",
    "Refusal",
    "ServiceRequestStore",
    "authenticate",
    "file_request",
    "find_requests",
    "issue_key",
    "list_keys",
    "revoke_key",
    "served_catalogues",
]
