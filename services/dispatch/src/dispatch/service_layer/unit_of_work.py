"""What the dispatch handlers need from a unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from common.messaging.ports import AbstractUnitOfWork
from dispatch.domain.grids import GridIndex
from dispatch.domain.triage import Rejected
from dispatch.domain.work_orders import WorkOrder


class GridStore(Protocol):
    async def replace_district(self, index: GridIndex) -> None: ...
    async def revision(self, district_code: str) -> tuple[int, datetime | None]: ...
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


class AbstractDispatchUnitOfWork(AbstractUnitOfWork, Protocol):
    @property
    def grids(self) -> GridStore: ...
    @property
    def work_orders(self) -> WorkOrderStore: ...
