"""What the notification handlers need from a unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from common.messaging.ports import AbstractUnitOfWork
from common.paging import SortKey
from notification.domain.delivery import Attempt, Delivery, DeliveryStatus, Webhook
from notification.domain.messages import Message, StoredNotification
from notification.domain.preferences import Preference, QuietHours


class NotificationStore(Protocol):
    async def add(
        self, notification_id: str, event_id: str, message: Message, at: datetime
    ) -> bool:
        """False if the notification exists already (a replay): nothing is stored then."""
        ...

    async def inbox(
        self, recipient_id: str, *, limit: int, after: SortKey | None, unread: bool = False
    ) -> list[StoredNotification]:
        """Newest first (ties by id, descending), below ``after``; at most ``limit``; only
        the unread ones if ``unread``."""
        ...

    async def mark_read(
        self, recipient_id: str, notification_id: str, at: datetime
    ) -> StoredNotification | None:
        """Mark the recipient's message read (once: a second time keeps the first time); None
        if the recipient has no such message."""
        ...

    async def mark_all_read(self, recipient_id: str, at: datetime) -> int:
        """Mark every unread message of the recipient read; how many were."""
        ...

    async def unread_count(self, recipient_id: str) -> int: ...


class DeliveryStore(Protocol):
    async def add(self, delivery: Delivery) -> bool:
        """False if the delivery exists already (a replay): nothing is stored then."""
        ...

    async def get(self, delivery_id: str) -> Delivery | None: ...

    async def due(self, now: datetime, limit: int) -> list[Delivery]: ...

    async def claim(self, delivery: Delivery, until: datetime) -> bool: ...

    async def record(
        self,
        delivery_id: str,
        *,
        attempt: int,
        at: datetime,
        outcome: str,
        status: DeliveryStatus,
        next_attempt_at: datetime,
        status_code: int | None,
        error: str | None,
    ) -> None: ...

    async def reschedule(self, delivery_id: str, at: datetime) -> None: ...

    async def set_status(
        self, delivery_id: str, status: DeliveryStatus, at: datetime, error: str | None = None
    ) -> None: ...

    async def attempts(self, delivery_id: str) -> list[Attempt]: ...

    async def newest_sequence(self, work_order_id: str) -> int: ...

    async def listed(
        self,
        *,
        status: DeliveryStatus | None,
        recipient_id: str | None,
        limit: int,
        districts: Sequence[str] | None = None,
    ) -> list[Delivery]: ...


class WebhookStore(Protocol):
    async def get(self, district: str, audience: str) -> Webhook | None: ...

    async def put(self, webhook: Webhook, at: datetime) -> None: ...

    async def delete(self, district: str, audience: str) -> bool: ...

    async def all(self) -> list[Webhook]: ...


class PreferenceStore(Protocol):
    async def enabled(self, recipient_id: str, kind: str, channel: str) -> bool: ...

    async def put(self, preference: Preference, at: datetime) -> None: ...

    async def of(self, recipient_id: str) -> list[Preference]: ...

    async def quiet_hours(self, recipient_id: str) -> QuietHours | None: ...

    async def put_quiet_hours(self, quiet: QuietHours, at: datetime) -> None: ...

    async def delete_quiet_hours(self, recipient_id: str) -> bool: ...


class WorkOrderVersions(Protocol):
    async def note(self, work_order_id: str, sequence: int) -> None: ...

    async def newest(self, work_order_id: str) -> int: ...


class WeChatOpenIds(Protocol):
    async def openid(self, recipient_id: str) -> str | None: ...

    async def put(self, recipient_id: str, openid: str, at: datetime) -> None: ...

    async def delete(self, recipient_id: str) -> bool: ...


class AbstractNotificationUnitOfWork(AbstractUnitOfWork, Protocol):
    @property
    def notifications(self) -> NotificationStore: ...

    @property
    def deliveries(self) -> DeliveryStore: ...

    @property
    def webhooks(self) -> WebhookStore: ...

    @property
    def preferences(self) -> PreferenceStore: ...

    @property
    def work_orders(self) -> WorkOrderVersions: ...

    @property
    def wechat(self) -> WeChatOpenIds: ...
