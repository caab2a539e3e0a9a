"""Reports as the reporter sees them: submitted, then rejected, or following their work order
step by step (a projection of the dispatch service's work-order events)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from reporting.domain.errors import (
    DistrictNotServed,
    IdempotencyConflict,
    InactiveCategory,
    ReportError,
    UnknownCategory,
)
from reporting.domain.limits import SubmissionLimits
from reporting.domain.photos import PhotoReference
from reporting.domain.progress import STATE_STEPS, STEP_LABELS, Progress, Step, TimelineEntry

MAX_TEXT_LENGTH = 500


class ReportStatus(StrEnum):
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    PENDING_REVIEW = "pending_review"
    FILED = "filed"
    DISPATCHED = "dispatched"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    REWORK = "rework"
    CLOSED = "closed"
    REOPENED = "reopened"
    RATED = "rated"
    VOIDED = "voided"
    MERGED = "merged"
    WITHDRAWN = "withdrawn"


STATUS_LABELS = {
    ReportStatus.SUBMITTED: "已上报，待受理",
    ReportStatus.REJECTED: "不予立案",
    ReportStatus.PENDING_REVIEW: "待核实",
    ReportStatus.FILED: "已立案",
    ReportStatus.DISPATCHED: "已派遣",
    ReportStatus.CLAIMED: "处置中",
    ReportStatus.RESOLVED: "已处置，待核查",
    ReportStatus.REWORK: "返工",
    ReportStatus.CLOSED: "已结案",
    ReportStatus.REOPENED: "发回重办",
    ReportStatus.RATED: "已评价",
    ReportStatus.VOIDED: "已作废",
    ReportStatus.MERGED: "已并单，与已受理的工单合并处理",
    ReportStatus.WITHDRAWN: "已撤回",
}

STATUS_STEPS = (STATE_STEPS - {Step.RETURNED}) | {Step.MERGED}
"""The steps after which the report shows the status of the same name; the others (verified,
returned, the time-limit alerts) leave it as it was and show only on the timeline."""

_REJECTABLE = frozenset({ReportStatus.SUBMITTED, ReportStatus.PENDING_REVIEW})

WITHDRAWABLE = frozenset({ReportStatus.SUBMITTED, ReportStatus.PENDING_REVIEW})
"""The statuses in which the reporter may still withdraw the report (撤回): not yet accepted
as a case."""

KEPT_AFTER_WITHDRAWAL = frozenset({Step.PENDING_REVIEW, Step.FILED, Step.DISPATCHED, Step.VOIDED})
"""Steps of the report's own order that leave a withdrawn report withdrawn (they show on the
timeline only): dispatch triaged the report before the withdrawal reached it, and voids the
order when it does. A claim or anything after it means the case went on (a grid worker was on
it already), and the report shows it."""


@dataclass(frozen=True)
class SubmitReport:
    """Command: a rider submits a report (上报)."""

    reporter_id: str
    district: str
    category: str
    lat: float
    lon: float
    text: str
    idempotency_key: str | None = None
    districts: tuple[str, ...] = ()
    """Every district the rider's token covers, home first (``district`` alone if empty)."""
    limits: SubmissionLimits | None = None
    """The reporter's limits in the district; None for a reporter that has none (a partner
    system filing for many residents)."""
    photo_ids: tuple[str, ...] = ()
    """Photos the rider uploaded before (POST /v1/photos), at most three."""
    captured_at: datetime | None = None
    """When the rider took the report, if it was sent later (offline capture)."""

    @property
    def covered(self) -> tuple[str, ...]:
        return self.districts or (self.district,)

    def fingerprint(self) -> str:
        """Identifies the request's content, to tell a retry from a reuse of the same key."""
        content: list[object] = [self.category, round(self.lat, 7), round(self.lon, 7), self.text]
        if self.photo_ids or self.captured_at:
            captured = self.captured_at.isoformat() if self.captured_at else None
            content += [list(self.photo_ids), captured]
        body = json.dumps(content, ensure_ascii=False)
        return hashlib.sha256(body.encode()).hexdigest()


