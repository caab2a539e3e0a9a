from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.contracts.events import WorkOrderFiled
from common.contracts.workorder_events import (
    WorkOrderClosed,
    WorkOrderMerged,
    WorkOrderRated,
    WorkOrderVoided,
)
from common.messaging.consumer import DeadLetterPublish, EventConsumer, handles
from common.metrics import ConsumerMetrics
from ledger.adapters.unit_of_work import SqlLedgerUnitOfWork
from ledger.service_layer.handlers import Rewards

CONSUMER_NAME = "ledger"


def award_consumer(
    unit_of_work: Callable[[], SqlLedgerUnitOfWork],
    rewards: Rewards,
    dead_letter: DeadLetterPublish,
    metrics: ConsumerMetrics,
) -> EventConsumer[Any]:
    """The rewards of a report's life: filed, merged, closed, rated; voided takes them back."""
    return EventConsumer(
        name=CONSUMER_NAME,
        service="ledger",
        unit_of_work=unit_of_work,
        handlers=dict(
            [
                handles(WorkOrderFiled, rewards.on_filed),
                handles(WorkOrderMerged, rewards.on_merged),
                handles(WorkOrderClosed, rewards.on_closed),
                handles(WorkOrderRated, rewards.on_rated),
                handles(WorkOrderVoided, rewards.on_voided),
            ]
        ),
        dead_letter=dead_letter,
        metrics=metrics,
    )
