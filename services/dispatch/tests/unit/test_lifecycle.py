"""The work order's life after 立案 in the service layer, on an in-memory unit of work: what
staff do (claim, resolve, return, verify, void, accept and reject after review) with the
events each announces, and what reporters ask through reporting (rate, reopen)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.contracts.base import EventData
from common.contracts.events import RejectionReason, ReportRejected, WorkOrderFiled
from common.contracts.workorder_events import (
    ReportRated,
    ReportReopenRequested,
    WorkOrderClosed,
    WorkOrderDispatched,
    WorkOrderRated,
    WorkOrderResolved,
    WorkOrderRework,
    WorkOrderVoided,
)
from common.messaging.ports import EventHandler, EventMeta
from dispatch.domain.assignment import deadlines_for
from dispatch.domain.work_orders import NotAllowed, WorkOrder, WorkOrderState
from dispatch.service_layer import lifecycle
from dispatch.service_layer.districts import DistrictRegistry
from dispatch.service_layer.lifecycle import (
    Act,
    Action,
    Caller,
    CallerRole,
    Timing,
    WorkOrderNotFound,
    on_reopen_requested_handler,
    on_report_rated_handler,
)
from dispatch.service_layer.unit_of_work import AbstractDispatchUnitOfWork
from gridloop_tools.testing.builders import as_event
from gridloop_tools.testing.dispatch import (
    WEST,
    YANZHOU,
    FakeDispatchDatabase,
    Triage,
    north_of,
)

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
SUPERVISOR = Caller("s-gulou", CallerRole.SUPERVISOR, [YANZHOU])


def worker(worker_id: str = "w-west-1") -> Caller:
    return Caller(worker_id, CallerRole.GRID_WORKER, [YANZHOU], ["g-west"])


class Desk:
    """Staff acting on work orders through :func:`lifecycle.act`, at a time the test sets."""

    def __init__(self, database: FakeDispatchDatabase, registry: DistrictRegistry) -> None:
        self.database = database
        self.registry = registry
        self.now = T0

    async def __call__(
        self,
        action: Action,
        caller: Caller,
        note: str = "",
        *,
        passed: bool | None = None,
        evidence: Sequence[str] = (),
        work_order_id: str = "wo-1",
    ) -> WorkOrder:
        command = Act(work_order_id, caller, action, note, passed, tuple(evidence))
        return await lifecycle.act(
            command, self.database.unit_of_work(), self.registry, now=lambda: self.now
        )

    async def resolved(self, caller: Caller | None = None) -> WorkOrder:
        caller = caller or worker()
        await self(Action.CLAIM, caller)
        return await self(Action.RESOLVE, caller, "已清理", evidence=["photo-1.jpg"])

    async def closed(self) -> WorkOrder:
        await self.resolved()
        return await self(Action.VERIFY, SUPERVISOR, passed=True)


@pytest.fixture
async def desk(database: FakeDispatchDatabase, registry: DistrictRegistry) -> Desk:
    return Desk(database, registry)


@pytest.fixture
async def filed(triage: Triage) -> None:
    """wo-1: a 0501 report in g-west, dispatched to w-west-1."""
    await triage()


def sequences(database: FakeDispatchDatabase) -> list[tuple[str, int]]:
    return [
        (data.event_type.rsplit(".", 1)[1], sequence)
        for data, subject, sequence in database.events
        if subject == "wo-1"
    ]


# --- staff ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("filed")
async def test_claimed_resolved_with_evidence_and_closed(
    desk: Desk, database: FakeDispatchDatabase
) -> None:
    await desk.resolved()
    desk.now = T0 + timedelta(hours=1)
    order = await desk(Action.VERIFY, SUPERVISOR, "现场核查合格", passed=True)

    assert (order.state, order.closed_at) == (WorkOrderState.CLOSED, desk.now)
    assert database.order("wo-1").state is WorkOrderState.CLOSED
    assert sequences(database) == [
        ("filed", 1),
        ("dispatched", 2),
        ("claimed", 3),
        ("resolved", 4),
        ("verified", 5),
        ("closed", 5),
    ]
    (resolved,) = database.events_of(WorkOrderResolved)
    assert (resolved.assignee_id, resolved.evidence) == ("w-west-1", ["photo-1.jpg"])
    assert order.history[3].evidence == ("photo-1.jpg",)
    (closed,) = database.events_of(WorkOrderClosed)
    assert (closed.closed_by, closed.report_ids) == ("s-gulou", ["rep-1"])


@pytest.mark.usefixtures("filed")
async def test_a_failed_verification_sends_it_back_on_a_new_clock(
    desk: Desk, database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    first = (await desk.resolved()).deadlines
    desk.now = T0 + timedelta(days=2)
    order = await desk(Action.VERIFY, SUPERVISOR, "仍有飞线", passed=False)

    assert (order.state, order.rework_count) == (WorkOrderState.REWORK, 1)
    category = registry.catalogue(YANZHOU).categories["0501"]
    assert order.deadlines == deadlines_for(category, registry.calendar(YANZHOU), desk.now)
    assert order.deadlines != first
    (rework,) = database.events_of(WorkOrderRework)
    assert (rework.rework_count, rework.handle_due) == (1, order.deadlines.handle_due)
    assert sequences(database)[-2:] == [("verified", 5), ("rework", 5)]

    order = await desk(Action.CLAIM, worker())
    assert order.state is WorkOrderState.CLAIMED


@pytest.mark.usefixtures("filed")
async def test_a_failed_verification_needs_a_reason(desk: Desk) -> None:
    await desk.resolved()
    with pytest.raises(lifecycle.WorkOrderError, match="why the verification failed"):
        await desk(Action.VERIFY, SUPERVISOR, "  ", passed=False)


@pytest.mark.usefixtures("filed")
async def test_a_returned_order_goes_to_someone_else_each_time(
    desk: Desk, database: FakeDispatchDatabase
) -> None:
    order = await desk(Action.RETURN, worker(), "不是本网格的问题")
    assert (order.state, order.assignee and order.assignee.id) == (
        WorkOrderState.DISPATCHED,
        "w-west-2",
    )
    await desk(Action.CLAIM, worker("w-west-2"))
    order = await desk(Action.RETURN, worker("w-west-2"), "需要执法")
    assert order.assignee is not None and order.assignee.id == "s-gulou"
    order = await desk(Action.RETURN, SUPERVISOR, "区级处理")
    assert order.assignee is not None and order.assignee.id == "s-yanzhou"
    assert order.returned_by == ("w-west-1", "w-west-2", "s-gulou")
    assert order.return_count == 3

    dispatched = database.events_of(WorkOrderDispatched)
    assert [(d.assignee_id, d.redispatch) for d in dispatched] == [
        ("w-west-1", False),
        ("w-west-2", True),
        ("s-gulou", True),
        ("s-yanzhou", True),
    ]
    assert sequences(database)[2:4] == [("returned", 3), ("dispatched", 4)]


@pytest.mark.usefixtures("filed")
async def test_an_order_nobody_else_may_take_stays_returned(
    desk: Desk, database: FakeDispatchDatabase
) -> None:
    for caller in (worker(), worker("w-west-2"), SUPERVISOR):
        await desk(Action.RETURN, caller, "不归我")
    supervisor = Caller("s-yanzhou", CallerRole.SUPERVISOR, [YANZHOU])
    order = await desk(Action.RETURN, supervisor, "不归我")
    assert (order.state, order.assignee) == (WorkOrderState.RETURNED, None)
    assert database.event_types("wo-1")[-1] == "returned"


@pytest.mark.usefixtures("filed")
async def test_a_supervisor_voids_an_open_order_with_the_reason(
    desk: Desk, database: FakeDispatchDatabase
) -> None:
    order = await desk(Action.VOID, SUPERVISOR, "虚假上报")
    assert (order.state, order.assignee) == (WorkOrderState.VOIDED, None)
    (voided,) = database.events_of(WorkOrderVoided)
    assert (voided.voided_by, voided.reason, voided.report_ids) == (
        "s-gulou",
        "虚假上报",
        ["rep-1"],
    )


async def test_accepted_after_review_it_is_filed_and_dispatched(
    triage: Triage, desk: Desk, database: FakeDispatchDatabase
) -> None:
    await triage(category="0701")
    order = await desk(Action.ACCEPT, SUPERVISOR)
    assert (order.state, order.assignee and order.assignee.id) == (
        WorkOrderState.DISPATCHED,
        "w-west-1",
    )
    assert sequences(database) == [("review_requested", 1), ("filed", 2), ("dispatched", 3)]
    (filed,) = database.events_of(WorkOrderFiled)
    assert filed.grid_name == "g-west 网格"


async def test_rejected_after_review_the_reporter_is_told_why(
    triage: Triage, desk: Desk, database: FakeDispatchDatabase
) -> None:
    await triage(category="0701")
    order = await desk(Action.REJECT, SUPERVISOR, "属于民事纠纷，建议诉讼")

    assert order.state is WorkOrderState.REJECTED
    (rejected,) = database.events_of(ReportRejected)
    assert (rejected.report_id, rejected.reporter_id) == ("rep-1", "rider-1")
    assert rejected.reason_code is RejectionReason.REJECTED_ON_REVIEW
    assert "属于民事纠纷" in rejected.reason
    assert database.state.rejections["rep-1"].district == YANZHOU
    assert await triage(category="0701") == "ignored"


@pytest.mark.usefixtures("filed")
@pytest.mark.parametrize(
    ("action", "caller"),
    [
        (Action.CLAIM, worker("w-west-2")),
        (Action.CLAIM, SUPERVISOR),
        (Action.VERIFY, worker()),
        (Action.VOID, Caller("admin-1", CallerRole.ADMIN, [YANZHOU])),
    ],
    ids=["another worker", "a supervisor who is not the assignee", "the worker", "an admin"],
)
async def test_a_refused_step_changes_nothing(
    desk: Desk, database: FakeDispatchDatabase, action: Action, caller: Caller
) -> None:
    before = (database.order("wo-1"), list(database.events))
    with pytest.raises(NotAllowed):
        await desk(action, caller, "x", passed=True)
    after = (database.order("wo-1"), list(database.events))
    assert (after[0].version, after[0].state, after[1]) == (
        before[0].version,
        before[0].state,
        before[1],
    )


@pytest.mark.usefixtures("filed")
@pytest.mark.parametrize(
    "caller",
    [
        Caller("s-rencheng", CallerRole.SUPERVISOR, ["370811"]),
        Caller("w-east", CallerRole.GRID_WORKER, [YANZHOU], ["g-east"]),
        Caller("370812-chengguan", CallerRole.DEPARTMENT, [YANZHOU]),
    ],
    ids=["a supervisor of another district", "a worker of another grid", "a department"],
)
async def test_an_order_the_caller_may_not_see_is_not_found(desk: Desk, caller: Caller) -> None:
    with pytest.raises(WorkOrderNotFound):
        await desk(Action.CLAIM, caller)


# --- reporters, through reporting ---------------------------------------------------------------


async def consume(
    database: FakeDispatchDatabase,
    handler: EventHandler[Any, AbstractDispatchUnitOfWork],
    data: EventData,
) -> str | None:
    uow = database.unit_of_work()
    async with uow:
        outcome = await handler(data, EventMeta.of(as_event(data, subject="rep-1")), uow)
        await uow.commit()
    return outcome


def rated(reporter: str = "rider-1", score: int = 4) -> ReportRated:
    return ReportRated(
        report_id="rep-1",
        reporter_id=reporter,
        work_order_id="wo-1",
        score=score,
        comment="处理及时",
        rated_at=T0 + timedelta(days=1),
    )


def reopen_requested(reporter: str = "rider-1", *, after: timedelta) -> ReportReopenRequested:
    return ReportReopenRequested(
        report_id="rep-1",
        reporter_id=reporter,
        work_order_id="wo-1",
        reason="飞线又拉上了",
        requested_at=T0 + after,
    )


@pytest.mark.usefixtures("filed")
async def test_a_reporter_rates_a_closed_order(
    desk: Desk, database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    await desk.closed()
    outcome = await consume(database, on_report_rated_handler(registry), rated(score=5))
    assert outcome == "processed"
    order = database.order("wo-1")
    assert (order.state, order.rating) == (WorkOrderState.RATED, 5)
    (event,) = database.events_of(WorkOrderRated)
    assert (event.rated_by, event.score, event.comment) == ("rider-1", 5, "处理及时")
    assert sequences(database)[-1] == ("rated", order.version)


@pytest.mark.usefixtures("filed")
async def test_a_rating_of_an_open_order_or_by_a_stranger_is_ignored(
    desk: Desk, database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    handler = on_report_rated_handler(registry)
    assert await consume(database, handler, rated()) == "ignored"
    await desk.closed()
    assert await consume(database, handler, rated("rider-9")) == "ignored"
    assert database.order("wo-1").state is WorkOrderState.CLOSED


@pytest.mark.usefixtures("filed")
async def test_a_merged_reporter_may_rate_too(
    triage: Triage, desk: Desk, database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    await triage("rep-2", reporter="rider-2", at=north_of(WEST, 10))
    await desk.closed()
    assert await consume(database, on_report_rated_handler(registry), rated("rider-2")) == (
        "processed"
    )


@pytest.mark.usefixtures("filed")
async def test_a_reopening_within_the_window_dispatches_the_order_again(
    desk: Desk, database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    await desk.closed()
    handler = on_reopen_requested_handler(registry, Timing(reopen_window=timedelta(days=7)))
    started = datetime.now(UTC)
    request = reopen_requested(after=timedelta(days=7) - timedelta(minutes=1))
    assert await consume(database, handler, request) == "processed"

    order = database.order("wo-1")
    assert (order.state, order.reopen_count) == (WorkOrderState.DISPATCHED, 1)
    assert order.deadlines is not None and order.deadlines.started_at >= started
    assert database.event_types("wo-1")[-2:] == ["reopened", "dispatched"]
    assert database.events_of(WorkOrderDispatched)[-1].redispatch


@pytest.mark.usefixtures("filed")
@pytest.mark.parametrize(
    ("reporter", "after"),
    [("rider-1", timedelta(days=7, minutes=1)), ("rider-9", timedelta(hours=1))],
    ids=["outside the window", "not a reporter of the order"],
)
async def test_a_reopening_that_may_not_be_is_ignored(
    desk: Desk,
    database: FakeDispatchDatabase,
    registry: DistrictRegistry,
    reporter: str,
    after: timedelta,
) -> None:
    await desk.closed()
    events = len(database.events)
    handler = on_reopen_requested_handler(registry, Timing(reopen_window=timedelta(days=7)))
    assert await consume(database, handler, reopen_requested(reporter, after=after)) == "ignored"
    assert database.order("wo-1").state is WorkOrderState.CLOSED
    assert len(database.events) == events


async def test_reporter_events_of_an_unknown_order_are_ignored(
    database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    assert await consume(database, on_report_rated_handler(registry), rated()) == "ignored"
    handler = on_reopen_requested_handler(registry, Timing())
    assert await consume(database, handler, reopen_requested(after=timedelta(0))) == "ignored"
