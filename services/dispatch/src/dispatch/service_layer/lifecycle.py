"""The work order's life after 立案: what staff do over HTTP (claim, resolve, return, verify,
void, accept or reject after review) and what reporters ask through reporting (rate, reopen).
Every step checks the caller's role and scope and the order's state, writes the order with its
new history row and announces the transition, in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import structlog

from common.contracts.events import ReportSubmitted
from common.contracts.workorder_events import ReportRated, ReportReopenRequested
from common.messaging.ports import EventHandler, EventMeta, HandlerOutcome
from dispatch.domain.assignment import deadlines_for
from dispatch.domain.triage import REASON_TEXT, Rejected, RejectionCode
from dispatch.domain.work_orders import (
    Actor,
    ActorRole,
    NotAllowed,
    WorkOrder,
    WorkOrderError,
)
from dispatch.service_layer.announce import Announcer
from dispatch.service_layer.dispatching import dispatch_order
from dispatch.service_layer.districts import DistrictRegistry
from dispatch.service_layer.triage import reject
from dispatch.service_layer.unit_of_work import AbstractDispatchUnitOfWork

_log = structlog.get_logger("gridloop.dispatch")


class CallerRole(StrEnum):
    GRID_WORKER = "grid_worker"
    DEPARTMENT = "department"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    SERVICE = "service"
    RIDER = "rider"


STAFF_OVERSIGHT = frozenset({CallerRole.SUPERVISOR, CallerRole.ADMIN, CallerRole.SERVICE})


@dataclass(frozen=True)
class Caller:
    """Who asks, as the token says: their id, role, the districts and grids they cover."""

    id: str
    role: CallerRole
    districts: Sequence[str]
    grids: Sequence[str] = ()

    def sees(self, order: WorkOrder) -> bool:
        if order.district not in self.districts:
            return False
        if self.role in STAFF_OVERSIGHT:
            return True
        if order.is_assignee(self.id):
            return True
        return self.role is CallerRole.GRID_WORKER and order.grid_id in self.grids


class WorkOrderNotFound(LookupError):
    """No such order, or none the caller may see (the two are not told apart)."""


class Action(StrEnum):
    CLAIM = "claim"
    RESOLVE = "resolve"
    RETURN = "return"
    VERIFY = "verify"
    VOID = "void"
    ACCEPT = "accept"
    REJECT = "reject"


@dataclass(frozen=True)
class Act:
    """Command: ``caller`` takes ``action`` on a work order."""

    work_order_id: str
    caller: Caller
    action: Action
    note: str = ""
    passed: bool | None = None
    evidence: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Timing:
    """How long a closed order may be reopened, and when overdue orders climb the ladder."""

    reopen_window: timedelta = timedelta(days=7)
    street_after: timedelta = timedelta(hours=4)
    district_after: timedelta = timedelta(days=1)


ASSIGNEE_ACTIONS = frozenset({Action.CLAIM, Action.RESOLVE, Action.RETURN})


async def act(
    command: Act,
    uow: AbstractDispatchUnitOfWork,
    registry: DistrictRegistry,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> WorkOrder:
    """Carry out ``command``; raises :class:`WorkOrderNotFound`, or a
    :class:`~dispatch.domain.work_orders.WorkOrderError` the caller should see."""
    async with uow:
        order = await uow.work_orders.get(command.work_order_id, for_update=True)
        if order is None or not command.caller.sees(order):
            raise WorkOrderNotFound(command.work_order_id)
        at = now()
        history = len(order.history)
        announcer = Announcer(uow, registry)
        actor = _actor(command, order)
        await _apply(command, order, actor, at, uow, registry, announcer)
        await uow.work_orders.save(order, history_before=history)
        await uow.commit()
    _log.info(
        "workorder.moved",
        work_order_id=order.id,
        action=command.action.value,
        state=order.state.value,
        by=command.caller.id,
    )
    return order


def _actor(command: Act, order: WorkOrder) -> Actor:
    caller = command.caller
    if command.action in ASSIGNEE_ACTIONS:
        if not order.is_assignee(caller.id):
            raise _not_yours(order, command.action)
        return Actor(caller.id, ActorRole.ASSIGNEE)
    if caller.role is not CallerRole.SUPERVISOR:
        raise NotAllowed(f"only a supervisor may {command.action.value} a work order")
    return Actor(caller.id, ActorRole.SUPERVISOR)


def _not_yours(order: WorkOrder, action: Action) -> WorkOrderError:
    who = order.assignee.name if order.assignee else "nobody yet"
    return NotAllowed(f"only the assignee ({who}) may {action.value} this work order")


async def _apply(
    command: Act,
    order: WorkOrder,
    actor: Actor,
    at: datetime,
    uow: AbstractDispatchUnitOfWork,
    registry: DistrictRegistry,
    announcer: Announcer,
) -> None:
    action = command.action
    if action is Action.CLAIM:
        order.claim(actor, at=at)
        await announcer.claimed(order, at)
    elif action is Action.RESOLVE:
        order.resolve(actor, at=at, note=command.note, evidence=command.evidence)
        await announcer.resolved(order, at, command.note, list(command.evidence))
    elif action is Action.RETURN:
        order.return_(actor, at=at, reason=command.note)
        await announcer.returned(order, at, actor.id, command.note)
        await dispatch_order(order, registry, uow, announcer, at, redispatch=True)
    elif action is Action.VERIFY:
        if command.passed is None:
            raise WorkOrderError("say whether the verification passed")
        order.verify(actor, at=at, passed=command.passed, note=command.note)
        if not command.passed:
            _restart_clock(order, registry, at)
        await announcer.verified(order, at, passed=command.passed, note=command.note, by=actor.id)
    elif action is Action.VOID:
        order.void(actor, at=at, reason=command.note)
        await announcer.voided(order, at, actor.id, command.note)
    elif action is Action.ACCEPT:
        order.accept(actor, at=at, reason=command.note)
        grid = registry.grids[order.district].get(order.grid_id)
        if grid is None:
            raise WorkOrderError(f"grid {order.grid_id} is no longer in the registry")
        await announcer.filed(order, grid)
        await dispatch_order(order, registry, uow, announcer, at, redispatch=False)
    elif action is Action.REJECT:
        order.reject(actor, at=at, reason=command.note)
        decision = Rejected(
            RejectionCode.REJECTED_ON_REVIEW,
            REASON_TEXT[RejectionCode.REJECTED_ON_REVIEW].format(reason=command.note),
            order.district,
        )
        # Every report in the order is refused: the original and those merged into it (并单).
        reports = [(order.report_id, order.reporter_id)]
        reports += [(merged.report_id, merged.reporter_id) for merged in order.merged_reports]
        for report_id, reporter_id in reports:
            await reject(_as_report(order, report_id, reporter_id), decision, uow, at)


def _restart_clock(order: WorkOrder, registry: DistrictRegistry, at: datetime) -> None:
    category = registry.catalogue(order.district).find(order.category)
    if category is not None:
        order.rework_deadlines(deadlines_for(category, registry.calendar(order.district), at))


def _as_report(order: WorkOrder, report_id: str, reporter_id: str) -> ReportSubmitted:
    return ReportSubmitted(
        report_id=report_id,
        reporter_id=reporter_id,
        category=order.category,
        lat=order.lat,
        lon=order.lon,
        text=order.text,
        submitted_at=order.filed_at,
    )


# --- what reporters ask through reporting --------------------------------------------------------


def on_report_rated_handler(
    registry: DistrictRegistry,
) -> EventHandler[ReportRated, AbstractDispatchUnitOfWork]:
    async def on_report_rated(
        rated: ReportRated, meta: EventMeta, uow: AbstractDispatchUnitOfWork
    ) -> HandlerOutcome:
        found = await _reporters_step(
            uow,
            rated.work_order_id,
            lambda order: order.rate(
                Actor(rated.reporter_id, ActorRole.REPORTER),
                at=rated.rated_at,
                score=rated.score,
                comment=rated.comment,
            ),
            refused_as="workorder.rating_refused",
        )
        if found is None:
            return "ignored"
        order, history = found
        await uow.work_orders.save(order, history_before=history)
        await Announcer(uow, registry).rated(
            order, rated.rated_at, rated.reporter_id, rated.score, rated.comment
        )
        return "processed"

    return on_report_rated


def on_reopen_requested_handler(
    registry: DistrictRegistry, timing: Timing
) -> EventHandler[ReportReopenRequested, AbstractDispatchUnitOfWork]:
    async def on_reopen_requested(
        request: ReportReopenRequested, meta: EventMeta, uow: AbstractDispatchUnitOfWork
    ) -> HandlerOutcome:
        found = await _reporters_step(
            uow,
            request.work_order_id,
            lambda order: order.reopen(
                Actor(request.reporter_id, ActorRole.REPORTER),
                at=request.requested_at,
                reason=request.reason,
                window=timing.reopen_window,
            ),
            refused_as="workorder.reopen_refused",
        )
        if found is None:
            return "ignored"
        order, history = found
        announcer = Announcer(uow, registry)
        await announcer.reopened(order, request.requested_at, request.reporter_id, request.reason)
        await dispatch_order(order, registry, uow, announcer, datetime.now(UTC), redispatch=True)
        await uow.work_orders.save(order, history_before=history)
        return "processed"

    return on_reopen_requested


async def _reporters_step(
    uow: AbstractDispatchUnitOfWork,
    work_order_id: str,
    step: Callable[[WorkOrder], None],
    *,
    refused_as: str,
) -> tuple[WorkOrder, int] | None:
    """A reporter's step (rating, reopening) taken on the order, locked; with the length of its
    history before it. None, logged, if the order is unknown or its state refuses the step:
    the reporter's request came through reporting's checks, so a refusal here is a race."""
    order = await uow.work_orders.get(work_order_id, for_update=True)
    if order is None:
        _log.warning("workorder.unknown", work_order_id=work_order_id)
        return None
    history = len(order.history)
    try:
        step(order)
    except WorkOrderError as refused:
        _log.warning(refused_as, work_order_id=order.id, why=str(refused))
        return None
    return order, history
