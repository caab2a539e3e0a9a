"""The escalation scanner (督办): one active per database, it announces each order's 80 %
warning, its overdue, its escalations to the street and the district — each exactly once,
the flag written in the same transaction as the event — and dispatches orders that wait for
an assignee (filed before the district had a roster, returned, reopened)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

import structlog

from dispatch.domain.work_orders import (
    WAITING_STATES,
    Alert,
    AlertKind,
    WorkOrder,
    WorkOrderState,
)
from dispatch.service_layer.announce import Announcer
from dispatch.service_layer.dispatching import dispatch_order
from dispatch.service_layer.districts import DistrictRegistry
from dispatch.service_layer.lifecycle import Timing
from dispatch.service_layer.unit_of_work import AbstractDispatchUnitOfWork

_log = structlog.get_logger("gridloop.dispatch")

AlertCounter = Callable[[str, str, int], None]
"""(district, alert kind, level) — counted once the announcement commits."""


async def scan(
    unit_of_work: Callable[[], AbstractDispatchUnitOfWork],
    registry: DistrictRegistry,
    timing: Timing,
    *,
    now: datetime | None = None,
    batch: int = 200,
    on_alert: AlertCounter = lambda district, kind, level: None,
) -> int:
    """One pass over every order with something due, ``batch`` at a time; returns how many
    announcements (and dispatches) it made."""
    moment = now or datetime.now(UTC)
    made = 0
    after: str | None = None
    while True:
        async with unit_of_work() as uow:
            due = await uow.work_orders.due_for_scan(
                moment,
                street_after=timing.street_after,
                district_after=timing.district_after,
                after=after,
                limit=batch,
            )
        for work_order_id in due:
            made += await _scan_one(
                work_order_id, unit_of_work(), registry, timing, moment, on_alert
            )
        if len(due) < batch:
            return made
        after = due[-1]


async def _scan_one(
    work_order_id: str,
    uow: AbstractDispatchUnitOfWork,
    registry: DistrictRegistry,
    timing: Timing,
    now: datetime,
    on_alert: AlertCounter,
) -> int:
    async with uow:
        order = await uow.work_orders.get(work_order_id, for_update=True)
        if order is None:
            return 0
        history = len(order.history)
        announcer = Announcer(uow, registry)
        made = 0
        if order.state in WAITING_STATES:
            redispatch = order.state is not WorkOrderState.FILED
            if await dispatch_order(order, registry, uow, announcer, now, redispatch=redispatch):
                made += 1
        for alert in _due(order, now, timing):
            order.announce(alert)
            await announcer.alert(order, alert, now, _supervisors(order, alert, registry))
            uow.after_commit(partial(on_alert, order.district, alert.kind.value, alert.level))
            made += 1
        if made:
            await uow.work_orders.save(order, history_before=history)
            await uow.commit()
            _log.info("workorder.scanned", work_order_id=order.id, announcements=made)
        return made


def _due(order: WorkOrder, now: datetime, timing: Timing) -> list[Alert]:
    alerts = order.due_alerts(
        now, street_after=timing.street_after, district_after=timing.district_after
    )
    troubled = order.troubled_escalation()
    if troubled is not None and not any(
        a.kind is AlertKind.ESCALATED and a.level >= 2 for a in alerts
    ):
        alerts.append(troubled)
    return alerts


def _supervisors(order: WorkOrder, alert: Alert, registry: DistrictRegistry) -> list[str]:
    roster = registry.roster(order.district)
    if roster is None or alert.kind is AlertKind.WARNING:
        return []
    if alert.kind is AlertKind.ESCALATED and alert.level >= 2:
        return [s.id for s in roster.district_supervisors()]
    return [s.id for s in roster.street_supervisors(order.street)]
