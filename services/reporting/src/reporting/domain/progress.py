"""The steps of a work order as its reporters follow them, one per work-order event, and the
timeline each report keeps of them.

A work order's events carry one rising ``sequence`` each (from the order's version; a
verification is two events, the verdict and then the closing or rework, each with its own): a
report keeps the last sequence it applied and ignores any it has seen or passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Step(StrEnum):
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    PENDING_REVIEW = "pending_review"
    FILED = "filed"
    DISPATCHED = "dispatched"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    VERIFIED = "verified"
    REWORK = "rework"
    RETURNED = "returned"
    CLOSED = "closed"
    REOPENED = "reopened"
    RATED = "rated"
    VOIDED = "voided"
    MERGED = "merged"
    SLA_WARNING = "sla_warning"
    OVERDUE = "overdue"
    ESCALATED = "escalated"
    POINTS_AWARDED = "points_awarded"
    POINTS_CAPPED = "points_capped"
    POINTS_REVERSED = "points_reversed"
    WITHDRAWN = "withdrawn"


STEP_LABELS: dict[Step, str] = {
    Step.SUBMITTED: "已上报",
    Step.REJECTED: "不予立案",
    Step.PENDING_REVIEW: "待核实",
    Step.FILED: "已立案",
    Step.DISPATCHED: "已派遣",
    Step.CLAIMED: "已签收，处置中",
    Step.RESOLVED: "已处置，待核查",
    Step.VERIFIED: "已核查",
    Step.REWORK: "返工",
    Step.RETURNED: "已回退，待改派",
    Step.CLOSED: "已结案",
    Step.REOPENED: "发回重办",
    Step.RATED: "已评价",
    Step.VOIDED: "已作废",
    Step.MERGED: "已并单",
    Step.OVERDUE: "已超时",
    Step.ESCALATED: "已督办",
    Step.POINTS_AWARDED: "获得积分",
    Step.POINTS_CAPPED: "积分已达当日上限",
    Step.POINTS_REVERSED: "积分收回",
    Step.WITHDRAWN: "撤回",
}
"""The timeline's words for each step. The 80 % warning is the assignee's business and makes
no timeline row."""

STATE_STEPS = frozenset(
    {
        Step.PENDING_REVIEW,
        Step.FILED,
        Step.DISPATCHED,
        Step.CLAIMED,
        Step.RESOLVED,
        Step.REWORK,
        Step.RETURNED,
        Step.CLOSED,
        Step.REOPENED,
        Step.RATED,
        Step.VOIDED,
    }
)
"""The steps after which the work order is in the state of the same name (verified, the
time-limit alerts and a merge leave it as it was)."""


@dataclass(frozen=True)
class TimelineEntry:
    """One row of a report's timeline."""

    report_id: str
    step: str
    label: str
    at: datetime
    work_order_id: str | None = None
    detail: str | None = None
    key: str | None = None
    """The business fact of a row no work-order sequence orders (the points of one transfer):
    a report keeps at most one row per key, so the fact told again adds nothing."""
    photos: tuple[str, ...] = ()
    """Photos of the step (the grid worker's evidence of a resolution), by id."""


@dataclass(frozen=True)
class Progress:
    """One step of a work order, as one of its events tells it."""

    step: Step
    work_order_id: str
    sequence: int
    at: datetime
    detail: str | None = None
    label: str | None = None
    """Instead of the step's usual words (e.g. 核查未通过)."""
    order_state: str | None = None
    """The order's state after the step when the step itself does not say (a merge)."""
    deadline: datetime | None = None
    """The handling deadline of the order's current assignment, if the event names it."""
    grid_id: str | None = None
    grid_name: str | None = None
    category_name: str | None = None
    photo_ids: tuple[str, ...] = ()
    """Photos the event names (a resolution's evidence), as uploaded to reporting."""

    @property
    def state_after(self) -> str | None:
        if self.order_state is not None:
            return self.order_state
        return self.step.value if self.step in STATE_STEPS else None

    def follows(self, last_sequence: int) -> bool:
        """Whether this step is newer than the one a report last applied of the same order."""
        return self.sequence > last_sequence

    def entry(self, report_id: str) -> TimelineEntry | None:
        """The report's timeline row of this step (None for a step reporters do not see)."""
        label = self.label or STEP_LABELS.get(self.step)
        if label is None:
            return None
        return TimelineEntry(
            report_id=report_id,
            step=self.step.value,
            label=label,
            at=self.at,
            work_order_id=self.work_order_id,
            detail=self.detail,
            photos=self.photo_ids,
        )


POINT_RULES = {
    "report_accepted": "上报被立案",
    "corroboration": "并单佐证",
    "closure_bonus": "工单结案奖励",
    "rating": "评价奖励",
}
"""What each of the ledger's rules pays for, in the reporter's words."""


def points_row(
    step: Step,
    report_id: str,
    *,
    key: str,
    at: datetime,
    work_order_id: str | None,
    detail: str,
) -> TimelineEntry:
    """The timeline row of one points fact of a report (paid, held back by the cap, taken
    back), keyed by that fact."""
    return TimelineEntry(report_id, step.value, STEP_LABELS[step], at, work_order_id, detail, key)


def paid_words(amount: int, rule: str) -> str:
    return f"+{amount} 积分（{POINT_RULES.get(rule, rule)}）"


def capped_words(rule: str, withheld: int, daily_cap: int) -> str:
    return f"{POINT_RULES.get(rule, rule)}：{withheld} 积分未计入（每日上限 {daily_cap}）"


def reversed_words(amount: int, shortfall: int) -> str:
    spent = f"，其中 {shortfall} 积分已使用，无法收回" if shortfall else ""
    return f"-{amount} 积分（工单作废）{spent}"