@dataclass
class Report:
    id: str
    reporter_id: str
    district: str
    category: str
    lat: float
    lon: float
    text: str
    submitted_at: datetime
    updated_at: datetime
    status: ReportStatus = ReportStatus.SUBMITTED
    category_name: str | None = None
    grid_id: str | None = None
    grid_name: str | None = None
    work_order_id: str | None = None
    work_order_state: str | None = None
    deadline: datetime | None = None
    closed_at: datetime | None = None
    rejection_code: str | None = None
    rejection_reason: str | None = None
    last_sequence: int = 0
    """The sequence of the last event of the report's work order applied to it."""
    last_step: str | None = None
    captured_at: datetime | None = None
    """When the rider took the report, if it was sent later (offline capture)."""
    photos: tuple[PhotoReference, ...] = ()

    @property
    def occurred_at(self) -> datetime:
        """When the problem was seen: when the report was captured, else submitted."""
        return self.captured_at or self.submitted_at

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    def submitted_entry(self) -> TimelineEntry:
        return TimelineEntry(
            self.id, Step.SUBMITTED.value, "已上报", self.submitted_at, detail=self.category_name
        )

    def follow(self, progress: Progress) -> bool:
        """Apply one step of the report's work order; False (nothing changes) if the report
        already shows that step or a later one, was rejected, or belongs to another order."""
        if self.status is ReportStatus.REJECTED:
            return False
        if self.status is ReportStatus.WITHDRAWN and progress.step is Step.MERGED:
            return self._merged_after_withdrawal(progress)
        if self.work_order_id is not None:
            if self.work_order_id != progress.work_order_id:
                return False
            if not progress.follows(self.last_sequence):
                return False
        self.work_order_id = progress.work_order_id
        self.last_sequence = progress.sequence
        self.last_step = progress.step.value
        withdrawn = self.status is ReportStatus.WITHDRAWN
        if progress.step in STATUS_STEPS and not (
            withdrawn and progress.step in KEPT_AFTER_WITHDRAWAL
        ):
            self.status = ReportStatus(progress.step.value)
        self.work_order_state = progress.state_after or self.work_order_state
        self.deadline = progress.deadline or self.deadline
        self.grid_id = progress.grid_id or self.grid_id
        self.grid_name = progress.grid_name or self.grid_name
        self.category_name = progress.category_name or self.category_name
        if progress.step is Step.CLOSED:
            self.closed_at = progress.at
        self.updated_at = progress.at
        return True

    def _merged_after_withdrawal(self, progress: Progress) -> bool:
        """Dispatch merged the report into another reporter's case (并单) before the
        withdrawal reached it; it detaches the report from that case when it does. The report
        stays withdrawn and does not follow that case: the timeline shows the merge once."""
        if self.last_step == Step.MERGED.value:
            return False
        self.last_step = Step.MERGED.value
        self.updated_at = progress.at
        return True

    def withdraw(self, *, at: datetime, reason: str) -> TimelineEntry:
        """撤回 by the reporter; the caller has checked the status allows it."""
        self.status = ReportStatus.WITHDRAWN
        self.last_step = Step.WITHDRAWN.value
        self.updated_at = at
        return TimelineEntry(
            self.id,
            Step.WITHDRAWN.value,
            STEP_LABELS[Step.WITHDRAWN],
            at,
            work_order_id=self.work_order_id,
            detail=reason or None,
        )

    def mark_rejected(self, *, code: str, reason: str, at: datetime) -> bool:
        """Apply 不予立案 (at triage, or after review); False if the report is past that."""
        if self.status not in _REJECTABLE:
            return False
        self.status = ReportStatus.REJECTED
        self.rejection_code = code
        self.rejection_reason = reason
        if self.work_order_id is not None:
            self.work_order_state = "rejected"
        self.updated_at = at
        return True

    def rejected_entry(self) -> TimelineEntry:
        return TimelineEntry(
            self.id,
            Step.REJECTED.value,
            "不予立案",
            self.updated_at,
            work_order_id=self.work_order_id,
            detail=self.rejection_reason,
        )


__all__ = [
    "MAX_TEXT_LENGTH",
    "STATUS_LABELS",
    "STATUS_STEPS",
    "WITHDRAWABLE",
    "DistrictNotServed",
    "IdempotencyConflict",
    "InactiveCategory",
    "Report",
    "ReportError",
    "ReportStatus",
    "SubmitReport",
    "UnknownCategory",
]
