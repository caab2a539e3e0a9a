"""Use cases of the notification service: turn events into the reporter's messages."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from common.contracts.base import EventData
from common.contracts.catalogue import find_category
from common.contracts.events import (
    NotificationDelivered,
    PointsAwarded,
    ReportRejected,
    WorkOrderFiled,
)
from common.messaging.ports import EventHandler, EventMeta, HandlerOutcome
from notification.domain.messages import Message, TemplateId, render
from notification.service_layer.unit_of_work import AbstractNotificationUnitOfWork

_log = structlog.get_logger("gridloop.notification")

Handler = EventHandler[EventData, AbstractNotificationUnitOfWork]


def message_for(data: EventData) -> Message | None:
    """The reporter's message for an event, or None if the event tells them nothing."""
    if isinstance(data, WorkOrderFiled):
        filed = data
        return render(
            TemplateId.REPORT_FILED,
            recipient_id=filed.reporter_id,
            variables=filed.model_dump(),
            report_id=filed.report_id,
            work_order_id=filed.work_order_id,
        )
    if isinstance(data, ReportRejected):
        rejected = data
        category = find_category(rejected.category)
        return render(
            TemplateId.REPORT_REJECTED,
            recipient_id=rejected.reporter_id,
            variables={
                "category_name": category.name if category else rejected.category,
                "reason": rejected.reason,
            },
            report_id=rejected.report_id,
        )
    if isinstance(data, PointsAwarded):
        awarded = data
        return render(
            TemplateId.POINTS_AWARDED,
            recipient_id=awarded.rider_id,
            variables=awarded.model_dump(),
            report_id=awarded.report_id,
            work_order_id=awarded.work_order_id,
        )
    return None


def notify_handler(on_written: Callable[[str], None] = lambda template: None) -> Handler:
    async def notify(
        data: EventData, meta: EventMeta, uow: AbstractNotificationUnitOfWork
    ) -> HandlerOutcome:
        message = message_for(data)
        if message is None:
            return "ignored"
        now = datetime.now(UTC)
        notification_id = str(
            uuid.uuid5(
                uuid.NAMESPACE_URL,
                f"{meta.id}/{message.recipient_id}"
                f"/{message.channel.value}/{message.template.value}",
            )
        )
        if not await uow.notifications.add(notification_id, meta.id, message, now):
            return "ignored"  # delivered before, e.g. by a replay under another consumer group
        await uow.outbox.add(
            NotificationDelivered(
                notification_id=notification_id,
                recipient_id=message.recipient_id,
                channel=message.channel.value,
                template=message.template.value,
                report_id=message.report_id,
                work_order_id=message.work_order_id,
                delivered_at=now,
            ),
            subject=message.recipient_id,
            # A recipient's inbox has no version number; delivery time orders its log.
            sequence=int(now.timestamp() * 1_000_000),
        )
        template = message.template.value
        uow.after_commit(lambda: on_written(template))
        _log.debug(
            "inbox.written",
            recipient_id=message.recipient_id,
            template=message.template.value,
            report_id=message.report_id,
        )
        return "processed"

    return notify
