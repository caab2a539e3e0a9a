from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.contracts.events import ReportRejected, WorkOrderFiled
from common.messaging.consumer import DeadLetterPublish, EventConsumer, handles
from common.metrics import ConsumerMetrics
from reporting.adapters.unit_of_work import SqlReportingUnitOfWork
from reporting.service_layer import handlers

CONSUMER_NAME = "reporting"


def status_projection(
    unit_of_work: Callable[[], SqlReportingUnitOfWork],
    dead_letter: DeadLetterPublish,
    metrics: ConsumerMetrics,
) -> EventConsumer[Any]:
    """Keeps the reporter-facing status in step with the work-order topic."""
    return EventConsumer(
        name=CONSUMER_NAME,
        service="reporting",
        unit_of_work=unit_of_work,
        handlers=dict(
            [
                handles(WorkOrderFiled, handlers.on_work_order_filed),
                handles(ReportRejected, handlers.on_report_rejected),
            ]
        ),
        dead_letter=dead_letter,
        metrics=metrics,
    )
