"""Public event contracts: the CloudEvents envelope, topic names and the event data models.

Other city systems read these topics; a model here changes only by adding a new version.
"""

from common.contracts.catalogue import CATEGORIES, Category, find_category
from common.contracts.envelope import CloudEvent, EnvelopeError
from common.contracts.events import (
    EVENT_MODELS,
    NotificationDelivered,
    PointsAwarded,
    RejectionReason,
    ReportRejected,
    ReportSubmitted,
    WorkOrderFiled,
)
from common.contracts.topics import Topic

__all__ = [
    "CATEGORIES",
    "EVENT_MODELS",
    "Category",
    "CloudEvent",
    "EnvelopeError",
    "NotificationDelivered",
    "PointsAwarded",
    "RejectionReason",
    "ReportRejected",
    "ReportSubmitted",
    "Topic",
    "WorkOrderFiled",
    "find_category",
]
