"""Work orders (工单) and their life after 立案, after the national 数字城管 workflow, pure.

States and who moves an order between them (docs/workflow.md draws the whole diagram)::

    pending_review  --accept (supervisor)--> filed | --reject--> rejected
    filed, returned, reopened  --dispatch (system)--> dispatched
    dispatched, rework  --claim (assignee)--> claimed
    claimed  --resolve (assignee)--> resolved
    resolved  --verify passed (supervisor)--> closed | failed --> rework
    dispatched, claimed  --return (assignee)--> returned
    closed  --reopen (reporter, within the window)--> reopened | --rate (reporter)--> rated
    any open state  --void (supervisor)--> voided
    pending_review, filed, dispatched  --withdraw (its only reporter, 撤回)--> voided

Every transition checks who may do it and from which state, appends a history row (who, when,
why, evidence) and bumps the order's ``version`` — the ``sequence`` of the event it becomes.
An illegal transition raises :class:`IllegalTransition` naming the current state; nothing
changes then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum


class WorkOrderState(StrEnum):
    PENDING_REVIEW = "pending_review"  # 待核实
    FILED = "filed"  # 已立案
    DISPATCHED = "dispatched"  # 已派遣(待签收)
    CLAIMED = "claimed"  # 已签收(处置中)
    RESOLVED = "resolved"  # 已处置(待核查)
    REWORK = "rework"  # 返工
    RETURNED = "returned"  # 回退(待改派)
    CLOSED = "closed"  # 已结案
    REOPENED = "reopened"  # 发回重办
    RATED = "rated"  # 已评价
    VOIDED = "voided"  # 已作废
    REJECTED = "rejected"  # 不予立案(核实未通过)

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATES


OPEN_STATES = frozenset(
    {
        WorkOrderState.PENDING_REVIEW,
        WorkOrderState.FILED,
        WorkOrderState.DISPATCHED,
        WorkOrderState.CLAIMED,
        WorkOrderState.RESOLVED,
        WorkOrderState.REWORK,
        WorkOrderState.RETURNED,
        WorkOrderState.REOPENED,
    }
)

WAITING_STATES = frozenset({WorkOrderState.FILED, WorkOrderState.RETURNED, WorkOrderState.REOPENED})
"""Open orders without an assignee: the system dispatches them (again)."""

CLOCKED_STATES = OPEN_STATES - {WorkOrderState.RESOLVED, WorkOrderState.PENDING_REVIEW}
"""Open states in which the handling clock runs: a resolved order waits for verification and
one waiting for review has no clock yet."""

TROUBLED_AFTER = 3
"""Reworks, returns or reopenings that escalate an order to the district at once (提级督办)."""

STATE_LABELS = {
    WorkOrderState.PENDING_REVIEW: "待核实",
    WorkOrderState.FILED: "已立案",
    WorkOrderState.DISPATCHED: "已派遣",
    WorkOrderState.CLAIMED: "处置中",
    WorkOrderState.RESOLVED: "已处置，待核查",
    WorkOrderState.REWORK: "返工",
    WorkOrderState.RETURNED: "已回退，待改派",
    WorkOrderState.CLOSED: "已结案",
    WorkOrderState.REOPENED: "发回重办",
    WorkOrderState.RATED: "已评价",
    WorkOrderState.VOIDED: "已作废",
    WorkOrderState.REJECTED: "不予立案",
}


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    DISPATCH = "dispatch"
    CLAIM = "claim"
    RESOLVE = "resolve"
    VERIFY = "verify"
    RETURN = "return"
    REOPEN = "reopen"
    RATE = "rate"
    VOID = "void"
    WITHDRAW = "withdraw"
    """Its only reporter withdrew the report (撤回): the order is voided."""


class ActorRole(StrEnum):
    """Who acts on an order, as the domain sees them (the token's role, or the system)."""

    SYSTEM = "system"
    REPORTER = "reporter"
    ASSIGNEE = "assignee"
    SUPERVISOR = "supervisor"


_S = WorkOrderState
WITHDRAWABLE_STATES = _WITHDRAWABLE = frozenset({_S.PENDING_REVIEW, _S.FILED, _S.DISPATCHED})
"""States in which nobody has claimed the order yet: its only reporter's withdrawal (撤回) of
the report voids it."""

TRANSITIONS: dict[Action, tuple[frozenset[WorkOrderState], frozenset[ActorRole]]] = {
    Action.ACCEPT: (frozenset({_S.PENDING_REVIEW}), frozenset({ActorRole.SUPERVISOR})),
    Action.REJECT: (frozenset({_S.PENDING_REVIEW}), frozenset({ActorRole.SUPERVISOR})),
    Action.DISPATCH: (
        frozenset({_S.FILED, _S.RETURNED, _S.REOPENED}),
        frozenset({ActorRole.SYSTEM}),
    ),
    Action.CLAIM: (frozenset({_S.DISPATCHED, _S.REWORK}), frozenset({ActorRole.ASSIGNEE})),
    Action.RESOLVE: (frozenset({_S.CLAIMED}), frozenset({ActorRole.ASSIGNEE})),
    Action.VERIFY: (frozenset({_S.RESOLVED}), frozenset({ActorRole.SUPERVISOR})),
    Action.RETURN: (frozenset({_S.DISPATCHED, _S.CLAIMED}), frozenset({ActorRole.ASSIGNEE})),
    Action.REOPEN: (frozenset({_S.CLOSED}), frozenset({ActorRole.REPORTER})),
    Action.RATE: (frozenset({_S.CLOSED}), frozenset({ActorRole.REPORTER})),
    Action.VOID: (OPEN_STATES, frozenset({ActorRole.SUPERVISOR})),
    Action.WITHDRAW: (_WITHDRAWABLE, frozenset({ActorRole.REPORTER})),
}
"""For each action: the states it may start from and who may take it."""


class WorkOrderError(Exception):
    """A request the work order refuses; the message is shown to the caller."""


class IllegalTransition(WorkOrderError):
    def __init__(self, action: Action, state: WorkOrderState, *, why: str | None = None) -> None:
        self.action = action
        self.state = state
        detail = (
            why
            or f"a work order that is {state.value} ({STATE_LABELS[state]}) cannot {action.value}"
        )
        super().__init__(detail)


class NotAllowed(WorkOrderError):
    """The actor may not take this action on this order (wrong role or not theirs)."""


class AssigneeKind(StrEnum):
    GRID_WORKER = "grid_worker"
    DEPARTMENT = "department"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class Assignee:
    kind: AssigneeKind
    id: str
    name: str


@dataclass(frozen=True)
class Actor:
    id: str
    role: ActorRole


SYSTEM = Actor("system", ActorRole.SYSTEM)


@dataclass(frozen=True)
class Transition:
    """One history row: who moved the work order where, when and why."""

    from_state: WorkOrderState | None
    to_state: WorkOrderState
    action: str
    actor: str
    actor_role: str
    reason: str
    at: datetime
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class Deadlines:
    """The clock of the current assignment: claim and handling deadlines, the 80 % warning."""

    started_at: datetime
    claim_due: datetime
    warning_at: datetime
    handle_due: datetime


@dataclass(frozen=True)
class AttachedReport:
    """A report merged into this order (并单); its reporter follows the order."""

    report_id: str
    reporter_id: str
    attached_at: datetime
    distance_m: float = 0.0
    detached_at: datetime | None = None
    """When its reporter withdrew it (撤回): it no longer follows the order."""

    @property
    def following(self) -> bool:
        return self.detached_at is None


@dataclass
class WorkOrder:
    id: str
    district: str
    report_id: str
    reporter_id: str
    category: str
    category_group: str
    priority: str
    grid_id: str
    street: str
    lat: float
    lon: float
    text: str
    filed_at: datetime
    state: WorkOrderState = WorkOrderState.FILED
    version: int = 1
    assignee: Assignee | None = None
    returned_by: tuple[str, ...] = ()
    """Assignees who returned this order: never assigned it again."""
    deadlines: Deadlines | None = None
    rework_count: int = 0
    return_count: int = 0
    reopen_count: int = 0
    escalation_level: int = 0
    warned: bool = False
    overdue: bool = False
    closed_at: datetime | None = None
    rating: int | None = None
    attached: list[AttachedReport] = field(default_factory=list)
    history: list[Transition] = field(default_factory=list)

    # --- creation ---------------------------------------------------------------------------

    @classmethod
    def file(
        cls,
        *,
        work_order_id: str,
        district: str,
        report_id: str,
        reporter_id: str,
        category: str,
        category_group: str,
        priority: str,
        grid_id: str,
        street: str,
        lat: float,
        lon: float,
        text: str,
        at: datetime,
        needs_review: bool = False,
    ) -> WorkOrder:
        state = WorkOrderState.PENDING_REVIEW if needs_review else WorkOrderState.FILED
        order = cls(
            id=work_order_id,
            district=district,
            report_id=report_id,
            reporter_id=reporter_id,
            category=category,
            category_group=category_group,
            priority=priority,
            grid_id=grid_id,
            street=street,
            lat=lat,
            lon=lon,
            text=text,
            filed_at=at,
            state=state,
        )
        reason = (
            "needs review by a street supervisor" if needs_review else "in a grid, known category"
        )
        order.history.append(
            Transition(None, state, "file", SYSTEM.id, SYSTEM.role.value, reason, at)
        )
        return order

    # --- who is involved --------------------------------------------------------------------

    @property
    def merged_reports(self) -> list[AttachedReport]:
        """The reports merged in (并单) that still follow the order (not withdrawn)."""
        return [report for report in self.attached if report.following]

    @property
    def report_ids(self) -> list[str]:
        return [self.report_id, *(r.report_id for r in self.merged_reports)]

    @property
    def reporters(self) -> list[str]:
        """The original reporter and every reporter merged in (and not withdrawn), each once,
        in order."""
        seen = [self.reporter_id]
        for report in self.merged_reports:
            if report.reporter_id not in seen:
                seen.append(report.reporter_id)
        return seen

    def is_assignee(self, actor_id: str) -> bool:
        return self.assignee is not None and self.assignee.id == actor_id

    # --- transitions ------------------------------------------------------------------------

    def accept(self, actor: Actor, *, at: datetime, reason: str = "") -> None:
        self._move(Action.ACCEPT, WorkOrderState.FILED, actor, at, reason or "核实通过，予以立案")

    def reject(self, actor: Actor, *, at: datetime, reason: str) -> None:
        _require_reason(reason, Action.REJECT)
        self._move(Action.REJECT, WorkOrderState.REJECTED, actor, at, reason)

    def dispatch(
        self, assignee: Assignee, deadlines: Deadlines, *, at: datetime, reason: str = ""
    ) -> None:
        if assignee.id in self.returned_by:
            raise WorkOrderError(f"{assignee.id} returned this work order; assign someone else")
        why = reason or f"派往 {assignee.name}"
        self._move(Action.DISPATCH, WorkOrderState.DISPATCHED, SYSTEM, at, why)
        self.assignee = assignee
        self.deadlines = deadlines
        self.warned = False
        self.overdue = False

    def claim(self, actor: Actor, *, at: datetime) -> None:
        self._require_assignee(actor, Action.CLAIM)
        self._move(Action.CLAIM, WorkOrderState.CLAIMED, actor, at, "签收")

    def resolve(
        self, actor: Actor, *, at: datetime, note: str, evidence: Sequence[str] = ()
    ) -> None:
        self._require_assignee(actor, Action.RESOLVE)
        _require_reason(note, Action.RESOLVE, what="a note on what was done")
        self._move(
            Action.RESOLVE, WorkOrderState.RESOLVED, actor, at, note, evidence=tuple(evidence)
        )

    def verify(self, actor: Actor, *, at: datetime, passed: bool, note: str = "") -> None:
        """核查: closes the order, or sends it back for rework. Announced as two events (the
        verdict, then the closing or the rework), so the version moves on twice."""
        if passed:
            self._move(Action.VERIFY, WorkOrderState.CLOSED, actor, at, note or "核查通过，结案")
            self.closed_at = at
        else:
            _require_reason(note, Action.VERIFY, what="why the verification failed")
            self._move(Action.VERIFY, WorkOrderState.REWORK, actor, at, note)
            self.rework_count += 1
        self.version += 1

    def rework_deadlines(self, deadlines: Deadlines) -> None:
        """A reworked order gets a new clock (the handling limit starts again)."""
        if self.state is not WorkOrderState.REWORK:
            raise IllegalTransition(
                Action.CLAIM, self.state, why="only a reworked order restarts its clock"
            )
        self.deadlines = deadlines
        self.warned = False
        self.overdue = False

    def return_(self, actor: Actor, *, at: datetime, reason: str) -> None:
        """回退: the assignee says the order is not theirs; it waits to be dispatched again."""
        self._require_assignee(actor, Action.RETURN)
        _require_reason(reason, Action.RETURN)
        self._move(Action.RETURN, WorkOrderState.RETURNED, actor, at, reason)
        self.returned_by = (*self.returned_by, actor.id)
        self.return_count += 1
        self.assignee = None

    def reopen(self, actor: Actor, *, at: datetime, reason: str, window: timedelta) -> None:
        """发回重办 by a reporter of the order, within ``window`` of the closing."""
        self._require_reporter(actor, Action.REOPEN)
        _require_reason(reason, Action.REOPEN)
        closed_at = self.closed_at
        if self.state is WorkOrderState.CLOSED and closed_at and at - closed_at > window:
            raise IllegalTransition(
                Action.REOPEN,
                self.state,
                why=f"a closed order may be reopened within {_describe(window)} of closing",
            )
        self._move(Action.REOPEN, WorkOrderState.REOPENED, actor, at, reason)
        self.reopen_count += 1
        self.assignee = None

    def rate(self, actor: Actor, *, at: datetime, score: int, comment: str = "") -> None:
        self._require_reporter(actor, Action.RATE)
        if not 1 <= score <= 5:
            raise WorkOrderError("a rating is a whole number from 1 to 5")
        self._move(Action.RATE, WorkOrderState.RATED, actor, at, comment or f"{score} 分")
        self.rating = score

    def void(self, actor: Actor, *, at: datetime, reason: str) -> None:
        _require_reason(reason, Action.VOID)
        self._move(Action.VOID, WorkOrderState.VOIDED, actor, at, reason)
        self.assignee = None

    def void_withdrawn(self, actor: Actor, *, at: datetime, reason: str) -> None:
        """作废 because the order's only reporter withdrew the report (撤回) before anyone
        claimed it."""
        if actor.role is ActorRole.REPORTER and actor.id != self.reporter_id:
            raise NotAllowed("only the order's own reporter withdraws it")
        if self.merged_reports:
            raise NotAllowed("other reports were merged into this order: it goes on for them")
        self._move(Action.WITHDRAW, WorkOrderState.VOIDED, actor, at, reason)
        self.assignee = None

    def detach(self, report_id: str, *, at: datetime) -> bool:
        """A report merged into this order (并单) was withdrawn: its reporter no longer follows
        the order. False if it is not a merged report of this order, or was detached already.
        Nothing is announced (the order's next events simply no longer name the reporter), so
        the version stays."""
        for index, report in enumerate(self.attached):
            if report.report_id == report_id and report.following:
                self.attached[index] = replace(report, detached_at=at)
                return True
        return False

    def attach(
        self, report_id: str, reporter_id: str, *, at: datetime, distance_m: float = 0.0
    ) -> None:
        """并单: a duplicate report joins this open order (its version moves on)."""
        if not self.state.is_open:
            raise IllegalTransition(
                Action.DISPATCH, self.state, why="only an open order takes a merged report"
            )
        if report_id == self.report_id or any(r.report_id == report_id for r in self.attached):
            return
        self.attached.append(AttachedReport(report_id, reporter_id, at, distance_m))
        self.version += 1

    # --- time limits and 督办 -----------------------------------------------------------------

    def due_alerts(
        self, now: datetime, *, street_after: timedelta, district_after: timedelta
    ) -> list[Alert]:
        """What the escalation scanner must announce now, each at most once per assignment:
        the 80 % warning, overdue, then escalation to the street and to the district."""
        if self.state not in CLOCKED_STATES or self.deadlines is None:
            return []
        alerts: list[Alert] = []
        deadlines = self.deadlines
        if not self.warned and now >= deadlines.warning_at and now < deadlines.handle_due:
            alerts.append(Alert(AlertKind.WARNING, 0, deadlines.handle_due))
        if not self.overdue and now >= deadlines.handle_due:
            alerts.append(Alert(AlertKind.OVERDUE, 0, deadlines.handle_due))
        level = self.escalation_level
        if now >= deadlines.handle_due + street_after and level < 1:
            level = 1
            alerts.append(Alert(AlertKind.ESCALATED, 1, deadlines.handle_due))
        if now >= deadlines.handle_due + district_after and level < 2:
            alerts.append(Alert(AlertKind.ESCALATED, 2, deadlines.handle_due))
        return alerts

    def troubled_escalation(self) -> Alert | None:
        """Three reworks, returns or reopenings escalate to the district at once (提级督办)."""
        if self.escalation_level >= 2 or not self.state.is_open:
            return None
        if max(self.rework_count, self.return_count, self.reopen_count) >= TROUBLED_AFTER:
            due = self.deadlines.handle_due if self.deadlines else None
            return Alert(AlertKind.ESCALATED, 2, due, troubled=True)
        return None

    def announce(self, alert: Alert) -> None:
        """Record that ``alert`` was emitted (so it never is again for this assignment)."""
        if alert.kind is AlertKind.WARNING:
            self.warned = True
        elif alert.kind is AlertKind.OVERDUE:
            self.overdue = True
        else:
            self.escalation_level = max(self.escalation_level, alert.level)
        self.version += 1

    # --- internals ---------------------------------------------------------------------------

    def _move(
        self,
        action: Action,
        to: WorkOrderState,
        actor: Actor,
        at: datetime,
        reason: str,
        *,
        evidence: tuple[str, ...] = (),
    ) -> None:
        allowed_from, allowed_roles = TRANSITIONS[action]
        if actor.role not in allowed_roles:
            raise NotAllowed(f"a {actor.role.value} may not {action.value} a work order")
        if self.state not in allowed_from:
            raise IllegalTransition(action, self.state)
        self.history.append(
            Transition(
                self.state, to, action.value, actor.id, actor.role.value, reason, at, evidence
            )
        )
        self.state = to
        self.version += 1

    def _require_assignee(self, actor: Actor, action: Action) -> None:
        if actor.role is ActorRole.ASSIGNEE and not self.is_assignee(actor.id):
            raise NotAllowed(f"only the assignee of this work order may {action.value} it")

    def _require_reporter(self, actor: Actor, action: Action) -> None:
        if actor.role is ActorRole.REPORTER and actor.id not in self.reporters:
            raise NotAllowed(f"only a reporter of this work order may {action.value} it")


class AlertKind(StrEnum):
    WARNING = "sla_warning"
    OVERDUE = "overdue"
    ESCALATED = "escalated"


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    level: int
    """0 for the warning and overdue; 1 the street, 2 the district."""
    due: datetime | None
    troubled: bool = False
    """An escalation for repeated reworks, returns or reopenings, not for time."""


def _require_reason(text: str, action: Action, *, what: str = "a reason") -> None:
    if not text.strip():
        raise WorkOrderError(f"to {action.value} a work order, give {what}")


def _describe(window: timedelta) -> str:
    days = window / timedelta(days=1)
    return f"{days:g} days" if days >= 1 else f"{window / timedelta(hours=1):g} hours"


def with_assignee(order: WorkOrder, assignee: Assignee) -> WorkOrder:
    """A copy of ``order`` with ``assignee`` (for previews; transitions mutate in place)."""
    return replace(order, assignee=assignee)
