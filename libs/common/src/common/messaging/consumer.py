"""The idempotent consumer: exactly-once effects over at-least-once delivery, a batch at a time.

For each batch of records the broker hands over: parse every record once (the CloudEvents
envelope and the data model its type names); in one transaction claim ``(consumer, event id)``
of the whole batch in ``processed_events`` (one statement), run each new event's handler with
its typed data, write the outbox rows (one statement), commit. Only then does the entrypoint
commit the Kafka offsets.

A record that cannot be parsed or whose data fail validation goes to the dead-letter topic with
its origin, and the partition keeps flowing. If a handler fails, the batch is applied again with
a savepoint around each event: the others commit, and the failed event — with the later events
of the same key, so per-key order holds — is retried alone with backoff and dead-lettered if it
keeps failing. A database (or network) that cannot be reached is not the records' fault: the
consumer waits for it, retrying with capped backoff for as long as it takes, and never
dead-letters a record for it. Nothing is dropped without a trace.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, Protocol, TypeVar

import structlog
from pydantic import ValidationError

from common.contracts.base import EventData
from common.contracts.envelope import CloudEvent, EnvelopeError
from common.contracts.topics import Topic
from common.db import is_unavailable
from common.messaging.outbox import OutboxWriter
from common.messaging.ports import (
    AbstractUnitOfWork,
    EventHandler,
    EventMeta,
    HandlerOutcome,
    UnprocessableEvent,
)
from common.messaging.processed_events import ProcessedEvents
from common.metrics import ConsumerMetrics

_log = structlog.get_logger("gridloop.consumer")

Outcome = Literal["processed", "stale", "ignored", "duplicate"]


class ConsumingUnitOfWork(AbstractUnitOfWork, Protocol):
    """A SQL unit of work as the consumer drives it: the handler's repositories plus the record
    of processed events, an outbox that names the consumed event as cause, and savepoints."""

    @property
    def outbox(self) -> OutboxWriter: ...
    @property
    def processed_events(self) -> ProcessedEvents: ...
    def savepoint(self) -> Any: ...


UowT = TypeVar("UowT", bound=ConsumingUnitOfWork)
DataT = TypeVar("DataT", bound=EventData)
ResultT = TypeVar("ResultT")


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


@dataclass(frozen=True)
class Subscription:
    """One event type a consumer handles: its data model and its handler (typed against the
    service's abstract unit of work, which the consumer's SQL unit of work implements)."""

    model: type[EventData]
    handler: EventHandler[Any, Any]


def handles(model: type[DataT], handler: EventHandler[DataT, Any]) -> tuple[str, Subscription]:
    """``dict([handles(WorkOrderFiled, on_filed), …])`` builds a consumer's handler table; the
    handler's data parameter must be of ``model``'s type."""
    return model.event_type, Subscription(model, handler)


@dataclass(frozen=True)
class _Parsed(Generic[UowT]):
    record: IncomingRecord
    meta: EventMeta
    data: EventData
    subscription: Subscription


class _HandlerFailed(Exception):
    """A handler raised in the fast path; the batch is applied again event by event."""


def _is_verdict(error: BaseException | None) -> bool:
    """The domain's word that an event can never be applied: no retry changes it."""
    return isinstance(error, ValidationError | UnprocessableEvent)


