from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import newest_first
from common.paging import SortKey
from reporting.adapters.tables import IdempotencyRow, ReportRow
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
