"""The work order's life as a state machine: every reachable state, every illegal transition
refused (property-based), who may act, and the escalation ladder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from dispatch.domain.work_orders import (
    OPEN_STATES,
    TRANSITIONS,
    Action,
    Actor,
    ActorRole,
    AlertKind,
    Assignee,
    AssigneeKind,
    Deadlines,
    IllegalTransition,
    NotAllowed,
    WorkOrder,
    WorkOrderError,
    WorkOrderState,
)

T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
WORKER = Assignee(AssigneeKind.GRID_WORKER, "w-1", "张网格员")
OTHER_WORKER = Assignee(AssigneeKind.GRID_WORKER, "w-2", "李网格员")
AS_WORKER = Actor("w-1", ActorRole.ASSIGNEE)
SUPERVISOR = Actor("s-1", ActorRole.SUPERVISOR)
REPORTER = Actor("rider-1", ActorRole.REPORTER)


def deadlines(start: datetime = T0) -> Deadlines:
    return Deadlines(
        started_at=start,
        claim_due=start + timedelta(minutes=30),
        warning_at=start + timedelta(hours=3, minutes=12),
        handle_due=start + timedelta(hours=4),
    )


def order(*, needs_review: bool = False) -> WorkOrder:
    return WorkOrder.file(
        work_order_id="wo-1",
        district="370812",
        report_id="rep-1",
        reporter_id="rider-1",
        category="0501",
        category_group="05",
        priority="urgent",
        grid_id="g-1",
        street="鼓楼街道",
        lat=35.55,
        lon=116.83,
        text="飞线充电",
        at=T0,
        needs_review=needs_review,
    )


def dispatched() -> WorkOrder:
    wo = order()
    wo.dispatch(WORKER, deadlines(), at=T0)
    return wo


def test_filing_then_dispatching_starts_the_clock_with_the_assignee() -> None:
    wo = dispatched()
    assert wo.state is WorkOrderState.DISPATCHED
    assert wo.assignee == WORKER
    assert wo.version == 2
    assert [step.to_state for step in wo.history] == ["filed", "dispatched"]


def test_the_whole_life_with_a_failed_verification() -> None:
    wo = dispatched()
    wo.claim(AS_WORKER, at=T0 + timedelta(minutes=5))
    wo.resolve(AS_WORKER, at=T0 + timedelta(hours=1), note="已清理", evidence=["photo-1"])
    wo.verify(SUPERVISOR, at=T0 + timedelta(hours=2), passed=False, note="仍有杂物")
    assert (wo.state, wo.rework_count) == (WorkOrderState.REWORK, 1)
    wo.claim(AS_WORKER, at=T0 + timedelta(hours=3))
    wo.resolve(AS_WORKER, at=T0 + timedelta(hours=4), note="已全部清理")
    wo.verify(SUPERVISOR, at=T0 + timedelta(hours=5), passed=True)
    assert wo.state is WorkOrderState.CLOSED and wo.closed_at == T0 + timedelta(hours=5)
    wo.rate(REPORTER, at=T0 + timedelta(days=1), score=5)
    assert (wo.state, wo.rating) == (WorkOrderState.RATED, 5)
    assert wo.history[3].evidence == ("photo-1",)
    verifications = 2  # each announced as the verdict and what follows it
    assert wo.version == len(wo.history) + verifications


def test_a_returned_order_never_goes_back_to_who_returned_it() -> None:
    wo = dispatched()
    wo.return_(AS_WORKER, at=T0, reason="不属于本网格")
    assert wo.state is WorkOrderState.RETURNED and wo.assignee is None
    with pytest.raises(WorkOrderError, match="returned this work order"):
        wo.dispatch(WORKER, deadlines(), at=T0)
    wo.dispatch(OTHER_WORKER, deadlines(), at=T0)
    assert wo.assignee == OTHER_WORKER


def test_only_the_assignee_acts_as_assignee() -> None:
    wo = dispatched()
    with pytest.raises(NotAllowed, match="only the assignee"):
        wo.claim(Actor("w-2", ActorRole.ASSIGNEE), at=T0)
    with pytest.raises(NotAllowed, match="supervisor may not claim"):
        wo.claim(SUPERVISOR, at=T0)
    assert wo.state is WorkOrderState.DISPATCHED and wo.version == 2


def test_an_illegal_transition_names_the_current_state_and_changes_nothing() -> None:
    wo = dispatched()
    with pytest.raises(IllegalTransition, match="dispatched") as caught:
        wo.verify(SUPERVISOR, at=T0, passed=True)
    assert caught.value.state is WorkOrderState.DISPATCHED
    assert wo.version == 2 and len(wo.history) == 2


def test_reopening_is_for_reporters_within_the_window() -> None:
    wo = dispatched()
    wo.claim(AS_WORKER, at=T0)
    wo.resolve(AS_WORKER, at=T0, note="done")
    wo.verify(SUPERVISOR, at=T0, passed=True)
    with pytest.raises(NotAllowed, match="only a reporter"):
        wo.reopen(Actor("rider-9", ActorRole.REPORTER), at=T0, reason="x", window=timedelta(days=7))
    with pytest.raises(IllegalTransition, match="within 7 days"):
        wo.reopen(REPORTER, at=T0 + timedelta(days=8), reason="又堆了", window=timedelta(days=7))
    wo.reopen(REPORTER, at=T0 + timedelta(days=6), reason="又堆了", window=timedelta(days=7))
    assert wo.state is WorkOrderState.REOPENED and wo.reopen_count == 1


def test_merged_reporters_follow_the_order() -> None:
    wo = dispatched()
    wo.attach("rep-2", "rider-2", at=T0)
    wo.attach("rep-2", "rider-2", at=T0)  # the same report twice: no change
    wo.attach("rep-3", "rider-1", at=T0)
    assert wo.reporters == ["rider-1", "rider-2"]
    assert wo.version == 4


def test_reasons_are_required_where_they_explain_something() -> None:
    wo = dispatched()
    for attempt in (
        lambda: wo.return_(AS_WORKER, at=T0, reason=" "),
        lambda: wo.void(SUPERVISOR, at=T0, reason=""),
    ):
        with pytest.raises(WorkOrderError, match="give"):
            attempt()


def test_ratings_are_one_to_five() -> None:
    wo = dispatched()
    wo.claim(AS_WORKER, at=T0)
    wo.resolve(AS_WORKER, at=T0, note="ok")
    wo.verify(SUPERVISOR, at=T0, passed=True)
    with pytest.raises(WorkOrderError, match="1 to 5"):
        wo.rate(REPORTER, at=T0, score=6)


def test_review_accepts_or_rejects_before_dispatch() -> None:
    pending = order(needs_review=True)
    assert pending.state is WorkOrderState.PENDING_REVIEW
    pending.accept(SUPERVISOR, at=T0)
    assert pending.state is WorkOrderState.FILED
    refused = order(needs_review=True)
    refused.reject(SUPERVISOR, at=T0, reason="照片与问题不符")
    assert refused.state is WorkOrderState.REJECTED and not refused.state.is_open


# --- 督办 -----------------------------------------------------------------------------------------

STREET, DISTRICT = timedelta(hours=4), timedelta(days=1)


def kinds(wo: WorkOrder, now: datetime) -> list[tuple[str, int]]:
    return [
        (a.kind.value, a.level)
        for a in wo.due_alerts(now, street_after=STREET, district_after=DISTRICT)
    ]


def test_the_escalation_ladder_fires_each_step_once() -> None:
    wo = dispatched()
    assert kinds(wo, T0 + timedelta(hours=3)) == []
    warning = wo.due_alerts(
        T0 + timedelta(hours=3, minutes=12), street_after=STREET, district_after=DISTRICT
    )
    assert [a.kind for a in warning] == [AlertKind.WARNING]
    wo.announce(warning[0])
    assert kinds(wo, T0 + timedelta(hours=3, minutes=30)) == []
    assert kinds(wo, T0 + timedelta(hours=4)) == [("overdue", 0)]
    late = T0 + timedelta(days=2)
    alerts = wo.due_alerts(late, street_after=STREET, district_after=DISTRICT)
    assert [(a.kind.value, a.level) for a in alerts] == [
        ("overdue", 0),
        ("escalated", 1),
        ("escalated", 2),
    ]
    for alert in alerts:
        wo.announce(alert)
    assert kinds(wo, late + timedelta(days=5)) == []
    assert wo.escalation_level == 2


def test_a_resolved_order_waits_for_verification_without_alarms() -> None:
    wo = dispatched()
    wo.claim(AS_WORKER, at=T0)
    wo.resolve(AS_WORKER, at=T0, note="ok")
    assert kinds(wo, T0 + timedelta(days=3)) == []


def test_three_reworks_escalate_to_the_district() -> None:
    wo = dispatched()
    for _ in range(3):
        wo.claim(AS_WORKER, at=T0)
        wo.resolve(AS_WORKER, at=T0, note="ok")
        wo.verify(SUPERVISOR, at=T0, passed=False, note="不合格")
    alert = wo.troubled_escalation()
    assert alert is not None and (alert.kind, alert.level) == (AlertKind.ESCALATED, 2)
    wo.announce(alert)
    assert wo.troubled_escalation() is None


# --- every state, every illegal transition (property-based) ----------------------------------

ACTORS = {
    ActorRole.ASSIGNEE: AS_WORKER,
    ActorRole.SUPERVISOR: SUPERVISOR,
    ActorRole.REPORTER: REPORTER,
}


def attempt(wo: WorkOrder, action: Action, actor: Actor, assignee: Assignee) -> None:
    at = T0
    if action is Action.ACCEPT:
        wo.accept(actor, at=at)
    elif action is Action.REJECT:
        wo.reject(actor, at=at, reason="不符合立案条件")
    elif action is Action.DISPATCH:
        wo.dispatch(assignee, deadlines(), at=at)
    elif action is Action.CLAIM:
        wo.claim(actor, at=at)
    elif action is Action.RESOLVE:
        wo.resolve(actor, at=at, note="已处置")
    elif action is Action.VERIFY:
        wo.verify(actor, at=at, passed=True)
    elif action is Action.RETURN:
        wo.return_(actor, at=at, reason="非本网格")
    elif action is Action.REOPEN:
        wo.reopen(actor, at=at, reason="未解决", window=timedelta(days=7))
    elif action is Action.RATE:
        wo.rate(actor, at=at, score=4)
    elif action is Action.WITHDRAW:
        wo.void_withdrawn(actor, at=at, reason="上报人已撤回")
    else:
        wo.void(actor, at=at, reason="虚假上报")


_W = WorkOrderState
WITH_ASSIGNEE = {_W.DISPATCHED, _W.CLAIMED, _W.RESOLVED, _W.REWORK}
WITHOUT_ASSIGNEE = {_W.RETURNED, _W.REOPENED, _W.VOIDED}


class WorkOrderLife(RuleBasedStateMachine):
    """Random sequences of actions by random actors: legal ones move the order exactly as the
    transition table says, illegal ones are refused and change nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.wo = order(needs_review=False)
        self.assignees = iter(
            [
                WORKER,
                OTHER_WORKER,
                *(Assignee(AssigneeKind.DEPARTMENT, f"d-{n}", "城管") for n in range(50)),
            ]
        )
        self.seen: set[WorkOrderState] = {self.wo.state}
        self.verifications = 0

    @rule(action=st.sampled_from(list(Action)), role=st.sampled_from([*ACTORS, ActorRole.SYSTEM]))
    def act(self, action: Action, role: ActorRole) -> None:
        wo = self.wo
        if action is Action.DISPATCH:
            role = ActorRole.SYSTEM  # WorkOrder.dispatch takes no actor: the system dispatches
        before = (wo.state, wo.version, len(wo.history))
        actor = ACTORS.get(role) or Actor("system", ActorRole.SYSTEM)
        if role is ActorRole.ASSIGNEE and wo.assignee is not None:
            actor = Actor(wo.assignee.id, ActorRole.ASSIGNEE)
        allowed_from, allowed_roles = TRANSITIONS[action]
        legal = wo.state in allowed_from and role in allowed_roles
        if action in {Action.CLAIM, Action.RESOLVE, Action.RETURN} and wo.assignee is None:
            legal = False
        try:
            attempt(wo, action, actor, next(self.assignees))
        except WorkOrderError:
            assert not legal or action is Action.DISPATCH, (action, role, before)
            assert (wo.state, wo.version, len(wo.history)) == before
            return
        assert legal, (action, role, before[0])
        events = 2 if action is Action.VERIFY else 1  # the verdict, then closing or rework
        self.verifications += action is Action.VERIFY
        assert wo.version == before[1] + events and len(wo.history) == before[2] + 1
        assert wo.history[-1].from_state == before[0] and wo.history[-1].to_state == wo.state
        self.seen.add(wo.state)

    @invariant()
    def open_orders_have_an_assignee_exactly_when_dispatched(self) -> None:
        if self.wo.state in {
            WorkOrderState.DISPATCHED,
            WorkOrderState.CLAIMED,
            WorkOrderState.RESOLVED,
            WorkOrderState.REWORK,
        }:
            assert self.wo.assignee is not None
        if self.wo.state in {
            WorkOrderState.RETURNED,
            WorkOrderState.REOPENED,
            WorkOrderState.VOIDED,
        }:
            assert self.wo.assignee is None

    @invariant()
    def version_counts_the_announced_events(self) -> None:
        assert self.wo.version == len(self.wo.history) + self.verifications


