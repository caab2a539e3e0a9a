"""Data models of the events on gridloop topics (the ``data`` member of the CloudEvent).

Each model names its CloudEvents ``type``. Add fields only as optional; anything else is a new
version of the event and of its topic.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from common.contracts.base import EventData
from common.contracts.district_events import DistrictCataloguePublished
from common.contracts.points_events import (
    POINTS_EVENT_MODELS,
    PointsCapped,
    PointsReversed,
    RedemptionCancelled,
    RedemptionExpired,
    RedemptionFulfilled,
    RedemptionReserved,
)
from common.contracts.topics import Topic
from common.contracts.workorder_events import WORKORDER_EVENT_MODELS


class PhotoReference(BaseModel):
    """A photo of a report, as reporting keeps it (the bytes are fetched over HTTP:
    ``GET /v1/photos/{id}`` on reporting, for those allowed to see it)."""

    model_config = ConfigDict(frozen=True)

    id: str
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the bytes, hex")
    size: int = Field(ge=0, description="bytes")
    media_type: str = Field(description="image/jpeg, image/png or image/webp")


class ReportSubmitted(EventData):
    """A rider submitted a report (上报). Key: report id."""

    event_type: ClassVar[str] = "gridloop.report.submitted"
    topic: ClassVar[Topic] = Topic.REPORTS

    report_id: str
    reporter_id: str
    category: str = Field(pattern=r"^\d{4}$")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    text: str
    submitted_at: AwareDatetime
    reporter_districts: list[str] = Field(default_factory=list)
    """The districts the reporter's token covers (the envelope's ``district`` is their home);
    dispatch files the report only in one of them."""
    photos: list[PhotoReference] = Field(default_factory=list)
    """The report's photos (0–3), metadata stripped; references only, never the bytes."""
    captured_at: AwareDatetime | None = None
    """When the rider took the report, if it was sent later (offline capture)."""


class WorkOrderFiled(EventData):
    """The report was accepted and a work order filed in a grid (立案). Key: work order id.
    (A report merged into an open order files nothing: see ``gridloop.workorder.merged``.)"""

    event_type: ClassVar[str] = "gridloop.workorder.filed"
    topic: ClassVar[Topic] = Topic.WORKORDERS

    work_order_id: str
    report_id: str
    reporter_id: str
    category: str
    category_name: str
    priority: str
    grid_id: str
    grid_name: str
    community: str
    street: str
    lat: float
    lon: float
    filed_at: AwareDatetime


class RejectionReason(StrEnum):
    OUTSIDE_SERVICE_AREA = "outside_service_area"
    UNKNOWN_CATEGORY = "unknown_category"
    INACTIVE_CATEGORY = "inactive_category"
    DISTRICT_MISMATCH = "district_mismatch"
    REJECTED_ON_REVIEW = "rejected_on_review"


class ReportRejected(EventData):
    """The report was not accepted as a case (不予立案), with a reason. Key: report id."""

    event_type: ClassVar[str] = "gridloop.report.rejected"
    topic: ClassVar[Topic] = Topic.WORKORDERS

    report_id: str
    reporter_id: str
    category: str
    reason_code: RejectionReason
    reason: str
    rejected_at: AwareDatetime


class PointsAwarded(EventData):
    """Points were credited to a rider by a posted transfer. Key: rider id."""

    event_type: ClassVar[str] = "gridloop.points.awarded"
    topic: ClassVar[Topic] = Topic.POINTS

    transfer_id: str
    rider_id: str
    amount: int = Field(gt=0)
    balance: int = Field(ge=0)
    rule: str
    report_id: str
    work_order_id: str | None = None
    awarded_at: AwareDatetime


class NotificationDelivered(EventData):
    """A message reached a recipient on a channel (the delivery log). Key: recipient id."""

    event_type: ClassVar[str] = "gridloop.notification.delivered"
    topic: ClassVar[Topic] = Topic.NOTIFICATIONS

    notification_id: str
    recipient_id: str
    channel: str
    template: str
    report_id: str | None = None
    work_order_id: str | None = None
    delivered_at: AwareDatetime


class NotificationFailed(EventData):
    """A message could not be delivered on a channel: a permanent refusal, or every retry
    spent. The inbox copy stays. Key: recipient id."""

    event_type: ClassVar[str] = "gridloop.notification.failed"
    topic: ClassVar[Topic] = Topic.NOTIFICATIONS

    notification_id: str
    """The delivery's id (also the ``X-Gridloop-Delivery`` header a webhook receiver saw)."""
    recipient_id: str
    channel: str
    template: str
    attempts: int = Field(ge=0)
    error: str
    """What the last attempt met (an HTTP status, a timeout, an error code)."""
    report_id: str | None = None
    work_order_id: str | None = None
    failed_at: AwareDatetime


EVENT_MODELS: tuple[type[EventData], ...] = (
    ReportSubmitted,
    WorkOrderFiled,
    ReportRejected,
    PointsAwarded,
    NotificationDelivered,
    NotificationFailed,
    *WORKORDER_EVENT_MODELS,
    *POINTS_EVENT_MODELS,
    DistrictCataloguePublished,
)

__all__ = [
    "EVENT_MODELS",
    "NotificationDelivered",
    "NotificationFailed",
    "PointsAwarded",
    "PointsCapped",
    "PointsReversed",
    "RedemptionCancelled",
    "RedemptionExpired",
    "RedemptionFulfilled",
    "RedemptionReserved",
    "RejectionReason",
    "ReportRejected",
    "ReportSubmitted",
    "WorkOrderFiled",
]
