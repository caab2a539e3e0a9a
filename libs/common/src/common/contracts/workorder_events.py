"""The work order's life after 立案, as events on ``gridloop.workorders.v1`` (key: the work
order id), and the reporter's own actions on ``gridloop.reports.v1`` (key: the report id).

Each work-order event carries ``reporter_ids`` — the original reporter and everyone whose report
was merged into the order (并单) — so a consumer can tell every reporter without asking. The
CloudEvents ``sequence`` is the order's version, one per event: ``verified`` comes one before
the ``closed`` or ``rework`` it leads to. The envelope's ``district`` is the order's district.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from common.contracts.base import EventData
from common.contracts.topics import Topic


class WorkOrderEvent(EventData):
    topic: ClassVar[Topic] = Topic.WORKORDERS

    work_order_id: str
    report_id: str
    """The report the order was filed for."""
    reporter_ids: list[str] = Field(default_factory=list)
    category: str
    category_name: str
    grid_id: str
    street: str


class AssigneeKind(StrEnum):
    GRID_WORKER = "grid_worker"
    DEPARTMENT = "department"
    SUPERVISOR = "supervisor"


class WorkOrderReviewRequested(WorkOrderEvent):
    """The category needs a street supervisor to review the report before it is filed
    (待核实)."""

    event_type: ClassVar[str] = "gridloop.workorder.review_requested"

    supervisor_ids: list[str] = Field(default_factory=list)
    requested_at: AwareDatetime


class WorkOrderDispatched(WorkOrderEvent):
    """The order went to an assignee (派遣 / 改派) and its clock started."""

    event_type: ClassVar[str] = "gridloop.workorder.dispatched"

    assignee_kind: AssigneeKind
    assignee_id: str
    assignee_name: str
    claim_due: AwareDatetime
    handle_due: AwareDatetime
    redispatch: bool = False
    """True after a return (改派) or a reopening (发回重办)."""
    dispatched_at: AwareDatetime


class WorkOrderClaimed(WorkOrderEvent):
    """The assignee claimed the order (签收)."""

    event_type: ClassVar[str] = "gridloop.workorder.claimed"

    assignee_id: str
    claimed_at: AwareDatetime


class WorkOrderResolved(WorkOrderEvent):
    """The assignee reported the problem handled, with evidence (处置反馈)."""

    event_type: ClassVar[str] = "gridloop.workorder.resolved"

    assignee_id: str
    note: str
    evidence: list[str] = Field(default_factory=list)
    """References of the evidence photos."""
    resolved_at: AwareDatetime


class WorkOrderVerified(WorkOrderEvent):
    """A supervisor checked the fix (核查): passed leads to closed, failed to rework."""

    event_type: ClassVar[str] = "gridloop.workorder.verified"

    passed: bool
    note: str
    verified_by: str
    verified_at: AwareDatetime


class WorkOrderRework(WorkOrderEvent):
    """Verification failed: the assignee must handle it again (返工), on a new clock."""

    event_type: ClassVar[str] = "gridloop.workorder.rework"

    assignee_id: str
    note: str
    rework_count: int = Field(ge=1)
    handle_due: AwareDatetime
    reworked_at: AwareDatetime


class WorkOrderReturned(WorkOrderEvent):
    """The assignee returned the order as not theirs (回退); it is dispatched again."""

    event_type: ClassVar[str] = "gridloop.workorder.returned"

    returned_by: str
    reason: str
    returned_at: AwareDatetime


class WorkOrderClosed(WorkOrderEvent):
    """Verification passed: the case is closed (结案); reporters may rate or reopen it."""

    event_type: ClassVar[str] = "gridloop.workorder.closed"

    report_ids: list[str] = Field(default_factory=list)
    """Every report of the order: the filed one and the merged ones."""
    closed_by: str
    on_time: bool
    """Closed before its handling deadline (按期结案)."""
    closed_at: AwareDatetime


class WorkOrderReopened(WorkOrderEvent):
    """A reporter found the problem back within the window (发回重办)."""

    event_type: ClassVar[str] = "gridloop.workorder.reopened"

    reopened_by: str
    reason: str
    reopened_at: AwareDatetime


class VoidReason(StrEnum):
    """Why an order was voided, where a code says more than the free-text reason."""

    WITHDRAWN_BY_REPORTER = "withdrawn_by_reporter"
    """Its only reporter withdrew the report (撤回) before anyone claimed the order."""


class WorkOrderVoided(WorkOrderEvent):
    """The order was voided (作废): by a supervisor, e.g. as a false report, or because its only
    reporter withdrew the report before it was claimed (``reason_code``
    ``withdrawn_by_reporter``, ``voided_by`` the reporter's id)."""

    event_type: ClassVar[str] = "gridloop.workorder.voided"

    report_ids: list[str] = Field(default_factory=list)
    voided_by: str
    reason: str
    reason_code: VoidReason | None = None
    """None for a supervisor's void (the reason is in ``reason``)."""
    voided_at: AwareDatetime


class WorkOrderRated(WorkOrderEvent):
    """A reporter rated the outcome (评价), 1 to 5."""

    event_type: ClassVar[str] = "gridloop.workorder.rated"

    rated_by: str
    score: int = Field(ge=1, le=5)
    comment: str = ""
    rated_at: AwareDatetime


class WorkOrderMerged(WorkOrderEvent):
    """A duplicate report joined this open order (并单); its reporter follows the order."""

    event_type: ClassVar[str] = "gridloop.workorder.merged"

    merged_report_id: str
    merged_reporter_id: str
    distance_m: float = Field(ge=0)
    merged_at: AwareDatetime


class WorkOrderSlaWarning(WorkOrderEvent):
    """80 % of the handling time limit has run (预警)."""

    event_type: ClassVar[str] = "gridloop.workorder.sla_warning"

    assignee_id: str | None
    handle_due: AwareDatetime
    warned_at: AwareDatetime


class WorkOrderOverdue(WorkOrderEvent):
    """The handling deadline passed (超时)."""

    event_type: ClassVar[str] = "gridloop.workorder.overdue"

    assignee_id: str | None
    handle_due: AwareDatetime
    supervisor_ids: list[str] = Field(default_factory=list)
    overdue_at: AwareDatetime


class EscalationReason(StrEnum):
    OVERDUE = "overdue"
    TROUBLED = "troubled"
    """Three reworks, returns or reopenings (提级督办)."""


class WorkOrderEscalated(WorkOrderEvent):
    """The order is escalated (督办): level 1 to the street, 2 to the district."""

    event_type: ClassVar[str] = "gridloop.workorder.escalated"

    level: int = Field(ge=1, le=2)
    reason: EscalationReason
    supervisor_ids: list[str] = Field(default_factory=list)
    handle_due: AwareDatetime | None = None
    escalated_at: AwareDatetime


class ReportRated(EventData):
    """A reporter rated the outcome of their report's work order. Key: report id."""

    event_type: ClassVar[str] = "gridloop.report.rated"
    topic: ClassVar[Topic] = Topic.REPORTS

    report_id: str
    reporter_id: str
    work_order_id: str
    score: int = Field(ge=1, le=5)
    comment: str = ""
    rated_at: AwareDatetime


class ReportReopenRequested(EventData):
    """A reporter asked for the closed work order to be handled again (发回重办). Key: report
    id."""

    event_type: ClassVar[str] = "gridloop.report.reopen_requested"
    topic: ClassVar[Topic] = Topic.REPORTS

    report_id: str
    reporter_id: str
    work_order_id: str
    reason: str
    requested_at: AwareDatetime


class ReportWithdrawn(EventData):
    """A reporter withdrew their report (撤回) before it was accepted as a case. Key: report
    id (so it follows the report's ``gridloop.report.submitted`` on the same partition).
    Dispatch voids the report's order if nobody else needs it and nobody has claimed it yet,
    or detaches the report from the case it was merged into; a case already claimed goes on."""

    event_type: ClassVar[str] = "gridloop.report.withdrawn"
    topic: ClassVar[Topic] = Topic.REPORTS

    report_id: str
    reporter_id: str
    reason: str = ""
    withdrawn_at: AwareDatetime


WORKORDER_EVENT_MODELS: tuple[type[EventData], ...] = (
    WorkOrderReviewRequested,
    WorkOrderDispatched,
    WorkOrderClaimed,
    WorkOrderResolved,
    WorkOrderVerified,
    WorkOrderRework,
    WorkOrderReturned,
    WorkOrderClosed,
    WorkOrderReopened,
    WorkOrderVoided,
    WorkOrderRated,
    WorkOrderMerged,
    WorkOrderSlaWarning,
    WorkOrderOverdue,
    WorkOrderEscalated,
    ReportRated,
    ReportReopenRequested,
    ReportWithdrawn,
)
