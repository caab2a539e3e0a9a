"""Use cases of the notification service: turn events into the messages of everyone who should
hear of them (:mod:`.notices` says who and in which words)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from common.contracts.base import EventData
from common.contracts.events import NotificationDelivered
from common.messaging.ports import EventHandler, EventMeta, HandlerOutcome
from notification.domain.delivery import Delivery, DeliveryStatus
from notification.domain.messages import Message, TemplateId, local_time
from notification.service_layer.notices import NOTICE_BOOK, NoticeBook
from notification.service_layer.unit_of_work import AbstractNotificationUnitOfWork

_log = structlog.get_logger("gridloop.notification")

WEBHOOK = "webhook"
WECHAT = "wechat"

Handler = EventHandler[EventData, AbstractNotificationUnitOfWork]


def messages_for(data: EventData, book: NoticeBook = NOTICE_BOOK) -> list[Message]:
    """Everyone's message for an event (none if it tells nobody anything)."""
    return book.messages_for(data)


def notification_id(event_id: str, message: Message, channel: str | None = None) -> str:
    """One notification per (event, recipient, channel, template), whoever delivers it."""
    channel = channel or message.channel.value
    name = f"{event_id}/{message.recipient_id}/{channel}/{message.template.value}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


@dataclass(frozen=True)
class WeChatRouting:
    """Which templates go out as WeChat subscribe messages, as which WeChat template, and into
    which of its data keys the title, body and time go (``thing`` values: 20 characters)."""

    template_ids: Mapping[str, str]
    keys: Mapping[str, str] = field(
        default_factory=lambda: {"title": "thing1", "body": "thing2", "time": "time3"}
    )
    page: str | None = None

    PARTS = frozenset({"title", "body", "time"})

    def __post_init__(self) -> None:
        """Checked when the service starts: a wrong setting is not found at send time."""
        unknown_parts = set(self.keys) - self.PARTS
        unknown_templates = set(self.template_ids) - {t.value for t in TemplateId}
        if unknown_parts or unknown_templates:
            raise ValueError(
                "WeChat settings: "
                + "; ".join(
                    [f"data key for unknown part {p}" for p in sorted(unknown_parts)]
                    + [f"no gridloop template {t}" for t in sorted(unknown_templates)]
                )
            )

    def data(self, message: Message, at: datetime) -> dict[str, dict[str, str]]:
        values = {"title": message.title[:20], "body": message.body[:20], "time": local_time(at)}
        return {key: {"value": values[part]} for part, key in self.keys.items()}


def notify_handler(
    on_written: Callable[[str], None] = lambda template: None,
    book: NoticeBook = NOTICE_BOOK,
    wechat: WeChatRouting | None = None,
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
            if wechat is not None:
                written += await _queue_wechat(message, meta, uow, wechat)
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
    payload: dict[str, Any] = {
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
    return await _add_delivery(uow, identity, message, meta, WEBHOOK, payload, now)


async def _queue_wechat(
    message: Message,
    meta: EventMeta,
    uow: AbstractNotificationUnitOfWork,
    routing: WeChatRouting,
) -> bool:
    """A subscribe message for a recipient with an openid, if the template has a WeChat one."""
    template_id = routing.template_ids.get(message.template.value)
    if template_id is None or await uow.wechat.openid(message.recipient_id) is None:
        return False
    now = datetime.now(UTC)
    identity = notification_id(meta.id, message, WECHAT)
    payload: dict[str, Any] = {
        "template_id": template_id,
        "data": routing.data(message, now),
        "page": routing.page,
    }
    return await _add_delivery(uow, identity, message, meta, WECHAT, payload, now)


async def _add_delivery(
    uow: AbstractNotificationUnitOfWork,
    identity: str,
    message: Message,
    meta: EventMeta,
    channel: str,
    payload: dict[str, Any],
    now: datetime,
) -> bool:
    return await uow.deliveries.add(
        Delivery(
            id=identity,
            event_id=meta.id,
            recipient_id=message.recipient_id,
            audience=message.audience,
            district=meta.district,
            channel=channel,
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
