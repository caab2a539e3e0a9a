"""What the handlers need from a unit of work; the SQL one lives in adapters, fakes in tests."""

from __future__ import annotations

from typing import Protocol

from common.messaging.ports import AbstractUnitOfWork
from common.paging import SortKey
from reporting.domain.reports import Report


class ReportStore(Protocol):
    async def add(self, report: Report) -> None: ...
    async def get(self, report_id: str, *, for_update: bool = False) -> Report | None: ...
    async def save(self, report: Report) -> None: ...
    async def list_by_reporter(
        self, reporter_id: str, *, limit: int, after: SortKey | None
    ) -> list[Report]:
        """Newest first (ties by id, descending), below ``after``; at most ``limit``."""
        ...


class IdempotencyStore(Protocol):
    async def find(self, reporter_id: str, key: str) -> tuple[str, str] | None: ...
    async def remember(
        self, reporter_id: str, key: str, fingerprint: str, report_id: str
    ) -> None: ...


class AbstractReportingUnitOfWork(AbstractUnitOfWork, Protocol):
    @property
    def reports(self) -> ReportStore: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
