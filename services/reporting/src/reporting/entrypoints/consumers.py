from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.contracts.district_events import DistrictCataloguePublished
from common.contracts.events import PointsAwarded, PointsCapped, PointsReversed, ReportRejected
from common.messaging.consumer import DeadLetterPublish, EventConsumer, handles
from common.metrics import ConsumerMetrics
from reporting.adapters.unit_of_work import SqlReportingUnitOfWork
from reporting.service_layer import handlers, projection

CONSUMER_NAME = "reporting"


def status_projection(
    unit_of_work: Callable[[], SqlReportingUnitOfWork],
    dead_letter: DeadLetterPublish,
    metrics: ConsumerMetrics,
) -> EventConsumer[Any]:
    """Keeps the reporter-facing status in step with the work-order topic (and the points
    paid for each report on its timeline), and each district's category catalogue with the
    districts topic."""
    return EventConsumer(
        name=CONSUMER_NAME,
        service="reporting",
        unit_of_work=unit_of_work,
        handlers=dict(
            [
                *(
                    handles(model, projection.on_work_order_event)
                    for model in projection.FOLLOWED_EVENTS
                ),
                handles(ReportRejected, projection.on_report_rejected),
                handles(PointsAwarded, projection.on_points_awarded),
                handles(PointsCapped, projection.on_points_capped),
                handles(PointsReversed, projection.on_points_reversed),
                handles(DistrictCataloguePublished, handlers.on_catalogue_published),
            ]
        ),
        dead_letter=dead_letter,
        metrics=metrics,
    )
