"""Storage of the Open311 endpoint: partner API keys, and reports read with what a partner's
request carried beyond them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from reporting.adapters.open311_tables import Open311ApiKeyRow, Open311RequestRow
from reporting.adapters.repository import REPORTS, _report
from reporting.adapters.unit_of_work import SqlReportingUnitOfWork
from reporting.domain.open311 import (
    CLOSED_STATUSES,
    ApiKey,
    Open311Status,
    RequestDetails,
    RequestQuery,
    ServiceRequest,
)


def _key(row: Open311ApiKeyRow) -> ApiKey:
    return ApiKey(**row.model_dump())


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, key: ApiKey) -> None:
        self._session.add(Open311ApiKeyRow(**asdict(key)))

    async def get(self, key_id: str, *, for_update: bool = False) -> ApiKey | None:
        statement = select(Open311ApiKeyRow).where(Open311ApiKeyRow.id == key_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._session.exec(statement)).first()
        return _key(row) if row else None

    async def by_hash(self, key_hash: str) -> ApiKey | None:
        statement = select(Open311ApiKeyRow).where(Open311ApiKeyRow.key_hash == key_hash)
        row = (await self._session.exec(statement)).first()
        return _key(row) if row else None

    async def of_districts(self, districts: Sequence[str]) -> list[ApiKey]:
        statement = (
            select(Open311ApiKeyRow)
            .where(col(Open311ApiKeyRow.district).in_(list(districts)))
            .order_by(col(Open311ApiKeyRow.created_at), col(Open311ApiKeyRow.id))
        )
        return [_key(row) for row in (await self._session.exec(statement)).all()]

    async def save(self, key: ApiKey) -> None:
        row = await self._session.get(Open311ApiKeyRow, key.id)
        if row is None:
            raise LookupError(key.id)
        row.revoked_at = key.revoked_at
        self._session.add(row)


class ServiceRequestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, details: RequestDetails) -> None:
        self._session.add(Open311RequestRow(**asdict(details)))

    async def find(self, query: RequestQuery) -> list[ServiceRequest]:
        statement = sa.select(REPORTS).where(REPORTS.c.district == query.district)
        if query.ids:
            statement = statement.where(REPORTS.c.id.in_(query.ids))
        else:
            if query.start is not None:
                statement = statement.where(REPORTS.c.submitted_at >= query.start)
            if query.end is not None:
                statement = statement.where(REPORTS.c.submitted_at <= query.end)
            if query.service_codes:
                statement = statement.where(REPORTS.c.category.in_(query.service_codes))
            if query.status is Open311Status.CLOSED:
                statement = statement.where(REPORTS.c.status.in_(sorted(CLOSED_STATUSES)))
            elif query.status is Open311Status.OPEN:
                statement = statement.where(REPORTS.c.status.not_in(sorted(CLOSED_STATUSES)))
        statement = statement.order_by(REPORTS.c.submitted_at.desc(), REPORTS.c.id.desc()).limit(
            query.limit
        )
        connection = await self._session.connection()
        reports = [_report(row) for row in (await connection.execute(statement)).all()]
        details = await self._details_of([report.id for report in reports])
        return [ServiceRequest(report, details.get(report.id)) for report in reports]

    async def _details_of(self, report_ids: list[str]) -> dict[str, RequestDetails]:
        if not report_ids:
            return {}
        statement = select(Open311RequestRow).where(
            col(Open311RequestRow.report_id).in_(report_ids)
        )
        rows = (await self._session.exec(statement)).all()
        return {row.report_id: RequestDetails(**row.model_dump()) for row in rows}


class SqlOpen311UnitOfWork(SqlReportingUnitOfWork):
    """The reporting unit of work with the Open311 stores besides."""

    api_keys: ApiKeyRepository
    service_requests: ServiceRequestRepository

    def _open(self) -> None:
        super()._open()
        self.api_keys = ApiKeyRepository(self.session)
        self.service_requests = ServiceRequestRepository(self.session)


__all__ = ["ApiKeyRepository", "ServiceRequestRepository", "SqlOpen311UnitOfWork"]
