"""A reporter withdrew their report (撤回, ``gridloop.report.withdrawn``): void the report's
order, detach the report from the case it was merged into, or let a claimed case go on — as
:mod:`dispatch.domain.withdrawal` decides. Every outcome is logged and counted once the
transaction commits; applying the same withdrawal again changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from common.contracts.workorder_events import ReportWithdrawn, VoidReason
from common.messaging.ports import EventHandler, EventMeta, HandlerOutcome
from dispatch.domain.withdrawal import WithdrawalOutcome, withdrawal_outcome
from dispatch.domain.work_orders import Actor, ActorRole, WorkOrder
from dispatch.service_layer.announce import Announcer
from dispatch.service_layer.districts import DistrictRegistry
from dispatch.service_layer.unit_of_work import AbstractDispatchUnitOfWork

_log = structlog.get_logger("gridloop.dispatch")

WithdrawalCounter = Callable[[str], None]
"""(outcome) — counted once the transaction commits."""

WITHDRAWN_REASON = "上报人已撤回"


def on_report_withdrawn_handler(
    registry: DistrictRegistry,
    on_withdrawal: WithdrawalCounter = lambda outcome: None,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> EventHandler[ReportWithdrawn, AbstractDispatchUnitOfWork]:
    async def on_report_withdrawn(
        withdrawn: ReportWithdrawn, meta: EventMeta, uow: AbstractDispatchUnitOfWork
    ) -> HandlerOutcome:
        order = await _order_of(withdrawn.report_id, uow)
        if order is None:
            triaged = await uow.work_orders.already_triaged(withdrawn.report_id)
            outcome = WithdrawalOutcome.REJECTED_ALREADY if triaged else WithdrawalOutcome.UNKNOWN
        else:
            outcome = withdrawal_outcome(order, withdrawn.report_id, withdrawn.reporter_id)
        if outcome is WithdrawalOutcome.ALREADY:
            return "stale"
        at = now()
        if order is not None and outcome is WithdrawalOutcome.VOIDED:
            await _void(order, withdrawn, at, uow, registry)
        elif order is not None and outcome is WithdrawalOutcome.DETACHED:
            order.detach(withdrawn.report_id, at=at)
            await uow.work_orders.save(order, history_before=len(order.history))
        _log.info(
            "report.withdrawal_applied",
            report_id=withdrawn.report_id,
            work_order_id=order.id if order else None,
            state=order.state.value if order else None,
            outcome=outcome.value,
        )
        uow.after_commit(lambda: on_withdrawal(outcome.value))
        return "processed"

    return on_report_withdrawn


async def _order_of(report_id: str, uow: AbstractDispatchUnitOfWork) -> WorkOrder | None:
    """The order the report was filed as or merged into, locked."""
    found = await uow.work_orders.by_report(report_id)
    if found is None:
        return None
    return await uow.work_orders.get(found.id, for_update=True)


async def _void(
    order: WorkOrder,
    withdrawn: ReportWithdrawn,
    at: datetime,
    uow: AbstractDispatchUnitOfWork,
    registry: DistrictRegistry,
) -> None:
    reason = f"{WITHDRAWN_REASON}：{withdrawn.reason}" if withdrawn.reason else WITHDRAWN_REASON
    history = len(order.history)
    order.void_withdrawn(Actor(withdrawn.reporter_id, ActorRole.REPORTER), at=at, reason=reason)
    await uow.work_orders.save(order, history_before=history)
    await Announcer(uow, registry).voided(
        order, at, withdrawn.reporter_id, reason, VoidReason.WITHDRAWN_BY_REPORTER
    )
