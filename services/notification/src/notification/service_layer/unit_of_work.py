"""What the notification handlers need from a unit of work."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from common.contracts.envelope import CloudEvent
from common.contracts.events import EventData
from notification.domain.messages import Message, StoredNotification


class NotificationStore(Protocol):
    async def add(
        self, notification_id: str, event_id: str, message: Message, at: datetime
    ) -> None: ...
    async def inbox(
        self, recipient_id: str, *, limit: int, offset: int
    ) -> list[StoredNotification]: ...


class Outbox(Protocol):
    async def add(self, data: EventData, *, subject: str, sequence: int) -> CloudEvent: ...


class NotificationUnitOfWork(Protocol):
    @property
    def notifications(self) -> NotificationStore: ...
    @property
    def outbox(self) -> Outbox: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...
    def after_commit(self, callback: Callable[[], None]) -> None: ...