@dataclass
class EventConsumer(Generic[UowT]):
    """Handles the records of one consumer group. ``handlers`` maps CloudEvents types to their
    :class:`Subscription`; other types on the same topics are acknowledged and counted as
    ignored."""

    name: str
    service: str
    unit_of_work: Callable[[], UowT]
    handlers: Mapping[str, Subscription]
    dead_letter: DeadLetterPublish
    metrics: ConsumerMetrics
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        self.metrics.prepare(self.name, list(self.handlers))

    async def handle(self, record: IncomingRecord) -> None:
        await self.handle_batch([record])

    async def handle_batch(self, records: Sequence[IncomingRecord]) -> None:
        """Apply a batch; returns once every record is applied, skipped or dead-lettered (the
        caller then commits the offsets). Raises only if even dead-lettering failed."""
        started = time.perf_counter()
        try:
            parsed = await self._parse(records)
            outcomes = await self._apply(parsed) if parsed else {}
        finally:
            self.metrics.observe_duration(self.name, time.perf_counter() - started)
        if outcomes:
            counts: dict[str, int] = {}
            for outcome in outcomes.values():
                counts[outcome] = counts.get(outcome, 0) + 1
            _log.info("events.batch", consumer=self.name, records=len(records), **counts)

    async def _parse(self, records: Sequence[IncomingRecord]) -> list[_Parsed[UowT]]:
        parsed: list[_Parsed[UowT]] = []
        for record in records:
            try:
                event = CloudEvent.from_bytes(record.value)
            except EnvelopeError as error:
                await self._dead_letter(record, "unparseable", str(error), event_type="unknown")
                continue
            subscription = self.handlers.get(event.type)
            if subscription is None:
                self._count(event.type, "ignored", known=False)
                continue
            try:
                data = subscription.model.model_validate(event.data)
            except ValidationError as error:
                await self._dead_letter(record, "invalid", str(error), event_type=event.type)
                continue
            parsed.append(_Parsed(record, EventMeta.of(event), data, subscription))
        return parsed

    async def _apply(self, batch: list[_Parsed[UowT]]) -> dict[str, Outcome]:
        """The fast path: the whole batch in one transaction. If a handler (or the commit)
        fails, the batch is applied again with a savepoint per event; what failed there is
        retried alone — and if even that transaction fails, every event is, in order. A
        domain verdict (the event can never be applied) is dead-lettered without retries."""
        try:
            return await self._while_unavailable(lambda: self._apply_together(batch))
        except Exception as error:
            cause = error.__cause__ if isinstance(error, _HandlerFailed) else error
            _log.warning("events.batch_failed", consumer=self.name, error=repr(cause)[:300])
            if len(batch) == 1:  # applying it apart would only repeat what just failed
                if _is_verdict(cause):
                    await self._refuse(batch[0], cause)
                    return {}
                outcome = await self._apply_alone(batch[0], tried=1)
                return {batch[0].meta.id: outcome} if outcome is not None else {}
        try:
            outcomes, set_aside, refused = await self._while_unavailable(
                lambda: self._apply_apart(batch)
            )
        except Exception as error:
            _log.warning("events.batch_failed_apart", consumer=self.name, error=repr(error)[:300])
            outcomes, set_aside, refused = {}, [(parsed, 0) for parsed in batch], []
        for parsed, verdict in refused:
            await self._refuse(parsed, verdict)
        for parsed, tried in set_aside:
            outcome = await self._apply_alone(parsed, tried=tried)
            if outcome is not None:
                outcomes[parsed.meta.id] = outcome
        return outcomes

    async def _refuse(self, parsed: _Parsed[UowT], verdict: BaseException | None) -> None:
        await self._dead_letter(parsed.record, "invalid", str(verdict), event_type=parsed.meta.type)

    async def _apply_together(self, batch: list[_Parsed[UowT]]) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {}
        uow = self.unit_of_work()
        async with uow:
            fresh = await uow.processed_events.claim_many(self.name, [p.meta for p in batch])
            for parsed in batch:
                if parsed.meta.id not in fresh:
                    outcomes.setdefault(parsed.meta.id, "duplicate")
                    continue
                fresh.discard(parsed.meta.id)  # the same event twice in one batch
                try:
                    outcomes[parsed.meta.id] = await self._run(parsed, uow)
                except Exception as error:
                    if is_unavailable(error):
                        raise
                    raise _HandlerFailed from error
            await uow.commit()
        self._count_all(batch, outcomes)
        return outcomes

    async def _apply_apart(
        self, batch: list[_Parsed[UowT]]
    ) -> tuple[
        dict[str, Outcome], list[tuple[_Parsed[UowT], int]], list[tuple[_Parsed[UowT], Exception]]
    ]:
        """Each event in its own savepoint; a failed event and the later events of its key
        are set aside (with how often each was tried; their claims released) to be applied
        alone, in order; an event the domain refuses is returned with its verdict."""
        outcomes: dict[str, Outcome] = {}
        set_aside: list[tuple[_Parsed[UowT], int]] = []
        refused: list[tuple[_Parsed[UowT], Exception]] = []
        blocked_keys: set[bytes | None] = set()
        uow = self.unit_of_work()
        async with uow:
            fresh = await uow.processed_events.claim_many(self.name, [p.meta for p in batch])
            for parsed in batch:
                if parsed.meta.id not in fresh:
                    outcomes.setdefault(parsed.meta.id, "duplicate")
                    continue
                fresh.discard(parsed.meta.id)
                if parsed.record.key in blocked_keys:
                    set_aside.append((parsed, 0))
                    continue
                try:
                    async with uow.savepoint():
                        outcomes[parsed.meta.id] = await self._run(parsed, uow)
                except Exception as error:
                    if is_unavailable(error):
                        raise
                    if _is_verdict(error):
                        refused.append((parsed, error))
                        continue
                    _log.warning(
                        "event.failed_in_batch",
                        consumer=self.name,
                        event_id=parsed.meta.id,
                        error=repr(error)[:300],
                    )
                    blocked_keys.add(parsed.record.key)
                    set_aside.append((parsed, 1))
            unclaimed = [p.meta.id for p, _ in set_aside] + [p.meta.id for p, _ in refused]
            await uow.processed_events.release(self.name, unclaimed)
            await uow.commit()
        self._count_all(batch, outcomes)
        return outcomes, set_aside, refused

    async def _apply_alone(self, parsed: _Parsed[UowT], *, tried: int) -> Outcome | None:
        """One event in its own transaction, retried with backoff; dead-lettered (None) if it
        keeps failing (``tried`` attempts already made count) or the domain refuses it."""
        meta = parsed.meta
        attempt = tried
        if attempt:
            self.metrics.count_retry(self.name)
            await asyncio.sleep(self.retry.delay(attempt))
        while True:
            attempt += 1
            try:
                outcome = await self._while_unavailable(lambda: self._apply_one(parsed))
            except (ValidationError, UnprocessableEvent) as error:
                await self._dead_letter(parsed.record, "invalid", str(error), event_type=meta.type)
                return None
            except Exception as error:
                if attempt >= self.retry.attempts:
                    _log.error(
                        "event.retries_exhausted",
                        consumer=self.name,
                        event_id=meta.id,
                        attempts=attempt,
                        error=repr(error)[:500],
                    )
                    await self._dead_letter(
                        parsed.record, "retries_exhausted", repr(error), event_type=meta.type
                    )
                    return None
                self.metrics.count_retry(self.name)
                delay = self.retry.delay(attempt)
                _log.warning(
                    "event.retrying",
                    consumer=self.name,
                    event_id=meta.id,
                    attempt=attempt,
                    delay=round(delay, 3),
                    error=repr(error)[:300],
                )
                await asyncio.sleep(delay)
                continue
            self._count(meta.type, outcome)
            return outcome

    async def _apply_one(self, parsed: _Parsed[UowT]) -> Outcome:
        uow = self.unit_of_work()
        async with uow:
            if not await uow.processed_events.claim(self.name, parsed.meta):
                return "duplicate"
            outcome = await self._run(parsed, uow)
            await uow.commit()
            return outcome

    async def _run(self, parsed: _Parsed[UowT], uow: UowT) -> Outcome:
        uow.outbox.caused_by(parsed.meta)
        with structlog.contextvars.bound_contextvars(
            correlation_id=parsed.meta.correlationid,
            event_id=parsed.meta.id,
            event_type=parsed.meta.type,
        ):
            outcome: HandlerOutcome = (
                await parsed.subscription.handler(parsed.data, parsed.meta, uow) or "processed"
            )
            _log.debug("event.handled", consumer=self.name, outcome=outcome)
        return outcome

    async def _while_unavailable(self, attempt: Callable[[], Awaitable[ResultT]]) -> ResultT:
        """Run ``attempt`` until it does not fail for an unreachable database."""
        waited = 0
        while True:
            try:
                result = await attempt()
            except Exception as error:
                if not is_unavailable(error):
                    raise
                waited += 1
                self.metrics.count_retry(self.name)
                self.metrics.set_waiting(self.name, True)
                delay = self.retry.delay(waited, ceiling=self.retry.unavailable_max_delay)
                _log.warning(
                    "event.waiting_for_infrastructure",
                    consumer=self.name,
                    waited_attempts=waited,
                    delay=round(delay, 3),
                    error=repr(error)[:300],
                )
                await asyncio.sleep(delay)
                continue
            if waited:
                self.metrics.set_waiting(self.name, False)
                _log.info("event.infrastructure_back", consumer=self.name, waited_attempts=waited)
            return result

    def _count_all(self, batch: Iterable[_Parsed[UowT]], outcomes: Mapping[str, Outcome]) -> None:
        for parsed in batch:
            outcome = outcomes.get(parsed.meta.id)
            if outcome is not None:
                self._count(parsed.meta.type, outcome)

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
        # Raises if the broker refuses: the offsets are then not committed and the records
        # come back, rather than being lost.
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
