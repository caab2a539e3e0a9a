"""The idempotent consumer's record of handled events: one row per (consumer, event id) in the
``processed_events`` table, written in the same transaction as the handler's effects."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from common.contracts.envelope import CloudEvent


class ProcessedEvents:
    def __init__(self, session: AsyncSession, table: sa.Table) -> None:
        self._session = session
        self._table = table

    async def claim(self, consumer: str, event: CloudEvent) -> bool:
        """Record that ``consumer`` handles ``event`` in the current transaction.

        False means it was handled before and the caller must skip it. The row commits or rolls
        back together with the handler's effects, so a failed attempt leaves no trace.
        """
        dialect = self._session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(self._table)
            .values(
                consumer=consumer,
                event_id=event.id,
                event_type=event.type,
                processed_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
        )
        result = await self._session.exec(statement)
        return bool(getattr(result, "rowcount", 0))
