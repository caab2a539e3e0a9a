from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.contracts.events import PointsAwarded, ReportRejected, WorkOrderFiled
from common.messaging.consumer import DeadLetterPublish, EventConsumer, handles
from common.metrics import ConsumerMetrics
from notification.adapters.unit_of_work import SqlNotificationUnitOfWork
from notification.service_layer.handlers import notify_handler

CONSUMER_NAME = "notification"


def reporter_feedback_consumer(
    unit_of_work: Callable[[], SqlNotificationUnitOfWork],
    dead_letter: DeadLetterPublish,
    metrics: ConsumerMetrics,
    on_written: Callable[[str], None],
) -> EventConsumer[Any]:
    notify = notify_handler(on_written)
    return EventConsumer(
        name=CONSUMER_NAME,
        service="notification",
        unit_of_work=unit_of_work,
        handlers=dict(
            [
                handles(WorkOrderFiled, notify),
                handles(ReportRejected, notify),
                handles(PointsAwarded, notify),
            ]
        ),
        dead_letter=dead_letter,
        metrics=metrics,
    )