TestWorkOrderLife = WorkOrderLife.TestCase
TestWorkOrderLife.settings = settings(max_examples=300, stateful_step_count=30, deadline=None)


def test_every_state_is_reachable() -> None:
    reached: set[WorkOrderState] = set()
    for path in (
        [],
        ["dispatch"],
        ["dispatch", "claim"],
        ["dispatch", "claim", "resolve"],
        ["dispatch", "claim", "resolve", "fail"],
        ["dispatch", "return"],
        ["dispatch", "claim", "resolve", "pass"],
        ["dispatch", "claim", "resolve", "pass", "reopen"],
        ["dispatch", "claim", "resolve", "pass", "rate"],
        ["dispatch", "void"],
    ):
        wo = order()
        for step in path:
            if step == "dispatch":
                wo.dispatch(WORKER, deadlines(), at=T0)
            elif step == "claim":
                wo.claim(AS_WORKER, at=T0)
            elif step == "resolve":
                wo.resolve(AS_WORKER, at=T0, note="ok")
            elif step == "fail":
                wo.verify(SUPERVISOR, at=T0, passed=False, note="不合格")
            elif step == "pass":
                wo.verify(SUPERVISOR, at=T0, passed=True)
            elif step == "return":
                wo.return_(AS_WORKER, at=T0, reason="非本网格")
            elif step == "reopen":
                wo.reopen(REPORTER, at=T0, reason="未解决", window=timedelta(days=7))
            elif step == "rate":
                wo.rate(REPORTER, at=T0, score=5)
            else:
                wo.void(SUPERVISOR, at=T0, reason="虚假")
        reached.add(wo.state)
    reviewed = order(needs_review=True)
    reached.add(reviewed.state)
    reviewed.reject(SUPERVISOR, at=T0, reason="不符")
    reached.add(reviewed.state)
    assert reached == set(WorkOrderState)
    assert set(WorkOrderState) > OPEN_STATES
