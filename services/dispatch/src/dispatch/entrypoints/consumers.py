from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.contracts.events import ReportSubmitted
from common.contracts.workorder_events import ReportRated, ReportReopenRequested, ReportWithdrawn
from common.messaging.consumer import DeadLetterPublish, EventConsumer, handles
from common.metrics import ConsumerMetrics
from dispatch.adapters.unit_of_work import SqlDispatchUnitOfWork
from dispatch.service_layer.districts import DistrictRegistry
from dispatch.service_layer.lifecycle import (
    Timing,
    on_reopen_requested_handler,
    on_report_rated_handler,
)
from dispatch.service_layer.triage import TriageCounter, on_report_submitted_handler
from dispatch.service_layer.withdrawal import WithdrawalCounter, on_report_withdrawn_handler

CONSUMER_NAME = "dispatch"


def reports_consumer(
    unit_of_work: Callable[[], SqlDispatchUnitOfWork],
    registry: DistrictRegistry,
    timing: Timing,
    dead_letter: DeadLetterPublish,
    metrics: ConsumerMetrics,
    on_triaged: TriageCounter,
    on_withdrawal: WithdrawalCounter = lambda outcome: None,
) -> EventConsumer[Any]:
    """Triage of new reports, and the reporters' ratings, reopening requests and
    withdrawals."""
    return EventConsumer(
        name=CONSUMER_NAME,
        service="dispatch",
        unit_of_work=unit_of_work,
        handlers=dict(
            [
                handles(ReportSubmitted, on_report_submitted_handler(registry, on_triaged)),
                handles(ReportRated, on_report_rated_handler(registry)),
                handles(ReportReopenRequested, on_reopen_requested_handler(registry, timing)),
                handles(ReportWithdrawn, on_report_withdrawn_handler(registry, on_withdrawal)),
            ]
        ),
        dead_letter=dead_letter,
        metrics=metrics,
    )
