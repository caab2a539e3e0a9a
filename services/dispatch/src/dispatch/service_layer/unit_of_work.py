"""What the dispatch handlers need from a unit of work."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from common.contracts.envelope import CloudEvent
from common.contracts.events import EventData
from dispatch.domain.grids import GridIndex
from dispatch.domain.triage import Rejected
from dispatch.domain.work_orders import WorkOrder


class GridStore(Protocol):
    async def replace_district(self, index: GridIndex) -> None: ...
    async def load(self, district_code: str) -> GridIndex | None: ...


class WorkOrderStore(Protocol):
    async def add(self, order: WorkOrder) -> None: ...
    async def get(self, work_order_id: str) -> WorkOrder | None: ...
    async def already_triaged(self, report_id: str) -> bool: ...
    async def record_rejection(
        self,
        *,
        report_id: str,
        reporter_id: str,
        category: str,
        lat: float,
        lon: float,
        decision: Rejected,
        at: datetime,
    ) -> None: ...


class Outbox(Protocol):
    async def add(self, data: EventData, *, subject: str, sequence: int) -> CloudEvent: ...


class DispatchUnitOfWork(Protocol):
    @property
    def grids(self) -> GridStore: ...
    @property
    def work_orders(self) -> WorkOrderStore: ...
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
    def after_commit(self, callback: Callable[[], None]) -> None: ...
