"""The sender: posts due deliveries apart from the consumer, records every attempt, retries the
transient failures with backoff and gives up on the permanent ones (announcing the failure)."""

from __future__ import annotations

import asyncio
import random as _random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from common.contracts.events import NotificationDelivered, NotificationFailed
from notification.domain.delivery import Delivery, DeliveryStatus, RetryPolicy, SendResult
from notification.service_layer.unit_of_work import AbstractNotificationUnitOfWork

_log = structlog.get_logger("gridloop.notification.sender")


class ChannelSender(Protocol):
    """Sends one delivery on its channel; never raises for what the receiver answered."""

    async def send(self, delivery: Delivery, uow_factory: UnitOfWorkFactory) -> SendResult: ...


UnitOfWorkFactory = Callable[[], AbstractNotificationUnitOfWork]
OnOutcome = Callable[[str, str], None]
"""(channel, outcome) with outcome one of sent, retried, failed, suppressed."""


class WebhookPoster(Protocol):
    async def post(
        self, url: str, secrets: list[str], delivery_id: str, payload: dict[str, object]
    ) -> SendResult: ...


class WebhookChannel:
    """Posts a delivery to the webhook of its district and audience as configured now (a
    rotated secret or a moved URL applies to retries too)."""

    def __init__(self, poster: WebhookPoster) -> None:
        self._poster = poster

    async def send(self, delivery: Delivery, uow_factory: UnitOfWorkFactory) -> SendResult:
        async with uow_factory() as uow:
            webhook = await uow.webhooks.get(delivery.district, delivery.audience)
        if webhook is None:
            return SendResult.refused(
                f"no webhook for district {delivery.district} and {delivery.audience}"
            )
        return await self._poster.post(webhook.url, webhook.secrets, delivery.id, delivery.payload)


class WeChatPort(Protocol):
    async def send(
        self, openid: str, template_id: str, data: dict[str, Any], page: str | None
    ) -> SendResult: ...


class WeChatChannel:
    """Sends a subscribe message to the recipient's openid (as registered now)."""

    def __init__(self, client: WeChatPort) -> None:
        self._client = client

    async def send(self, delivery: Delivery, uow_factory: UnitOfWorkFactory) -> SendResult:
        async with uow_factory() as uow:
            openid = await uow.wechat.openid(delivery.recipient_id)
        if openid is None:
            return SendResult.refused(f"no openid for {delivery.recipient_id}")
        payload = delivery.payload
        return await self._client.send(
            openid, str(payload["template_id"]), dict(payload["data"]), payload.get("page")
        )


