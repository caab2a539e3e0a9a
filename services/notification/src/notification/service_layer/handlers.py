"""Use cases of the notification service: turn events into the messages of everyone who should
hear of them (:mod:`.notices` says who and in which words)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from common.contracts.base import EventData
from common.contracts.events import NotificationDelivered
from common.messaging.ports import EventHandler, EventMeta, HandlerOutcome
from notification.domain.delivery import Delivery, DeliveryStatus
from notification.domain.messages import Message
from notification.service_layer.notices import NOTICE_BOOK, NoticeBook
from notification.service_layer.unit_of_work import AbstractNotificationUnitOfWork

_log = structlog.get_logger("gridloop.notification")

WEBHOOK = "webhook"

Handler = EventHandler[EventData, AbstractNotificationUnitOfWork]


def messages_for(data: EventData, book: NoticeBook = NOTICE_BOOK) -> list[Message]:
    """Everyone's message for an event (none if it tells nobody anything)."""
    return book.messages_for(data)


def notification_id(event_id: str, message: Message, channel: str | None = None) -> str:
    """One notification per (event, recipient, channel, template), whoever delivers it."""
    channel = channel or message.channel.value
    name = f"{event_id}/{message.recipient_id}/{channel}/{message.template.value}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def notify_handler(
    on_written: Callable[[str], None] = lambda template: None, book: NoticeBook = NOTICE_BOOK
) -> Handler:
    async def notify(
        data: EventData, meta: EventMeta, uow: AbstractNotificationUnitOfWork
    ) -> HandlerOutcome:
        messages = book.messages_for(data, meta.district)
        order = _own_work_order(data, meta)
        if order is not None:
            await uow.work_orders.note(order, meta.sequence)
        written = 0
        for position, message in enumerate(messages):
            written += await _deliver(message, meta, uow, on_written, position)
            written += await _queue_webhook(message, meta, uow)
        # Nobody to tell, or everyone told before (a replay under another consumer group).
        return "processed" if written else "ignored"

    return notify


async def _deliver(
    message: Message,
    meta: EventMeta,
    uow: AbstractNotificationUnitOfWork,
    on_written: Callable[[str], None],
    position: int,
) -> bool:
    now = datetime.now(UTC)
    identity = notification_id(meta.id, message)
    if not await uow.notifications.add(identity, meta.id, message, now):
        return False
    await uow.outbox.add(
        NotificationDelivered(
            notification_id=identity,
            recipient_id=message.recipient_id,
            channel=message.channel.value,
            template=message.template.value,
            report_id=message.report_id,
            work_order_id=message.work_order_id,
            delivered_at=now,
        ),
        subject=message.recipient_id,
        # A recipient's inbox has no version number; delivery time orders its log.
        sequence=int(now.timestamp() * 1_000_000) + position,
    )
    template = message.template.value
    uow.after_commit(lambda: on_written(template))
    _log.debug(
        "inbox.written",
        recipient_id=message.recipient_id,
        template=template,
        report_id=message.report_id,
        work_order_id=message.work_order_id,
    )
    return True


async def _queue_webhook(
    message: Message, meta: EventMeta, uow: AbstractNotificationUnitOfWork
) -> bool:
    """A delivery row for the district's webhook of the recipient's audience, if one is
    configured; the sender posts it later (consuming never waits for a receiver)."""
    if await uow.webhooks.get(meta.district, message.audience) is None:
        return False
    now = datetime.now(UTC)
    identity = notification_id(meta.id, message, WEBHOOK)
    payload = {
        "delivery_id": identity,
        "notification_id": notification_id(meta.id, message),
        "event_id": meta.id,
        "event_type": meta.type,
        "recipient_id": message.recipient_id,
        "audience": message.audience,
        "district": meta.district,
        "template": message.template.value,
        "title": message.title,
        "body": message.body,
        "report_id": message.report_id,
        "work_order_id": message.work_order_id,
        "critical": message.critical,
        "created_at": now.isoformat(),
    }
    return await uow.deliveries.add(
        Delivery(
            id=identity,
            event_id=meta.id,
            recipient_id=message.recipient_id,
            audience=message.audience,
            district=meta.district,
            channel=WEBHOOK,
            template=message.template.value,
            payload=payload,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            report_id=message.report_id,
            work_order_id=message.work_order_id,
            critical=message.critical,
            sequence=meta.sequence if _own_work_order(message, meta) else 0,
        )
    )


def _own_work_order(data: object, meta: EventMeta) -> str | None:
    """The work order whose own event this is (its ``sequence`` is then the order's version),
    or None (a rider's points event names an order but counts the rider's account)."""
    work_order_id = getattr(data, "work_order_id", None)
    return work_order_id if work_order_id and work_order_id == meta.subject else None
