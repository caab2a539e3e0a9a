"""What the notification handlers need from a unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from common.messaging.ports import AbstractUnitOfWork
from common.paging import SortKey
from notification.domain.messages import Message, StoredNotification


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


class AbstractNotificationUnitOfWork(AbstractUnitOfWork, Protocol):
    @property
    def notifications(self) -> NotificationStore: ...
