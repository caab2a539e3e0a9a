from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.contracts.events import WorkOrderFiled
from common.messaging.consumer import DeadLetterPublish, EventConsumer, handles
from common.metrics import ConsumerMetrics
from ledger.adapters.unit_of_work import SqlLedgerUnitOfWork
from ledger.domain.points import AwardRules
from ledger.service_layer.handlers import on_work_order_filed_handler

CONSUMER_NAME = "ledger"


def award_consumer(
    unit_of_work: Callable[[], SqlLedgerUnitOfWork],
    rules: AwardRules,
    dead_letter: DeadLetterPublish,
    metrics: ConsumerMetrics,
    on_awarded: Callable[[int], None],
) -> EventConsumer[Any]:
    return EventConsumer(
        name=CONSUMER_NAME,
        service="ledger",
        unit_of_work=unit_of_work,
        handlers=dict([handles(WorkOrderFiled, on_work_order_filed_handler(rules, on_awarded))]),
        dead_letter=dead_letter,
        metrics=metrics,
    )
