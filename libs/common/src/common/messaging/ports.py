"""What service-layer handlers may use of the messaging runtime, whatever the service.

Pure interfaces and values, no SQLAlchemy and no Kafka: each service's
``service_layer/unit_of_work.py`` extends :class:`AbstractUnitOfWork` with its own repositories;
the SQL implementation is :class:`common.messaging.unit_of_work.SqlUnitOfWork`, and tests pass
fakes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Literal, Protocol, Self, TypeVar

from common.contracts.base import EventData
from common.contracts.envelope import CloudEvent

HandlerOutcome = Literal["processed", "stale", "ignored"]
"""What a handler did with an event: ``processed`` (applied), ``stale`` (older than what the
aggregate already shows), ``ignored`` (nothing to do, e.g. a business-key duplicate)."""


@dataclass(frozen=True, slots=True)
class EventMeta:
    """The CloudEvents attributes of an event a handler receives (its data comes typed)."""

    id: str
    type: str
    source: str
    subject: str
    time: datetime
    district: str
    correlationid: str
    causationid: str | None
    sequence: int

    @classmethod
    def of(cls, event: CloudEvent) -> EventMeta:
        return cls(
            id=event.id,
            type=event.type,
            source=event.source,
            subject=event.subject,
            time=event.time,
            district=event.district,
            correlationid=event.correlationid,
            causationid=event.causationid,
            sequence=event.sequence,
        )


class UnprocessableEvent(Exception):
    """A handler's verdict that an event can never be processed; it goes to dead letter."""


class WriteConflict(Exception):
    """A concurrent transaction wrote the same unique key first; re-read and decide again."""


class EventOutbox(Protocol):
    async def add(
        self, data: EventData, *, subject: str, sequence: int, district: str | None = None
    ) -> CloudEvent:
        """Queue ``data`` for publishing with this commit. ``district`` is the district the
        event is about; by default the district of the event being handled, or the service's."""
        ...


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


DataT = TypeVar("DataT", bound=EventData, contravariant=True)
UowT = TypeVar("UowT", bound=AbstractUnitOfWork, contravariant=True)


class EventHandler(Protocol[DataT, UowT]):
    """``handler(data, meta, uow)``: apply one event, already parsed and validated, inside the
    consumer's transaction; returns what it did (None counts as ``processed``)."""

    def __call__(
        self, data: DataT, meta: EventMeta, uow: UowT, /
    ) -> Awaitable[HandlerOutcome | None]: ...
