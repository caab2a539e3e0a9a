"""What service-layer handlers may use of the messaging runtime, whatever the service.

Pure interfaces and values, no SQLAlchemy and no Kafka: each service's
``service_layer/unit_of_work.py`` extends :class:`AbstractUnitOfWork` with its own repositories;
the SQL implementation is :class:`common.messaging.unit_of_work.SqlUnitOfWork`, and tests pass
fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Literal, Protocol, Self

from common.contracts.envelope import CloudEvent
from common.contracts.events import EventData

HandlerOutcome = Literal["processed", "stale", "ignored"]
"""What a handler did with an event: ``processed`` (applied), ``stale`` (older than what the
aggregate already shows), ``ignored`` (nothing to do, e.g. a business-key duplicate)."""


class UnprocessableEvent(Exception):
    """A handler's verdict that an event can never be processed; it goes to dead letter."""


class WriteConflict(Exception):
    """A concurrent transaction wrote the same unique key first; re-read and decide again."""


class EventOutbox(Protocol):
    async def add(self, data: EventData, *, subject: str, sequence: int) -> CloudEvent: ...


class AbstractUnitOfWork(Protocol):
    """One transaction: the service's state and the events it emits commit together."""

    @property
    def outbox(self) -> EventOutbox: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...
    def after_commit(self, callback: Callable[[], None]) -> None: ...