class DeliverySender:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        channels: Mapping[str, ChannelSender],
        policy: RetryPolicy,
        *,
        on_outcome: OnOutcome = lambda channel, outcome: None,
        random: Callable[[], float] = _random.random,
        batch: int = 20,
        lease: timedelta = timedelta(minutes=2),
    ) -> None:
        self._unit_of_work = unit_of_work
        self._channels = channels
        self._policy = policy
        self._on_outcome = on_outcome
        self._random = random
        self._batch = batch
        self._lease = lease

    async def send_due(self, now: datetime) -> int:
        """One pass: claim the deliveries due at ``now`` and attempt each (concurrently).
        How many were attempted."""
        async with self._unit_of_work() as uow:
            due = await uow.deliveries.due(now, self._batch)
            claimed = [d for d in due if await uow.deliveries.claim(d, now + self._lease)]
            await uow.commit()
        await asyncio.gather(*(self._attempt(delivery, now) for delivery in claimed))
        return len(claimed)

    async def _attempt(self, delivery: Delivery, now: datetime) -> None:
        if not await self._still_wanted(delivery, now):
            return
        channel = self._channels.get(delivery.channel)
        if channel is None:
            result = SendResult.refused(f"no sender for channel {delivery.channel}")
        else:
            try:
                result = await channel.send(delivery, self._unit_of_work)
            except Exception as error:  # a bug in a channel must not stop the others
                _log.exception("delivery.send_crashed", delivery_id=delivery.id)
                result = SendResult.retry(f"sender error: {error!r}"[:300])
        await self._record(delivery, result, now)

    async def _still_wanted(self, delivery: Delivery, now: datetime) -> bool:
        """Suppress a delivery made stale by a newer step of its work order or turned off by
        its recipient; hold a non-critical one until the recipient's quiet hours end."""
        async with self._unit_of_work() as uow:
            reason = None
            if delivery.sequence and delivery.work_order_id:
                newest = await uow.work_orders.newest(delivery.work_order_id)
                if newest > delivery.sequence:
                    reason = f"stale: work order at sequence {newest}"
            if reason is None and not delivery.critical:
                wanted = await uow.preferences.enabled(
                    delivery.recipient_id, delivery.template, delivery.channel
                )
                if not wanted:
                    reason = "turned off by the recipient"
            if reason is not None:
                await uow.deliveries.set_status(delivery.id, DeliveryStatus.SUPPRESSED, now, reason)
                channel = delivery.channel
                uow.after_commit(lambda: self._on_outcome(channel, "suppressed"))
                await uow.commit()
                _log.info("delivery.suppressed", delivery_id=delivery.id, reason=reason)
                return False
            if not delivery.critical:
                quiet = await uow.preferences.quiet_hours(delivery.recipient_id)
                until = quiet.until(now) if quiet else None
                if until is not None:
                    await uow.deliveries.reschedule(delivery.id, until)
                    await uow.commit()
                    return False
        return True

    async def _record(self, delivery: Delivery, result: SendResult, now: datetime) -> None:
        attempt = delivery.attempts + 1
        if result.ok:
            status, outcome, next_at = DeliveryStatus.SENT, "sent", now
        elif result.transient and not self._policy.gives_up(attempt):
            wait = self._policy.delay(attempt, self._random, result.retry_after)
            status, outcome = DeliveryStatus.PENDING, "retried"
            next_at = now + timedelta(seconds=wait)
        else:
            status, outcome, next_at = DeliveryStatus.FAILED, "failed", now
        async with self._unit_of_work() as uow:
            await uow.deliveries.record(
                delivery.id,
                attempt=attempt,
                at=now,
                outcome=outcome,
                status=status,
                next_attempt_at=next_at,
                status_code=result.status_code,
                error=result.error,
            )
            if status is DeliveryStatus.SENT:
                await uow.outbox.add(
                    NotificationDelivered(
                        notification_id=delivery.id,
                        recipient_id=delivery.recipient_id,
                        channel=delivery.channel,
                        template=delivery.template,
                        report_id=delivery.report_id,
                        work_order_id=delivery.work_order_id,
                        delivered_at=now,
                    ),
                    subject=delivery.recipient_id,
                    sequence=int(now.timestamp() * 1_000_000),
                    district=delivery.district or None,
                )
            if status is DeliveryStatus.FAILED:
                await uow.outbox.add(
                    NotificationFailed(
                        notification_id=delivery.id,
                        recipient_id=delivery.recipient_id,
                        channel=delivery.channel,
                        template=delivery.template,
                        attempts=attempt,
                        error=result.error or "failed",
                        report_id=delivery.report_id,
                        work_order_id=delivery.work_order_id,
                        failed_at=now,
                    ),
                    subject=delivery.recipient_id,
                    sequence=int(now.timestamp() * 1_000_000),
                    district=delivery.district or None,
                )
            uow.after_commit(lambda: self._on_outcome(delivery.channel, outcome))
            await uow.commit()
        _log.info(
            "delivery.attempted",
            delivery_id=delivery.id,
            channel=delivery.channel,
            attempt=attempt,
            outcome=outcome,
            status_code=result.status_code,
            error=result.error,
        )
