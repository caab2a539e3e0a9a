"""The escalation scanner (督办) on an in-memory unit of work, with the time moved by hand: the
80 % warning, overdue, escalation to the street and then the district, three reworks or returns
to the district at once — each announced exactly once — and orders that wait for an assignee
dispatched as soon as somebody may take them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from common.contracts.workorder_events import (
    EscalationReason,
    WorkOrderDispatched,
    WorkOrderEscalated,
    WorkOrderOverdue,
    WorkOrderSlaWarning,
)
from dispatch.domain.calendar import SHANGHAI
from dispatch.domain.work_orders import Deadlines, WorkOrderState
from dispatch.service_layer import lifecycle, reference, scanner
from dispatch.service_layer.districts import ROSTER, DistrictRegistry
from dispatch.service_layer.lifecycle import Act, Action, Caller, CallerRole, Timing
from gridloop_tools.testing.dispatch import (
    EAST,
    WEST,
    YANZHOU,
    FakeDispatchDatabase,
    Triage,
    load_district,
    north_of,
    roster_document,
    worker,
)

TIMING = Timing(street_after=timedelta(hours=4), district_after=timedelta(hours=24))
SUPERVISOR = Caller("s-gulou", CallerRole.SUPERVISOR, [YANZHOU])
WORKER = Caller("w-west-1", CallerRole.GRID_WORKER, [YANZHOU], ["g-west"])
SECOND = timedelta(seconds=1)


class Scanner:
    """One scanner process; ``alerts`` holds the alert metric's labels."""

    def __init__(self, database: FakeDispatchDatabase, registry: DistrictRegistry) -> None:
        self.database = database
        self.registry = registry
        self.alerts: list[tuple[str, str, int]] = []

    async def __call__(self, now: datetime, *, batch: int = 200) -> int:
        return await scanner.scan(
            self.database.unit_of_work,
            self.registry,
            TIMING,
            now=now,
            batch=batch,
            on_alert=lambda *labels: self.alerts.append(labels),
        )


@pytest.fixture
def scan(database: FakeDispatchDatabase, registry: DistrictRegistry) -> Scanner:
    return Scanner(database, registry)


@pytest.fixture
async def clock(triage: Triage, database: FakeDispatchDatabase) -> Deadlines:
    """wo-1 dispatched to w-west-1: its deadlines."""
    await triage()
    deadlines = database.order("wo-1").deadlines
    assert deadlines is not None
    return deadlines


def announced(database: FakeDispatchDatabase) -> list[tuple[str, int]]:
    """The announcements so far: (kind, level) in order."""
    found = []
    for data, _, _ in database.events:
        if isinstance(data, WorkOrderSlaWarning | WorkOrderOverdue):
            found.append((data.event_type.rsplit(".", 1)[1], 0))
        elif isinstance(data, WorkOrderEscalated):
            found.append(("escalated", data.level))
    return found


async def act(
    database: FakeDispatchDatabase,
    registry: DistrictRegistry,
    action: Action,
    caller: Caller,
    note: str = "",
    *,
    passed: bool | None = None,
    at: datetime,
) -> None:
    command = Act("wo-1", caller, action, note, passed)
    await lifecycle.act(command, database.unit_of_work(), registry, now=lambda: at)


# --- the ladder -------------------------------------------------------------------------------


async def test_each_step_of_the_ladder_is_announced_once_when_it_is_due(
    clock: Deadlines, scan: Scanner, database: FakeDispatchDatabase
) -> None:
    steps = [
        (clock.warning_at - SECOND, []),
        (clock.warning_at, [("sla_warning", 0)]),
        (clock.handle_due - SECOND, []),
        (clock.handle_due, [("overdue", 0)]),
        (clock.handle_due + TIMING.street_after - SECOND, []),
        (clock.handle_due + TIMING.street_after, [("escalated", 1)]),
        (clock.handle_due + TIMING.district_after, [("escalated", 2)]),
        (clock.handle_due + timedelta(days=30), []),
    ]
    for now, expected in steps:
        before = len(announced(database))
        assert await scan(now) == len(expected), now
        assert await scan(now) == 0, now  # and never again
        assert announced(database)[before:] == expected, now

    warning, overdue, street, district = (d for d, _, _ in database.events[2:])
    assert isinstance(warning, WorkOrderSlaWarning) and warning.assignee_id == "w-west-1"
    assert isinstance(overdue, WorkOrderOverdue) and overdue.supervisor_ids == ["s-gulou"]
    assert isinstance(street, WorkOrderEscalated) and street.supervisor_ids == ["s-gulou"]
    assert isinstance(district, WorkOrderEscalated) and district.supervisor_ids == ["s-yanzhou"]
    assert street.reason is EscalationReason.OVERDUE
    assert [sequence for _, _, sequence in database.events] == [1, 2, 3, 4, 5, 6]
    order = database.order("wo-1")
    assert (order.warned, order.overdue, order.escalation_level) == (True, True, 2)


