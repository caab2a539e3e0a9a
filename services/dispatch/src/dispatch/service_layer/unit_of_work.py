"""What the dispatch handlers need from a unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from common.messaging.ports import AbstractUnitOfWork
from common.paging import SortKey
from dispatch.domain.grids import GridIndex
from dispatch.domain.triage import Rejected
from dispatch.domain.work_orders import WorkOrder


@dataclass(frozen=True)
class ReferenceDocument:
    district: str
    kind: str
    body: Any
    revision: int


@dataclass(frozen=True)
class MergeCandidate:
    """An open order that a new report might duplicate (并单)."""

    work_order_id: str
    lat: float
    lon: float
    filed_at: datetime


@dataclass(frozen=True)
class WorkOrderFilter:
    """Which orders a listing shows; ``districts`` (and ``grid_ids``) bound it to what the
    caller may see."""

    districts: Sequence[str]
    street: str | None = None
    grid_id: str | None = None
    grid_ids: Sequence[str] | None = None
    """Only orders in these grids (a grid worker's) …"""
    or_assigned_to: str | None = None
    """… or assigned to this id (the grid worker's own, wherever they are)."""
    states: Sequence[str] = ()
    category: str | None = None
    assignee_id: str | None = None
    overdue: bool | None = None


class GridStore(Protocol):
    async def replace_district(self, index: GridIndex) -> None: ...
    async def revisions(self) -> dict[str, tuple[int, datetime | None]]: ...
    async def load(self, district_code: str) -> GridIndex | None: ...


class ReferenceStore(Protocol):
    async def put(self, district: str, kind: str, body: object) -> int: ...
    async def all(self) -> list[ReferenceDocument]: ...
    async def revisions(self) -> dict[tuple[str, str], int]: ...


class WorkOrderStore(Protocol):
    async def add(self, order: WorkOrder) -> None: ...
    async def save(self, order: WorkOrder, *, history_before: int) -> None: ...
    async def get(self, work_order_id: str, *, for_update: bool = False) -> WorkOrder | None: ...
    async def by_report(self, report_id: str) -> WorkOrder | None: ...
    async def already_triaged(self, report_id: str) -> bool: ...
    async def merge_candidates(
        self,
        *,
        district: str,
        category_group: str,
        since: datetime,
        lat_range: tuple[float, float],
        lon_range: tuple[float, float],
    ) -> list[MergeCandidate]: ...
    async def open_counts(self, assignee_ids: Sequence[str]) -> dict[str, int]: ...
    async def due_for_scan(
        self,
        now: datetime,
        *,
        street_after: timedelta,
        district_after: timedelta,
        after: str | None,
        limit: int,
    ) -> list[str]: ...
    async def listing(
        self, where: WorkOrderFilter, *, after: SortKey | None, limit: int
    ) -> list[WorkOrder]: ...
    async def record_rejection(
        self,
        *,
        report_id: str,
        reporter_id: str,
        district: str | None,
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
    def reference(self) -> ReferenceStore: ...
    @property
    def work_orders(self) -> WorkOrderStore: ...
