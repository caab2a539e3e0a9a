"""The idempotent consumer's record of handled events: one row per (consumer, event id) in the
``processed_events`` table, written in the same transaction as the handler's effects."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from common.messaging.ports import EventMeta


class ProcessedEvents:
    def __init__(self, session: AsyncSession, table: sa.Table) -> None:
        self._session = session
        self._table = table

    async def claim(self, consumer: str, event: EventMeta) -> bool:
        """Record that ``consumer`` handles ``event`` in the current transaction.

        False means it was handled before and the caller must skip it. The row commits or rolls
        back together with the handler's effects, so a failed attempt leaves no trace.
        """
        return event.id in await self.claim_many(consumer, [event])

    async def claim_many(self, consumer: str, events: Sequence[EventMeta]) -> set[str]:
        """Claim a batch in one statement; returns the ids not handled before."""
        if not events:
            return set()
        dialect = self._session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        now = datetime.now(UTC)
        rows = {
            event.id: {
                "consumer": consumer,
                "event_id": event.id,
                "event_type": event.type,
                "processed_at": now,
            }
            for event in events
        }
        statement = (
            insert(self._table)
            .values(list(rows.values()))
            .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
            .returning(self._table.c.event_id)
        )
        result = await self._session.exec(statement)
        return {row[0] for row in result}

    async def release(self, consumer: str, event_ids: Sequence[str]) -> None:
        """Undo claims in the current transaction (events that will be handled again alone)."""
        if event_ids:
            table = self._table
            await self._session.exec(
                table.delete().where(
                    table.c.consumer == consumer, table.c.event_id.in_(list(event_ids))
                )
            )
