"""Open311 GeoReport v2 as the reporting service speaks it: which reports count as open or
closed, what a partner system's API key is, and the rules a partner's request must follow
(https://wiki.open311.org/GeoReport_v2). Pure: no I/O, no framework."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from reporting.domain.reports import MAX_TEXT_LENGTH, Report, ReportStatus

MAX_MEDIA_URL_LENGTH = 2000
MAX_ADDRESS_LENGTH = 500
MAX_RESULTS = 1000
"""The most requests one ``GET requests.json`` answers (the spec's suggestion)."""
DEFAULT_WINDOW = timedelta(days=90)
"""The window of ``GET requests.json`` without dates, and the widest one allowed."""
MAX_REQUEST_IDS = MAX_RESULTS

CLOSED_STATUSES = frozenset(
    {
        ReportStatus.CLOSED.value,
        ReportStatus.RATED.value,
        ReportStatus.REJECTED.value,
        ReportStatus.VOIDED.value,
        "withdrawn",
    }
)
"""The report statuses shown as ``closed``: the case is over (结案, 评价), was never a case
(不予立案), was voided (作废) or withdrawn by its reporter. Every other status is ``open`` —
``merged`` too: a merged report follows its case and shows the case's status from then on,
so while it reads ``merged`` its case is still open."""


class Open311Status(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


def open311_status(status: ReportStatus | str) -> Open311Status:
    value = status.value if isinstance(status, ReportStatus) else status
    return Open311Status.CLOSED if value in CLOSED_STATUSES else Open311Status.OPEN


class Refusal(Exception):
    """A request Open311 answers with an error: ``status`` (400, 403 or 404) and a description
    shown to the caller as it is."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def bad_request(description: str) -> Refusal:
    return Refusal(400, description)


def forbidden(description: str) -> Refusal:
    return Refusal(403, description)


def not_found(description: str) -> Refusal:
    return Refusal(404, description)


def hash_api_key(api_key: str) -> str:
    """What is stored of a key: its SHA-256 (the key is random and long, so no salt is
    needed; the key itself is shown once, when it is issued)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """An API key issued to one partner system (a 12345 hotline platform, an app) for one
    district: it files requests there, as the reporter ``partner:<id>``."""

    id: str
    partner: str
    district: str
    key_hash: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def reporter_id(self) -> str:
        return f"partner:{self.id}"


@dataclass(frozen=True)
class RequestDetails:
    """What a partner's request carries beyond a report: the address as the partner wrote it
    and a link to its photo (stored and shown, never fetched)."""

    report_id: str
    api_key_id: str
    address: str | None
    media_url: str | None


@dataclass(frozen=True)
class ServiceRequest:
    """A report as Open311 shows it: its details if a partner filed it."""

    report: Report
    details: RequestDetails | None


@dataclass(frozen=True)
class NewRequest:
    """A partner's ``POST requests.json``, checked."""

    service_code: str
    lat: float
    lon: float
    description: str | None
    address: str | None
    media_url: str | None


def _one(values: dict[str, str], name: str) -> str | None:
    value = values.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _coordinate(values: dict[str, str], name: str, limit: float) -> float | None:
    raw = _one(values, name)
    if raw is None:
        return None
    try:
        number = float(raw)
    except ValueError:
        raise bad_request(f"{name} must be a decimal number (WGS84), not '{raw[:40]}'") from None
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise bad_request(f"{name} must be between -{limit:g} and {limit:g}")
    return number


def check_media_url(raw: str | None) -> str | None:
    if raw is None:
        return None
    if len(raw) > MAX_MEDIA_URL_LENGTH:
        raise bad_request(f"media_url is longer than {MAX_MEDIA_URL_LENGTH} characters")
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise bad_request("media_url must be an http or https URL")
    return raw


def new_request(values: dict[str, str]) -> NewRequest:
    """Check a ``POST requests.json`` form (``api_key`` and ``jurisdiction_id`` are checked
    elsewhere). Contact fields (email, names, phone, device_id, account_id) are accepted and
    not kept."""
    service_code = _one(values, "service_code")
    if service_code is None:
        raise bad_request("service_code is required")
    lat = _coordinate(values, "lat", 90)
    lon = _coordinate(values, "long", 180)
    address = _one(values, "address_string")
    if lat is None or lon is None:
        if (lat is None) != (lon is None):
            raise bad_request("lat and long must be given together")
        if address is not None or _one(values, "address_id") is not None:
            raise bad_request(
                "lat and long are required in this jurisdiction: an address alone cannot be "
                "placed in a grid (no geocoder); send lat and long, and address_string too if "
                "you have it"
            )
        raise bad_request("a location is required: lat and long")
    if address is not None and len(address) > MAX_ADDRESS_LENGTH:
        raise bad_request(f"address_string is longer than {MAX_ADDRESS_LENGTH} characters")
    description = _one(values, "description")
    if description is not None and len(description) > MAX_TEXT_LENGTH:
        raise bad_request(f"description is longer than {MAX_TEXT_LENGTH} characters")
    return NewRequest(
        service_code=service_code,
        lat=lat,
        lon=lon,
        description=description,
        address=address,
        media_url=check_media_url(_one(values, "media_url")),
    )


def parse_datetime(name: str, raw: str) -> datetime:
    """A W3C datetime (``2026-11-01T00:00:00Z``, or with an offset); one without an offset is
    read as UTC, a date alone as its midnight UTC."""
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise bad_request(
            f"{name} must be a W3C datetime such as 2026-11-01T00:00:00Z, not '{raw[:40]}'"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RequestQuery:
    """A ``GET requests.json``: by ids, or by window, codes and status; newest first, at most
    :data:`MAX_RESULTS`."""

    district: str
    ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    status: Open311Status | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = MAX_RESULTS


def _listed(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    return tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))


def request_query(district: str, values: dict[str, str], *, now: datetime) -> RequestQuery:
    """Check the filters of ``GET requests.json``. ``service_request_id`` overrides the others,
    as the spec says; without dates the window is the last 90 days; a window wider than 90
    days, or ending before it starts, is refused."""
    ids = _listed(_one(values, "service_request_id"))
    if ids:
        if len(ids) > MAX_REQUEST_IDS:
            raise bad_request(f"at most {MAX_REQUEST_IDS} service_request_id values at once")
        return RequestQuery(district=district, ids=ids)
    codes = _listed(_one(values, "service_code"))
    statuses = {_status(part) for part in _listed(_one(values, "status"))}
    status = next(iter(statuses)) if len(statuses) == 1 else None
    start_raw, end_raw = _one(values, "start_date"), _one(values, "end_date")
    start = parse_datetime("start_date", start_raw) if start_raw else None
    end = parse_datetime("end_date", end_raw) if end_raw else None
    if start is None and end is None:
        end, start = now, now - DEFAULT_WINDOW
    elif start is None:
        assert end is not None
        start = end - DEFAULT_WINDOW
    elif end is None:
        end = start + DEFAULT_WINDOW
    if end < start:
        raise bad_request("end_date is before start_date")
    if end - start > DEFAULT_WINDOW:
        raise bad_request("start_date and end_date may not span more than 90 days")
    return RequestQuery(district=district, service_codes=codes, status=status, start=start, end=end)


def _status(raw: str) -> Open311Status:
    try:
        return Open311Status(raw.lower())
    except ValueError:
        raise bad_request(
            f"status must be open or closed (comma-separated), not '{raw[:20]}'"
        ) from None


def served_jurisdiction(requested: str | None, served: Iterable[str]) -> str:
    """The district a request is about: ``jurisdiction_id`` if it names a served district (404
    if it names none), or the only district served when it is left out (400 when several
    are)."""
    districts = sorted(set(served))
    if requested is not None:
        if requested not in districts:
            raise not_found(f"jurisdiction_id '{requested[:20]}' is not served here")
        return requested
    if len(districts) == 1:
        return districts[0]
    if not districts:
        raise not_found("no jurisdiction is served here yet")
    raise bad_request(f"jurisdiction_id is required: this endpoint serves {', '.join(districts)}")
