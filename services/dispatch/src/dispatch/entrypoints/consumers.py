from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.contracts.events import ReportSubmitted
from common.messaging.consumer import DeadLetterPublish, EventConsumer, handles
from common.metrics import ConsumerMetrics
from dispatch.adapters.unit_of_work import SqlDispatchUnitOfWork
from dispatch.service_layer.handlers import GridRegistry, on_report_submitted_handler

CONSUMER_NAME = "dispatch"


def triage_consumer(
    unit_of_work: Callable[[], SqlDispatchUnitOfWork],
    registry: GridRegistry,
    dead_letter: DeadLetterPublish,
    metrics: ConsumerMetrics,
    on_triaged: Callable[[str, str], None],
) -> EventConsumer[Any]:
    return EventConsumer(
        name=CONSUMER_NAME,
        service="dispatch",
        unit_of_work=unit_of_work,
        handlers=dict(
            [handles(ReportSubmitted, on_report_submitted_handler(registry, on_triaged))]
        ),
        dead_letter=dead_letter,
        metrics=metrics,
    )
