"""Each service's Alembic migrations build exactly the schema its SQLModel tables declare, on
SQLite and on PostgreSQL, so the code and the database never drift apart."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from common.db import create_engine, upgrade_database_async
from gridloop_tools.stack import SERVICES
from gridloop_tools.testing.infrastructure import postgres_server, temporary_postgres_database

TABLE_BASES = {
    "reporting": "ReportingTable",
    "dispatch": "DispatchTable",
    "ledger": "LedgerTable",
    "notification": "NotificationTable",
}


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/schema.db"
        return
    with postgres_server() as server, temporary_postgres_database(server) as url:
        yield url


def _differences(connection: sa.Connection, metadata: sa.MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [
        diff
        for diff in compare_metadata(context, metadata)
        # SQLite reflects no partial-index predicate; the index itself is compared.
        if not (
            isinstance(diff, tuple)
            and diff[0] in {"remove_index", "add_index"}
            and connection.dialect.name == "sqlite"
        )
    ]


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_match_the_declared_tables(service: str, empty_database: str) -> None:
    bootstrap = importlib.import_module(f"{service}.bootstrap")
    tables = importlib.import_module(f"{service}.adapters.tables")
    metadata: sa.MetaData = getattr(tables, TABLE_BASES[service]).metadata

    await upgrade_database_async(empty_database, bootstrap.MIGRATIONS)

    engine = create_engine(empty_database)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences, metadata)
    finally:
        await engine.dispose()
    assert differences == []
