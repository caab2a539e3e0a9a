"""The outbox relay: publishes committed outbox rows in order, then marks them published.

Exactly one relay per database is active: on PostgreSQL it holds a session-level advisory lock
on a dedicated connection (other replicas stand by and take over when that connection dies);
SQLite is a single-process database, so its one process is always the leader. The leader checks
that connection at most once a second, so for up to a second after losing it two relays may
publish the same rows, each in order: consumers drop the repeats.

Each batch of rows is handed to the producer in ``position`` order with the aggregate id as
Kafka key, without waiting for each acknowledgement (the producer pipelines them, one request
in flight per partition, so per-aggregate order holds); once the batch is acknowledged the
unbroken acknowledged prefix is marked published in one statement, in the transaction that
records the offsets it reached. A crash between publishing and marking re-publishes the same
event ids; consumers drop them through ``processed_events``.

The relay also checks, when it becomes leader and every ``check_interval`` seconds, that the
broker still holds what it published, and notices at once when an acknowledged record lands
below what it had published to that partition before (:mod:`common.messaging.published_log`);
rows the broker lost are published again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from common.contracts.envelope import CONTENT_TYPE
from common.leadership import Leadership
from common.messaging.published_log import Delivery, EndOffsets, LostRecords, PublishedLog
from common.metrics import OutboxMetrics

Publish = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[None]]
"""(topic, key, value, headers) -> returns once the broker acknowledged the record."""

Enqueue = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[Awaitable[Delivery]]]
"""(topic, key, value, headers) -> hands the record to the producer and returns an awaitable
that resolves, once the broker acknowledged it, to where the record went. The producer keeps one
request in flight per partition, so records enqueued in order reach each partition in order."""

RECORD_HEADERS = {"content-type": CONTENT_TYPE}
"""Structured content mode of the CloudEvents Kafka binding: the whole event is the value, and
no ``ce_`` header may sit beside it (a reader takes any ``ce_`` header for binary mode)."""

_log = structlog.get_logger("gridloop.outbox")


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        outbox: sa.Table,
        enqueue: Enqueue,
        *,
        service: str,
        metrics: OutboxMetrics,
        published_offsets: sa.Table,
        end_offsets: EndOffsets | None = None,
        batch_size: int = 200,
        idle_interval: float = 0.5,
        retry_interval: float = 2.0,
        check_interval: float = 10.0,
        republish_window: timedelta = timedelta(days=14),
        metrics_interval: float = 1.0,
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._enqueue = enqueue
        self._published_log = PublishedLog(engine, published_offsets)
        self._end_offsets = end_offsets
        self._check_interval = check_interval
        self._republish_window = republish_window
        self._next_check = 0.0
        self._paused_until = 0.0
        self._service = service
        self._metrics = metrics
        self._batch_size = batch_size
        self._idle_interval = idle_interval
        self._retry_interval = retry_interval
        self._metrics_interval = metrics_interval
        self._next_metrics = 0.0
        self._wake = asyncio.Event()
        self._leadership = Leadership(engine, f"gridloop-outbox:{service}")

    def wake(self) -> None:
        """Called after a commit that added events, so they go out without waiting a poll."""
        self._wake.set()

    async def run(self) -> None:
        """Publish until cancelled."""
        try:
            while True:
                try:
                    if not await self._ensure_leadership():
                        await self._sleep(self._retry_interval)
                        continue
                    if time.monotonic() >= self._next_check:
                        await self.check_broker()
                    if time.monotonic() < self._paused_until:
                        await self._sleep(self._paused_until - time.monotonic())
                        continue
                    published = await self.publish_pending()
                    await self._update_backlog_metrics()
                    if published < self._batch_size:
                        await self._sleep(self._idle_interval)
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    _log.warning("outbox.relay_failed", error=repr(error)[:500])
                    self._next_check = 0.0  # a failure may mean a new broker: look again
                    await self._drop_leadership()
                    await self._sleep(self._retry_interval)
        finally:
            await self._drop_leadership()

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished rows in order; returns how many went out."""
        table = self._outbox
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    sa.select(
                        table.c.position,
                        table.c.event_id,
                        table.c.topic,
                        table.c.message_key,
                        table.c.event_type,
                        table.c.payload,
                    )
                    .where(table.c.published_at.is_(None))
                    .order_by(table.c.position)
                    .limit(self._batch_size)
                )
            ).all()
            await connection.rollback()
        pending = [
            await self._enqueue(row.topic, row.message_key.encode(), row.payload, RECORD_HEADERS)
            for row in rows
        ]
        outcomes = await asyncio.gather(*pending, return_exceptions=True)
        # Mark only the unbroken run of acknowledged rows: everything after a failure is sent
        # again (consumers drop the repeats), so no row is ever skipped.
        published: list[int] = []
        deliveries: list[Delivery] = []
        failure: BaseException | None = None
        for row, outcome in zip(rows, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                failure = outcome
                break
            published.append(row.position)
            deliveries.append(outcome)
        if published:
            lost = await self._mark_published(published, deliveries)
            if lost is not None:
                await self._republish(lost)
        if failure is not None:
            raise failure
        return len(published)

    async def check_broker(self) -> int:
        """Publish again what the broker lost; returns how many rows go out again."""
        self._next_check = time.monotonic() + self._check_interval
        if self._end_offsets is None:
            return 0
        lost = await self._published_log.find_lost(self._end_offsets)
        if lost is None:
            return 0
        return await self._republish(lost)

    async def _republish(self, lost: LostRecords) -> int:
        count = await self._published_log.republish(
            self._outbox, lost, window=self._republish_window
        )
        self._metrics.count_broker_loss(count)
        # Give consumers a moment to notice their positions are past the new log's end (they
        # reset to its beginning) before the log grows again.
        self._paused_until = time.monotonic() + min(self._check_interval, 3.0)
        return count

    async def _mark_published(
        self, positions: list[int], deliveries: list[Delivery]
    ) -> LostRecords | None:
        """Mark the rows published and record where they landed, in one transaction."""
        async with self._engine.begin() as connection:
            await connection.execute(
                self._outbox.update().where(
                    self._outbox.c.position.in_(sa.bindparam("positions", expanding=True))
                ),
                {"positions": positions, "published_at": datetime.now(UTC)},
            )
            lost = await self._published_log.record(connection, deliveries)
        self._metrics.count_published(len(positions))
        return lost

    async def _update_backlog_metrics(self) -> None:
        """The backlog gauges, read at most once per ``metrics_interval``."""
        if time.monotonic() < self._next_metrics:
            return
        self._next_metrics = time.monotonic() + self._metrics_interval
        table = self._outbox
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(sa.func.count(), sa.func.min(table.c.created_at)).where(
                        table.c.published_at.is_(None)
                    )
                )
            ).one()
            await connection.rollback()
        backlog, oldest = row
        age = 0.0
        if oldest is not None:
            age = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
        self._metrics.set_backlog(backlog, age)

    async def _ensure_leadership(self) -> bool:
        was_held = self._leadership.held
        leading = await self._leadership.ensure()
        self._metrics.set_leader(leading)
        if leading and not was_held:
            self._next_check = 0.0  # a new leader first checks what the broker still holds
        return leading

    async def _drop_leadership(self) -> None:
        self._metrics.set_leader(False)
        await self._leadership.release()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()