async def test_a_scanner_that_comes_late_announces_what_is_due_at_once_in_order(
    clock: Deadlines, scan: Scanner, database: FakeDispatchDatabase
) -> None:
    assert await scan(clock.handle_due + timedelta(days=2)) == 3
    assert announced(database) == [("overdue", 0), ("escalated", 1), ("escalated", 2)]
    assert [sequence for _, _, sequence in database.events[2:]] == [3, 4, 5]


async def test_each_announcement_is_counted_once_it_commits(
    clock: Deadlines, scan: Scanner
) -> None:
    await scan(clock.warning_at)
    await scan(clock.warning_at)
    await scan(clock.handle_due + timedelta(days=2))
    assert scan.alerts == [
        (YANZHOU, "sla_warning", 0),
        (YANZHOU, "overdue", 0),
        (YANZHOU, "escalated", 1),
        (YANZHOU, "escalated", 2),
    ]


async def test_a_resolved_order_waits_for_verification_without_alarms(
    clock: Deadlines, scan: Scanner, database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    await act(database, registry, Action.CLAIM, WORKER, at=clock.started_at)
    await act(database, registry, Action.RESOLVE, WORKER, "已处置", at=clock.started_at)
    assert await scan(clock.handle_due + timedelta(days=5)) == 0
    assert announced(database) == []


async def test_orders_with_nothing_due_do_not_crowd_out_the_others(
    triage: Triage, scan: Scanner, database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    """Two resolved orders past their deadline come first by id; a small batch must still
    reach the third, whose warning is due."""
    for n, at in enumerate([WEST, north_of(WEST, 200), EAST], start=1):
        await triage(f"rep-{n}", at=at)
    for work_order_id in ("wo-1", "wo-2"):
        order = database.order(work_order_id)
        assert order.assignee is not None
        caller = Caller(order.assignee.id, CallerRole.GRID_WORKER, [YANZHOU], ["g-west"])
        for action in (Action.CLAIM, Action.RESOLVE):
            command = Act(work_order_id, caller, action, "已处置")
            await lifecycle.act(command, database.unit_of_work(), registry)
    late = database.order("wo-1").deadlines
    assert late is not None
    database.state.orders["wo-3"].deadlines = replace(
        late,
        warning_at=late.warning_at + timedelta(days=1),
        handle_due=late.handle_due + timedelta(days=2),
    )

    assert await scan(late.handle_due + timedelta(days=1), batch=1) == 1
    assert announced(database) == [("sla_warning", 0)]
    assert database.event_types("wo-3")[-1] == "sla_warning"


# --- trouble ----------------------------------------------------------------------------------


async def test_a_third_rework_escalates_to_the_district_at_once(
    clock: Deadlines, scan: Scanner, database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    at = clock.started_at
    for attempt in range(3):
        assert await scan(at) == 0, attempt
        await act(database, registry, Action.CLAIM, WORKER, at=at)
        await act(database, registry, Action.RESOLVE, WORKER, "已处置", at=at)
        await act(database, registry, Action.VERIFY, SUPERVISOR, "不合格", passed=False, at=at)

    assert await scan(at) == 1
    assert await scan(at) == 0
    (escalated,) = database.events_of(WorkOrderEscalated)
    assert (escalated.level, escalated.reason) == (2, EscalationReason.TROUBLED)
    assert escalated.supervisor_ids == ["s-yanzhou"]
    assert scan.alerts == [(YANZHOU, "escalated", 2)]


async def test_a_third_return_escalates_to_the_district_at_once(
    clock: Deadlines, scan: Scanner, database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    at = clock.started_at
    for caller in (WORKER, Caller("w-west-2", CallerRole.GRID_WORKER, [YANZHOU]), SUPERVISOR):
        await act(database, registry, Action.RETURN, caller, "不归我", at=at)
    assert await scan(at) == 1
    assert announced(database) == [("escalated", 2)]


async def test_after_a_troubled_escalation_the_clock_still_warns_and_runs_out(
    clock: Deadlines, scan: Scanner, database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    at = clock.started_at
    for _ in range(3):
        await act(database, registry, Action.CLAIM, WORKER, at=at)
        await act(database, registry, Action.RESOLVE, WORKER, "已处置", at=at)
        await act(database, registry, Action.VERIFY, SUPERVISOR, "不合格", passed=False, at=at)
    await scan(at)
    deadlines = database.order("wo-1").deadlines
    assert deadlines is not None

    await scan(deadlines.warning_at)
    await scan(deadlines.handle_due)
    assert announced(database) == [("escalated", 2), ("sla_warning", 0), ("overdue", 0)]


async def test_a_new_clock_warns_again(
    clock: Deadlines, scan: Scanner, database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    await scan(clock.warning_at)
    await act(database, registry, Action.CLAIM, WORKER, at=clock.warning_at)
    await act(database, registry, Action.RESOLVE, WORKER, "已处置", at=clock.warning_at)
    await act(
        database, registry, Action.VERIFY, SUPERVISOR, "不合格", passed=False, at=clock.warning_at
    )
    rework = database.order("wo-1").deadlines
    assert rework is not None and rework.started_at == clock.warning_at

    await scan(rework.warning_at)
    assert announced(database) == [("sla_warning", 0), ("sla_warning", 0)]


# --- orders waiting for an assignee ----------------------------------------------------------


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


async def test_an_order_filed_before_the_roster_is_dispatched_once_it_is_loaded(
    database: FakeDispatchDatabase,
) -> None:
    """Loaded on the Friday afternoon before 清明 (2026-04-03 15:00), the roster lets the
    scanner dispatch the 4-working-hour order: due on Tuesday 10:00 by the demo calendar."""
    registry = DistrictRegistry()
    await load_district(database, registry, YANZHOU, kinds=["categories", "calendar"])
    await Triage(database, registry)()
    scan = Scanner(database, registry)
    assert await scan(local("2026-04-03 14:00")) == 0
    assert database.only_order().state is WorkOrderState.FILED

    await reference.load_document(
        YANZHOU, ROSTER, roster_document(YANZHOU), database.unit_of_work(), registry
    )
    friday = local("2026-04-03 15:00")
    assert await scan(friday) == 1
    assert await scan(friday) == 0

    order = database.only_order()
    assert (order.state, order.assignee and order.assignee.id) == (
        WorkOrderState.DISPATCHED,
        "w-west-1",
    )
    assert order.deadlines == Deadlines(
        started_at=friday,
        claim_due=local("2026-04-03 15:30"),
        warning_at=local("2026-04-07 09:12"),
        handle_due=local("2026-04-07 10:00"),
    )
    (dispatched,) = database.events_of(WorkOrderDispatched)
    assert (dispatched.redispatch, dispatched.handle_due) == (False, local("2026-04-07 10:00"))


async def test_a_returned_order_nobody_could_take_goes_to_someone_added_later(
    clock: Deadlines, scan: Scanner, database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    at = clock.started_at
    callers = [WORKER, Caller("w-west-2", CallerRole.GRID_WORKER, [YANZHOU]), SUPERVISOR]
    callers.append(Caller("s-yanzhou", CallerRole.SUPERVISOR, [YANZHOU]))
    for caller in callers:
        await act(database, registry, Action.RETURN, caller, "不归我", at=at)
    assert database.order("wo-1").state is WorkOrderState.RETURNED
    assert announced(database) == []

    roster = roster_document(YANZHOU)
    roster["grid_workers"].append(worker("w-west-3", "g-west"))
    await reference.load_document(YANZHOU, ROSTER, roster, database.unit_of_work(), registry)
    assert await scan(at + timedelta(minutes=5)) == 2

    order = database.order("wo-1")
    assert order.assignee is not None and order.assignee.id == "w-west-3"
    assert database.events_of(WorkOrderDispatched)[-1].redispatch
    assert announced(database) == [("escalated", 2)]
