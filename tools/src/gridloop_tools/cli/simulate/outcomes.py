"""What the simulator learns about each submitted report, and how a status is classed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from gridloop_tools.cli.simulate.planning import PlannedReport

__all__ = [
    "PENDING_STATUSES",
    "ReportOutcome",
    "StatusClass",
    "classify_status",
]

#: Report statuses that mean "not triaged yet"; anything else except ``rejected`` is filed.
PENDING_STATUSES = frozenset({"submitted", "received", "pending", "accepted_for_processing"})

StatusClass = Literal["pending", "filed", "rejected"]


def classify_status(status: str | None) -> StatusClass:
    if status is None or status in PENDING_STATUSES:
        return "pending"
    if status == "rejected":
        return "rejected"
    return "filed"  # filed, or a later stage of the case (dispatched, closed, …)


@dataclass
class ReportOutcome:
    """What the simulator learnt about one planned report."""

    planned: PlannedReport
    report_id: str | None = None
    error: str | None = None
    status: str | None = None
    rejection_reason: str | None = None
    work_order_id: str | None = None
    grid_id: str | None = None
    started_at: float | None = None
    first_inbox_at: float | None = None
    inbox_item_ids: set[str] = field(default_factory=set)
    last_status_check: float = -math.inf

    @property
    def status_class(self) -> StatusClass:
        return classify_status(self.status)

    @property
    def triaged(self) -> bool:
        return self.status_class != "pending"

    @property
    def done(self) -> bool:
        return self.report_id is not None and self.triaged and self.first_inbox_at is not None

    @property
    def latency_ms(self) -> float | None:
        if self.started_at is None or self.first_inbox_at is None:
            return None
        return (self.first_inbox_at - self.started_at) * 1000.0
