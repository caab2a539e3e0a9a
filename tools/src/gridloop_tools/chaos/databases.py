"""Reading the four services' databases directly (never through the proxy), with the tables
each service declares: what the checks count, and the dumps the replay compares."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dispatch.adapters.tables import MESSAGING as DISPATCH_MESSAGING
from ledger.adapters.tables import MESSAGING as LEDGER_MESSAGING
from notification.adapters.tables import MESSAGING as NOTIFICATION_MESSAGING
from reporting.adapters.tables import MESSAGING as REPORTING_MESSAGING

MESSAGING = {
    "reporting": REPORTING_MESSAGING,
    "dispatch": DISPATCH_MESSAGING,
    "ledger": LEDGER_MESSAGING,
    "notification": NOTIFICATION_MESSAGING,
}
"""Each service's messaging tables; their metadata holds the service's business tables too."""

Dump = dict[str, list[tuple[Any, ...]]]
"""Table name -> every row, ordered by primary key, values made comparable."""


class ServiceDatabases:
    """One engine per service database (no pool: each read opens its own connection)."""

    def __init__(self, urls: Mapping[str, str]) -> None:
        self.engines: dict[str, AsyncEngine] = {
            name: create_async_engine(url, poolclass=sa.pool.NullPool) for name, url in urls.items()
        }

    def table(self, service: str, name: str) -> sa.Table:
        return MESSAGING[service].outbox.metadata.tables[name]

    def business_tables(self, service: str) -> list[sa.Table]:
        messaging = {table.name for table in MESSAGING[service]}
        metadata = MESSAGING[service].outbox.metadata
        return [table for table in metadata.sorted_tables if table.name not in messaging]

    async def fetch(self, service: str, statement: sa.Executable) -> list[sa.Row[Any]]:
        async with self.engines[service].connect() as connection:
            return list((await connection.execute(statement)).all())

    async def scalar(self, service: str, statement: sa.Executable) -> int:
        async with self.engines[service].connect() as connection:
            return int((await connection.execute(statement)).scalar_one() or 0)

    async def count(self, service: str, table: str) -> int:
        return await self.scalar(
            service, sa.select(sa.func.count()).select_from(self.table(service, table))
        )

    async def unpublished(self, service: str) -> int:
        outbox = MESSAGING[service].outbox
        return await self.scalar(
            service,
            sa.select(sa.func.count()).where(outbox.c.published_at.is_(None)),
        )

    async def row_counts(self) -> dict[str, int]:
        """``service.table`` -> rows, for every table of every service (messaging included)."""
        counts: dict[str, int] = {}
        for service in self.engines:
            for table in MESSAGING[service].outbox.metadata.sorted_tables:
                counts[f"{service}.{table.name}"] = await self.count(service, table.name)
        return counts

    async def dump(self, service: str) -> Dump:
        """Every business table of ``service`` (no outbox, processed events or published
        offsets), rows ordered by primary key."""
        dump: Dump = {}
        for table in self.business_tables(service):
            rows = await self.fetch(service, sa.select(table).order_by(*table.primary_key.columns))
            dump[table.name] = [tuple(_comparable(value) for value in row) for row in rows]
        return dump

    async def dispose(self) -> None:
        for engine in self.engines.values():
            await engine.dispose()


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value
