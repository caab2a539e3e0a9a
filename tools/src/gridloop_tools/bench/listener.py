"""When each report's reporter hears back: the notification service's delivery log read from
the broker.

Every message notification writes to an inbox is logged as a CloudEvent
``gridloop.notification.delivered`` on ``gridloop.notifications.v1``, with the template and
the report it is about. The first message to the reporter about their report closes its loop:
``report_filed`` (立案) as planned, ``report_merged`` when dispatch merged it into an order
nearby (并单), ``report_rejected`` when it was not filed. The listener reads the topic without
a consumer group, from the end of every partition at the time it started, so nothing earlier
counts and the services' own groups are untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from common.contracts.events import NotificationDelivered
from common.contracts.topics import Topic
from gridloop_tools.bench.config import BenchError

__all__ = ["CLOSING_TEMPLATES", "Arrival", "NotificationListener"]

FILED = "report_filed"
MERGED = "report_merged"
REJECTED = "report_rejected"
CLOSING_TEMPLATES = frozenset({FILED, MERGED, REJECTED})
"""The messages that tell a reporter what became of their report."""


@dataclass(frozen=True)
class Arrival:
    template: str
    seen: float
    """``time.perf_counter()`` when the listener read the record."""


class NotificationListener:
    """Reads the delivery log from its end and notes, per report id, the first closing
    message to arrive (with the time it was read)."""

    def __init__(
        self, bootstrap_servers: str, *, wait_ms: int = 20, connect_seconds: float = 30.0
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.wait_ms = wait_ms
        self.connect_seconds = connect_seconds
        self.arrivals: dict[str, Arrival] = {}
        self.records = 0
        self.unreadable = 0
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._waiters: dict[str, asyncio.Future[Arrival | None]] = {}

    async def start(self) -> None:
        """Assign every partition of the topic at its current end; return once the positions
        are known, so a message written after this returns is read."""
        timeout = self.connect_seconds
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            fetch_max_wait_ms=self.wait_ms,
            request_timeout_ms=int(timeout * 1000),
        )
        try:
            await asyncio.wait_for(consumer.start(), timeout)
            partitions = await asyncio.wait_for(self._partitions(consumer), timeout)
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for partition in partitions:
                await consumer.position(partition)
        except (KafkaError, OSError, TimeoutError) as error:
            await consumer.stop()
            raise BenchError(
                f"cannot read {Topic.NOTIFICATIONS.value} from the broker at "
                f"{self.bootstrap_servers}: {type(error).__name__} {error}".rstrip()
            ) from error
        self._consumer = consumer
        self._task = asyncio.create_task(self._read(consumer), name="notification-listener")
        self._task.add_done_callback(self._release_waiters)

    @staticmethod
    async def _partitions(consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        topic = Topic.NOTIFICATIONS.value
        while True:
            found = consumer.partitions_for_topic(topic)
            if found:
                return [TopicPartition(topic, partition) for partition in sorted(found)]
            await consumer.force_metadata_update()
            if not consumer.partitions_for_topic(topic):
                await asyncio.sleep(0.5)

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200, max_records=1000)
            seen = time.perf_counter()
            for records in batch.values():
                for record in records:
                    self.records += 1
                    self._note(record.value, seen)
            if batch:
                self._changed.set()

    def _note(self, value: bytes | None, seen: float) -> None:
        try:
            event: Any = json.loads(value or b"")
            if event.get("type") != NotificationDelivered.event_type:
                return
            data = event["data"]
            template, report_id = data.get("template"), data.get("report_id")
        except (ValueError, AttributeError, KeyError, TypeError):
            self.unreadable += 1
            return
        if template in CLOSING_TEMPLATES and report_id and str(report_id) not in self.arrivals:
            arrival = self.arrivals[str(report_id)] = Arrival(str(template), seen)
            waiter = self._waiters.pop(str(report_id), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(arrival)

    def _release_waiters(self, _: asyncio.Task[None]) -> None:
        """The reader stopped: nobody waits for a message that cannot come."""
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def closing(self, report_id: str, within: float) -> Arrival | None:
        """The closing message of ``report_id``, once read (None if it did not come within
        ``within`` seconds, or the reader stopped)."""
        if report_id in self.arrivals:
            return self.arrivals[report_id]
        if self._task is None or self._task.done():
            return None
        waiter = self._waiters.setdefault(report_id, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), within)
        except TimeoutError:
            return None

    async def closes(self, report_id: str, within: float) -> bool:
        """Whether the loop of ``report_id`` closes within ``within`` seconds."""
        return await self.closing(report_id, within) is not None

    def failure(self) -> BaseException | None:
        """Why the reader stopped, if it did."""
        if self._task is None or not self._task.done() or self._task.cancelled():
            return None
        return self._task.exception()

    async def wait_for(self, report_ids: set[str], *, until: float) -> None:
        """Return once every one of ``report_ids`` has arrived, or at ``perf_counter()``
        ``until``, or when the reader failed (:meth:`failure` says why)."""
        while not report_ids.issubset(self.arrivals):
            left = until - time.perf_counter()
            if left <= 0 or self.failure() is not None:
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, KafkaError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
