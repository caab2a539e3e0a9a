from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.contracts.workorder_events import WORKORDER_EVENT_MODELS
from common.messaging.consumer import DeadLetterPublish, EventConsumer, handles
from common.metrics import ConsumerMetrics
from notification.adapters.unit_of_work import SqlNotificationUnitOfWork
from notification.service_layer.handlers import WeChatRouting, notify_handler
from notification.service_layer.notices import NOTICE_BOOK, NoticeBook

CONSUMER_NAME = "notification"


def reporter_feedback_consumer(
    unit_of_work: Callable[[], SqlNotificationUnitOfWork],
    dead_letter: DeadLetterPublish,
    metrics: ConsumerMetrics,
    on_written: Callable[[str], None],
    book: NoticeBook = NOTICE_BOOK,
    wechat: WeChatRouting | None = None,
) -> EventConsumer[Any]:
    """Tells reporters, assignees and supervisors what each event means for them."""
    notify = notify_handler(on_written, book, wechat)
    # Every step of a work order, even one that tells nobody, makes older messages stale.
    models = {m.event_type: m for m in (*book.models, *WORKORDER_EVENT_MODELS)}
    return EventConsumer(
        name=CONSUMER_NAME,
        service="notification",
        unit_of_work=unit_of_work,
        handlers=dict(handles(model, notify) for model in models.values()),
        dead_letter=dead_letter,
        metrics=metrics,
    )
