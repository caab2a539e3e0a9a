"""Work orders (工单). This slice files them; the rest of the 数字城管 workflow follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class WorkOrderStatus(StrEnum):
    FILED = "filed"


@dataclass(frozen=True)
class Transition:
    """One history row: who moved the work order where, when and why."""

    from_status: str | None
    to_status: str
    actor: str
    reason: str
    at: datetime


@dataclass
class WorkOrder:
    id: str
    report_id: str
    reporter_id: str
    district: str
    category: str
    priority: str
    grid_id: str
    lat: float
    lon: float
    text: str
    filed_at: datetime
    status: WorkOrderStatus = WorkOrderStatus.FILED
    version: int = 1
    history: list[Transition] = field(default_factory=list)

    @classmethod
    def file(
        cls,
        *,
        work_order_id: str,
        report_id: str,
        reporter_id: str,
        district: str,
        category: str,
        priority: str,
        grid_id: str,
        lat: float,
        lon: float,
        text: str,
        at: datetime,
    ) -> WorkOrder:
        order = cls(
            id=work_order_id,
            report_id=report_id,
            reporter_id=reporter_id,
            district=district,
            category=category,
            priority=priority,
            grid_id=grid_id,
            lat=lat,
            lon=lon,
            text=text,
            filed_at=at,
        )
        order.history.append(
            Transition(
                None, WorkOrderStatus.FILED, "system", "auto-triage: in grid, known category", at
            )
        )
        return order
