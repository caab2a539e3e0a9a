"""The idempotent consumer: exactly-once effects over at-least-once delivery.

For each record: parse the CloudEvent; in one transaction claim ``(consumer, event id)`` in
``processed_events``, run the handler, commit. Only then does the entrypoint commit the Kafka
offset.
Transient failures are retried with backoff; a record that cannot be parsed, fails
validation, or keeps failing goes to the dead-letter topic with its origin, and the partition
keeps flowing. A database (or network) that cannot be reached is not the record's fault: the
consumer waits for it, retrying with capped backoff for as long as it takes, and never
dead-letters a record for it. Nothing is dropped without a trace.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, Literal, Protocol, TypeVar

import structlog
from pydantic import ValidationError

from common.contracts.envelope import CloudEvent, EnvelopeError
from common.contracts.topics import Topic
from common.db import is_unavailable
from common.messaging.outbox import OutboxWriter
from common.messaging.ports import AbstractUnitOfWork, HandlerOutcome, UnprocessableEvent
from common.messaging.processed_events import ProcessedEvents
from common.metrics import ConsumerMetrics

_log = structlog.get_logger("gridloop.consumer")


class ConsumingUnitOfWork(AbstractUnitOfWork, Protocol):
    """A SQL unit of work as the consumer drives it: the handler's repositories plus the record
    of processed events and an outbox that names the consumed event as cause."""

    @property
    def outbox(self) -> OutboxWriter: ...
    @property
    def processed_events(self) -> ProcessedEvents: ...


UowT = TypeVar("UowT", bound=ConsumingUnitOfWork)
EventHandler = Callable[[CloudEvent, UowT], Awaitable[HandlerOutcome | None]]


@dataclass(frozen=True)
class IncomingRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    first_delay: float = 0.2
    max_delay: float = 5.0
    unavailable_max_delay: float = 30.0
    """Backoff ceiling while waiting for an unreachable database (retried without limit)."""

    def delay(self, attempt: int, *, ceiling: float | None = None) -> float:
        """Exponential backoff with full jitter; ``attempt`` counts from 1."""
        top = min(ceiling or self.max_delay, self.first_delay * 2 ** min(attempt - 1, 30))
        return random.uniform(top / 2, top)


DeadLetterPublish = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[None]]


@dataclass
class EventConsumer(Generic[UowT]):
    """Handles records of one consumer group. ``handlers`` maps CloudEvents types to handlers;
    other types on the same topics are acknowledged and counted as ignored."""

    name: str
    service: str
    unit_of_work: Callable[[], UowT]
    handlers: Mapping[str, EventHandler[UowT]]
    dead_letter: DeadLetterPublish
    metrics: ConsumerMetrics
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        self.metrics.prepare(self.name, list(self.handlers))

    async def handle(self, record: IncomingRecord) -> None:
        started = time.perf_counter()
        try:
            await self._handle(record)
        finally:
            self.metrics.observe_duration(self.name, time.perf_counter() - started)

    async def _handle(self, record: IncomingRecord) -> None:
        try:
            event = CloudEvent.from_bytes(record.value)
        except EnvelopeError as error:
            await self._dead_letter(record, "unparseable", str(error), event_type="unknown")
            return
        handler = self.handlers.get(event.type)
        if handler is None:
            self._count(event.type, "ignored", known=False)
            return
        with structlog.contextvars.bound_contextvars(
            correlation_id=event.correlationid, event_id=event.id, event_type=event.type
        ):
            await self._handle_with_retries(record, event, handler)

    async def _handle_with_retries(
        self, record: IncomingRecord, event: CloudEvent, handler: EventHandler[UowT]
    ) -> None:
        attempt = 0
        waiting = 0
        while True:
            attempt += 1
            try:
                outcome = await self._apply_once(event, handler)
            except (ValidationError, UnprocessableEvent) as error:
                await self._dead_letter(record, "invalid", str(error), event_type=event.type)
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if is_unavailable(error):
                    waiting += 1
                    attempt -= 1  # waiting for the database does not use up the event's tries
                    self.metrics.count_retry(self.name)
                    self.metrics.set_waiting(self.name, True)
                    delay = self.retry.delay(waiting, ceiling=self.retry.unavailable_max_delay)
                    _log.warning(
                        "event.waiting_for_infrastructure",
                        waited_attempts=waiting,
                        delay=round(delay, 3),
                        error=repr(error)[:300],
                    )
                    await asyncio.sleep(delay)
                    continue
                if attempt >= self.retry.attempts:
                    _log.exception("event.retries_exhausted", attempts=attempt)
                    await self._dead_letter(
                        record, "retries_exhausted", repr(error), event_type=event.type
                    )
                    return
                self.metrics.count_retry(self.name)
                delay = self.retry.delay(attempt)
                _log.warning(
                    "event.retrying", attempt=attempt, delay=round(delay, 3), error=repr(error)
                )
                await asyncio.sleep(delay)
                continue
            if waiting:
                self.metrics.set_waiting(self.name, False)
                _log.info("event.infrastructure_back", waited_attempts=waiting)
            self._count(event.type, outcome)
            if outcome == "processed":
                _log.info("event.processed", consumer=self.name)
            else:
                _log.info("event.skipped", consumer=self.name, outcome=outcome)
            return

    async def _apply_once(
        self, event: CloudEvent, handler: EventHandler[UowT]
    ) -> Literal["processed", "stale", "ignored", "duplicate"]:
        uow = self.unit_of_work()
        async with uow:
            if not await uow.processed_events.claim(self.name, event):
                return "duplicate"
            uow.outbox.caused_by(event)
            outcome = await handler(event, uow) or "processed"
            await uow.commit()
            return outcome

    def _count(self, event_type: str, outcome: str, *, known: bool = True) -> None:
        label = event_type if known else "other"
        self.metrics.count(self.name, label, outcome)

    async def _dead_letter(
        self, record: IncomingRecord, reason: str, error: str, *, event_type: str
    ) -> None:
        headers = {
            "gridloop-dlq-original-topic": record.topic,
            "gridloop-dlq-original-partition": str(record.partition),
            "gridloop-dlq-original-offset": str(record.offset),
            "gridloop-dlq-consumer": self.name,
            "gridloop-dlq-service": self.service,
            "gridloop-dlq-reason": reason,
            "gridloop-dlq-error": error[:2000],
            "gridloop-dlq-failed-at": datetime.now(UTC).isoformat(),
        }
        # Raises if the broker refuses: the offset is then not committed and the record
        # comes back, rather than being lost.
        await self.dead_letter(
            Topic.DEADLETTER.value, record.key or b"", record.value or b"", headers
        )
        self.metrics.count_dead_letter(self.name, reason)
        self._count(event_type, "dead_lettered", known=event_type in self.handlers)
        _log.error(
            "event.dead_lettered",
            consumer=self.name,
            reason=reason,
            error=error[:500],
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
