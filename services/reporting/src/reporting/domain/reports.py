"""Reports as the reporter sees them: submitted, then filed or rejected (a projection of the
dispatch service's work-order events)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from common.contracts.catalogue import Category, find_category

MAX_TEXT_LENGTH = 500


class ReportStatus(StrEnum):
    SUBMITTED = "submitted"
    FILED = "filed"
    REJECTED = "rejected"


STATUS_LABELS = {
    ReportStatus.SUBMITTED: "已上报，待受理",
    ReportStatus.FILED: "已立案",
    ReportStatus.REJECTED: "不予立案",
}


class ReportError(Exception):
    """A submission the domain refuses; the message is shown to the caller."""


class UnknownCategory(ReportError):
    pass


class IdempotencyConflict(ReportError):
    pass


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

    def fingerprint(self) -> str:
        """Identifies the request's content, to tell a retry from a reuse of the same key."""
        body = json.dumps(
            [self.category, round(self.lat, 7), round(self.lon, 7), self.text],
            ensure_ascii=False,
        )
        return hashlib.sha256(body.encode()).hexdigest()

    def category_or_error(self) -> Category:
        category = find_category(self.category)
        if category is None:
            raise UnknownCategory(
                f"unknown category '{self.category}'; GET /v1/categories lists the valid codes"
            )
        return category


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
    grid_id: str | None = None
    grid_name: str | None = None
    work_order_id: str | None = None
    rejection_code: str | None = None
    rejection_reason: str | None = None
    last_sequence: int = 0

    def is_stale(self, sequence: int) -> bool:
        return self.status is not ReportStatus.SUBMITTED and sequence <= self.last_sequence

    def mark_filed(
        self, *, work_order_id: str, grid_id: str, grid_name: str, sequence: int, at: datetime
    ) -> bool:
        """Apply 立案; False if the event is older than what the report already shows."""
        if self.is_stale(sequence):
            return False
        self.status = ReportStatus.FILED
        self.work_order_id = work_order_id
        self.grid_id = grid_id
        self.grid_name = grid_name
        self.last_sequence = sequence
        self.updated_at = at
        return True

    def mark_rejected(self, *, code: str, reason: str, sequence: int, at: datetime) -> bool:
        if self.is_stale(sequence):
            return False
        self.status = ReportStatus.REJECTED
        self.rejection_code = code
        self.rejection_reason = reason
        self.last_sequence = sequence
        self.updated_at = at
        return True
