"""What the rest of the city hears of a work order: the contract event of each transition,
written to the outbox with the order's id as key, its version as ``sequence`` and its district
as the envelope's ``district``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from common.contracts.base import EventData
from common.contracts.events import WorkOrderFiled
from common.contracts.workorder_events import (
    AssigneeKind,
    EscalationReason,
    VoidReason,
    WorkOrderClaimed,
    WorkOrderClosed,
    WorkOrderDispatched,
    WorkOrderEscalated,
    WorkOrderMerged,
    WorkOrderOverdue,
    WorkOrderRated,
    WorkOrderReopened,
    WorkOrderResolved,
    WorkOrderReturned,
    WorkOrderReviewRequested,
    WorkOrderRework,
    WorkOrderSlaWarning,
    WorkOrderVerified,
    WorkOrderVoided,
)
from common.messaging.ports import AbstractUnitOfWork
from dispatch.domain.grids import Grid
from dispatch.domain.work_orders import Alert, AlertKind, WorkOrder
from dispatch.service_layer.districts import DistrictRegistry


class Announcer:
    """Builds and queues the events of one order's transitions, in one unit of work."""

    def __init__(self, uow: AbstractUnitOfWork, registry: DistrictRegistry) -> None:
        self._uow = uow
        self._registry = registry

    async def emit(
        self,
        order: WorkOrder,
        event: type[EventData],
        *,
        sequence: int | None = None,
        **fields: Any,
    ) -> None:
        data = event(**{**self._common(order), **fields})
        await self._uow.outbox.add(
            data,
            subject=order.id,
            sequence=order.version if sequence is None else sequence,
            district=order.district,
        )

    def _common(self, order: WorkOrder) -> dict[str, Any]:
        return {
            "work_order_id": order.id,
            "report_id": order.report_id,
            "reporter_ids": order.reporters,
            "category": order.category,
            "category_name": self._registry.category_name(order.district, order.category),
            "grid_id": order.grid_id,
            "street": order.street,
        }

    async def filed(self, order: WorkOrder, grid: Grid) -> None:
        await self._uow.outbox.add(
            WorkOrderFiled(
                work_order_id=order.id,
                report_id=order.report_id,
                reporter_id=order.reporter_id,
                category=order.category,
                category_name=self._registry.category_name(order.district, order.category),
                priority=order.priority,
                grid_id=grid.grid_id,
                grid_name=grid.name,
                community=grid.community,
                street=grid.street,
                lat=order.lat,
                lon=order.lon,
                filed_at=order.filed_at,
            ),
            subject=order.id,
            sequence=order.version,
            district=order.district,
        )

    async def review_requested(self, order: WorkOrder, supervisor_ids: list[str]) -> None:
        await self.emit(
            order,
            WorkOrderReviewRequested,
            supervisor_ids=supervisor_ids,
            requested_at=order.filed_at,
        )

    async def dispatched(self, order: WorkOrder, at: datetime, *, redispatch: bool) -> None:
        assignee, deadlines = order.assignee, order.deadlines
        assert assignee is not None and deadlines is not None, "announce a dispatched order"
        await self.emit(
            order,
            WorkOrderDispatched,
            assignee_kind=AssigneeKind(assignee.kind.value),
            assignee_id=assignee.id,
            assignee_name=assignee.name,
            claim_due=deadlines.claim_due,
            handle_due=deadlines.handle_due,
            redispatch=redispatch,
            dispatched_at=at,
        )

    async def claimed(self, order: WorkOrder, at: datetime) -> None:
        await self.emit(order, WorkOrderClaimed, assignee_id=_assignee(order), claimed_at=at)

    async def resolved(
        self, order: WorkOrder, at: datetime, note: str, evidence: list[str]
    ) -> None:
        await self.emit(
            order,
            WorkOrderResolved,
            assignee_id=_assignee(order),
            note=note,
            evidence=evidence,
            resolved_at=at,
        )

    async def verified(
        self, order: WorkOrder, at: datetime, *, passed: bool, note: str, by: str
    ) -> None:
        # The verdict and what follows it (closing, or rework) are two events: the order's
        # version moved on twice (WorkOrder.verify).
        await self.emit(
            order,
            WorkOrderVerified,
            sequence=order.version - 1,
            passed=passed,
            note=note,
            verified_by=by,
            verified_at=at,
        )
        if passed:
            handle_due = order.deadlines.handle_due if order.deadlines else None
            await self.emit(
                order,
                WorkOrderClosed,
                report_ids=order.report_ids,
                closed_by=by,
                on_time=handle_due is None or at <= handle_due,
                closed_at=at,
            )
            return
        assert order.deadlines is not None, "a reworked order has a clock"
        await self.emit(
            order,
            WorkOrderRework,
            assignee_id=_assignee(order),
            note=note,
            rework_count=order.rework_count,
            handle_due=order.deadlines.handle_due,
            reworked_at=at,
        )

    async def returned(self, order: WorkOrder, at: datetime, by: str, reason: str) -> None:
        await self.emit(order, WorkOrderReturned, returned_by=by, reason=reason, returned_at=at)

    async def reopened(self, order: WorkOrder, at: datetime, by: str, reason: str) -> None:
        await self.emit(order, WorkOrderReopened, reopened_by=by, reason=reason, reopened_at=at)

    async def voided(
        self,
        order: WorkOrder,
        at: datetime,
        by: str,
        reason: str,
        reason_code: VoidReason | None = None,
    ) -> None:
        await self.emit(
            order,
            WorkOrderVoided,
            report_ids=order.report_ids,
            voided_by=by,
            reason=reason,
            reason_code=reason_code,
            voided_at=at,
        )

    async def rated(
        self, order: WorkOrder, at: datetime, by: str, score: int, comment: str
    ) -> None:
        await self.emit(
            order, WorkOrderRated, rated_by=by, score=score, comment=comment, rated_at=at
        )

    async def merged(
        self, order: WorkOrder, at: datetime, report_id: str, reporter_id: str, distance_m: float
    ) -> None:
        await self.emit(
            order,
            WorkOrderMerged,
            merged_report_id=report_id,
            merged_reporter_id=reporter_id,
            distance_m=round(distance_m, 1),
            merged_at=at,
        )

    async def alert(
        self, order: WorkOrder, alert: Alert, at: datetime, supervisors: list[str]
    ) -> None:
        assignee_id = order.assignee.id if order.assignee else None
        if alert.kind is AlertKind.WARNING:
            await self.emit(
                order,
                WorkOrderSlaWarning,
                assignee_id=assignee_id,
                handle_due=alert.due,
                warned_at=at,
            )
        elif alert.kind is AlertKind.OVERDUE:
            await self.emit(
                order,
                WorkOrderOverdue,
                assignee_id=assignee_id,
                handle_due=alert.due,
                supervisor_ids=supervisors,
                overdue_at=at,
            )
        else:
            await self.emit(
                order,
                WorkOrderEscalated,
                level=alert.level,
                reason=EscalationReason.TROUBLED if alert.troubled else EscalationReason.OVERDUE,
                supervisor_ids=supervisors,
                handle_due=order.deadlines.handle_due if order.deadlines else None,
                escalated_at=at,
            )


def _assignee(order: WorkOrder) -> str:
    if order.assignee is None:
        raise ValueError(f"work order {order.id} has no assignee")
    return order.assignee.id
