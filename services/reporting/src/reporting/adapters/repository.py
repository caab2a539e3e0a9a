from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import newest_first
from common.paging import SortKey
from reporting.adapters.tables import (
    CatalogueRow,
    IdempotencyRow,
    ReporterRequestRow,
    ReportRow,
    TimelineRow,
)
from reporting.domain.catalogues import Catalogue, CatalogueEntry
from reporting.domain.progress import TimelineEntry
from reporting.domain.reporter_requests import ReporterRequest, RequestAction
from reporting.domain.reports import Report, ReportStatus


def _to_domain(row: ReportRow) -> Report:
    values = row.model_dump()
    values["status"] = ReportStatus(row.status)
    return Report(**values)


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, report: Report) -> None:
        self._session.add(ReportRow(**asdict(report)))

    async def get(self, report_id: str, *, for_update: bool = False) -> Report | None:
        statement = select(ReportRow).where(ReportRow.id == report_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._session.exec(statement)).first()
        return _to_domain(row) if row else None

    async def of_work_order(self, work_order_id: str, *, for_update: bool = False) -> list[Report]:
        statement = (
            select(ReportRow)
            .where(ReportRow.work_order_id == work_order_id)
            .order_by(col(ReportRow.submitted_at), col(ReportRow.id))
        )
        if for_update:
            statement = statement.with_for_update()
        return [_to_domain(row) for row in (await self._session.exec(statement)).all()]

    async def save(self, report: Report) -> None:
        row = await self._session.get(ReportRow, report.id)
        if row is None:
            raise LookupError(report.id)
        for name, value in asdict(report).items():
            setattr(row, name, value)
        self._session.add(row)

    async def list_by_reporter(
        self, reporter_id: str, *, limit: int, after: SortKey | None
    ) -> list[Report]:
        statement = newest_first(
            select(ReportRow).where(ReportRow.reporter_id == reporter_id),
            at=col(ReportRow.submitted_at),
            id_=col(ReportRow.id),
            after=after,
            limit=limit,
        )
        return [_to_domain(row) for row in (await self._session.exec(statement)).all()]


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find(self, reporter_id: str, key: str) -> tuple[str, str] | None:
        row = await self._session.get(IdempotencyRow, (reporter_id, key))
        return (row.fingerprint, row.report_id) if row else None

    async def remember(self, reporter_id: str, key: str, fingerprint: str, report_id: str) -> None:
        self._session.add(
            IdempotencyRow(
                reporter_id=reporter_id,
                key=key,
                fingerprint=fingerprint,
                report_id=report_id,
                created_at=datetime.now(UTC),
            )
        )


class TimelineRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, entry: TimelineEntry) -> None:
        self._session.add(TimelineRow(**asdict(entry)))

    async def of_report(self, report_id: str) -> list[TimelineEntry]:
        statement = (
            select(TimelineRow)
            .where(TimelineRow.report_id == report_id)
            .order_by(col(TimelineRow.id))
        )
        rows = (await self._session.exec(statement)).all()
        return [TimelineEntry(**row.model_dump(exclude={"id"})) for row in rows]


def _catalogue(row: CatalogueRow) -> Catalogue:
    return Catalogue(
        district=row.district,
        district_name=row.district_name,
        revision=row.revision,
        published_at=row.published_at,
        entries=tuple(CatalogueEntry.of(entry) for entry in row.categories),
    )


class CatalogueRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, district: str, *, for_update: bool = False) -> Catalogue | None:
        statement = select(CatalogueRow).where(CatalogueRow.district == district)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._session.exec(statement)).first()
        return _catalogue(row) if row else None

    async def of_districts(self, districts: Sequence[str] | None) -> dict[str, Catalogue]:
        statement = select(CatalogueRow).order_by(col(CatalogueRow.district))
        if districts is not None:
            statement = statement.where(col(CatalogueRow.district).in_(list(districts)))
        rows = (await self._session.exec(statement)).all()
        return {row.district: _catalogue(row) for row in rows}

    async def put(self, catalogue: Catalogue) -> None:
        values: dict[str, Any] = {
            "district_name": catalogue.district_name,
            "revision": catalogue.revision,
            "categories": [asdict(entry) for entry in catalogue.entries],
            "published_at": catalogue.published_at,
            "received_at": datetime.now(UTC),
        }
        row = await self._session.get(CatalogueRow, catalogue.district)
        if row is None:
            row = CatalogueRow(district=catalogue.district, **values)
        else:
            for name, value in values.items():
                setattr(row, name, value)
        self._session.add(row)


def _request(row: ReporterRequestRow) -> ReporterRequest:
    values = row.model_dump()
    values["action"] = RequestAction(row.action)
    return ReporterRequest(**values)


class ReporterRequestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, request: ReporterRequest) -> None:
        self._session.add(ReporterRequestRow(**asdict(request)))

    async def of_report(self, report_id: str) -> list[ReporterRequest]:
        statement = (
            select(ReporterRequestRow)
            .where(ReporterRequestRow.report_id == report_id)
            .order_by(col(ReporterRequestRow.requested_at))
        )
        return [_request(row) for row in (await self._session.exec(statement)).all()]

    async def by_key(self, reporter_id: str, key: str) -> ReporterRequest | None:
        statement = select(ReporterRequestRow).where(
            ReporterRequestRow.reporter_id == reporter_id,
            ReporterRequestRow.idempotency_key == key,
        )
        row = (await self._session.exec(statement)).first()
        return _request(row) if row else None
