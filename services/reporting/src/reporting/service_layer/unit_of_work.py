"""What the handlers need from a unit of work; the SQL one lives in adapters, fakes in tests."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from common.contracts.envelope import CloudEvent
from common.contracts.events import EventData
from reporting.domain.reports import Report


class ReportStore(Protocol):
    async def add(self, report: Report) -> None: ...
    async def get(self, report_id: str, *, for_update: bool = False) -> Report | None: ...
    async def save(self, report: Report) -> None: ...
    async def list_by_reporter(
        self, reporter_id: str, *, limit: int, offset: int
    ) -> list[Report]: ...


class IdempotencyStore(Protocol):
    async def find(self, reporter_id: str, key: str) -> tuple[str, str] | None: ...
    async def remember(
        self, reporter_id: str, key: str, fingerprint: str, report_id: str
    ) -> None: ...


class Outbox(Protocol):
    async def add(self, data: EventData, *, subject: str, sequence: int) -> CloudEvent: ...


class ReportingUnitOfWork(Protocol):
    @property
    def reports(self) -> ReportStore: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
    @property
    def outbox(self) -> Outbox: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...


def utc_now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
