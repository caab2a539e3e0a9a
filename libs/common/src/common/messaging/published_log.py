"""What the relay has published, per partition, and whether the broker still has it.

The databases are the source of truth and the broker a transport: a memory-only broker that
restarts, or a Kafka cluster rebuilt from nothing, has lost records the outbox marked published.
After every acknowledged batch the relay records, per (topic, partition), the log end offset it
reached (``outbox_published_offsets``). A partition lost records when the broker's end offset is
behind what was published, or when a new record lands below it (the producer reconnected to the
new log by itself and wrote there before any check); the relay then marks the outbox rows of
that topic published within the republish window as unpublished again, so they go out once
more in their original order. Consumers drop the repeats through
``processed_events``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_log = structlog.get_logger("gridloop.outbox")

Partition = tuple[str, int]

EndOffsets = Callable[[str], Awaitable[Mapping[int, int] | None]]
"""topic -> the broker's log end offset per partition, or None if the topic does not exist."""


@dataclass(frozen=True)
class Delivery:
    """Where the broker put one record."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class LostRecords:
    """Partitions whose log ends before what the relay published there."""

    behind: dict[Partition, tuple[int, int]]
    """(topic, partition) -> (where the broker's log ends now, or where a new record landed;
    the end offset the relay had published up to)."""

    @property
    def topics(self) -> set[str]:
        return {topic for topic, _ in self.behind}


class PublishedLog:
    def __init__(self, engine: AsyncEngine, table: sa.Table) -> None:
        self._engine = engine
        self._table = table
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        statement = insert(table)
        # Built once; each partition's values go with its execution.
        self._upsert = statement.on_conflict_do_update(
            index_elements=["topic", "partition"],
            set_={
                "next_offset": statement.excluded.next_offset,
                "updated_at": statement.excluded.updated_at,
            },
        )

    async def load(self) -> dict[Partition, int]:
        async with self._engine.connect() as connection:
            published = await self._read(connection)
            await connection.rollback()
        return published

    async def _read(self, connection: AsyncConnection) -> dict[Partition, int]:
        table = self._table
        rows = (
            await connection.execute(
                sa.select(table.c.topic, table.c.partition, table.c.next_offset)
            )
        ).all()
        return {(row.topic, row.partition): row.next_offset for row in rows}

    async def record(
        self, connection: AsyncConnection, deliveries: Iterable[Delivery]
    ) -> LostRecords | None:
        """Remember, in ``connection``'s transaction, the highest end offset reached per
        partition (one statement per partition of the batch).

        A record landing *below* the end recorded before means the partition's log started
        again: the broker lost what it held, and a producer that reconnected by itself has
        already written into the new log, so comparing end offsets later could no longer tell.
        Such partitions are returned (with the offset the record got and the end recorded
        before) for the caller to publish the lost rows again."""
        reached: dict[Partition, int] = {}
        lowest: dict[Partition, int] = {}
        for delivery in deliveries:
            key = (delivery.topic, delivery.partition)
            reached[key] = max(reached.get(key, 0), delivery.offset + 1)
            lowest[key] = min(lowest.get(key, delivery.offset), delivery.offset)
        if not reached:
            return None
        before = await self._read(connection)
        behind = {
            key: (offset, before[key])
            for key, offset in lowest.items()
            if key in before and offset < before[key]
        }
        now = datetime.now(UTC)
        for (topic, partition), next_offset in reached.items():
            await connection.execute(
                self._upsert,
                {
                    "topic": topic,
                    "partition": partition,
                    "next_offset": next_offset,
                    "updated_at": now,
                },
            )
        return LostRecords(behind) if behind else None

    async def find_lost(self, end_offsets: EndOffsets) -> LostRecords | None:
        """Compare what was published with what the broker holds now."""
        published = await self.load()
        behind: dict[Partition, tuple[int, int]] = {}
        for topic in sorted({topic for topic, _ in published}):
            ends = await end_offsets(topic)
            for (published_topic, partition), next_offset in published.items():
                if published_topic != topic:
                    continue
                end = 0 if ends is None else ends.get(partition, 0)
                if end < next_offset:
                    behind[(topic, partition)] = (end, next_offset)
        return LostRecords(behind) if behind else None

    async def republish(self, outbox: sa.Table, lost: LostRecords, *, window: timedelta) -> int:
        """Mark the topics' rows published within ``window`` unpublished again and forget what
        was recorded for them; returns how many rows will go out again."""
        since = datetime.now(UTC) - window
        topics = sorted(lost.topics)
        async with self._engine.begin() as connection:
            result = await connection.execute(
                outbox.update()
                .where(
                    outbox.c.topic.in_(topics),
                    outbox.c.published_at.is_not(None),
                    outbox.c.created_at >= since,
                )
                .values(published_at=None)
            )
            await connection.execute(self._table.delete().where(self._table.c.topic.in_(topics)))
        count = int(result.rowcount or 0)
        _log.error(
            "outbox.broker_lost_records",
            topics=topics,
            partitions={
                f"{t}[{p}]": {"broker_end": e, "published_end": n}
                for (t, p), (e, n) in sorted(lost.behind.items())
            },
            republishing=count,
            window_hours=round(window.total_seconds() / 3600, 1),
        )
        return count
