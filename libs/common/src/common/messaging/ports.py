"""What service-layer handlers may ask of a unit of work, whatever the service.

Each service's ``service_layer/unit_of_work.py`` extends :class:`UnitOfWork` with its own
repositories; the SQL implementation is :class:`common.messaging.unit_of_work.SqlUnitOfWork`,
and tests pass fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from common.contracts.envelope import CloudEvent
from common.contracts.events import EventData


class EventOutbox(Protocol):
    async def add(self, data: EventData, *, subject: str, sequence: int) -> CloudEvent: ...


class UnitOfWork(Protocol):
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
