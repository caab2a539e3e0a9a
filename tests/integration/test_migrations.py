"""Each service's migrations: they build exactly the schema its tables declare, and a database
made by every earlier revision, with data in it, upgrades to head and is read by today's code.
On SQLite and on PostgreSQL."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from common.db import create_engine, migration_config, upgrade_database_async
from gridloop_tools.stack import SERVICES
from gridloop_tools.testing.infrastructure import postgres_server, temporary_postgres_database
from tests.integration.migration_seeds import SEEDS, read_back

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


def _revisions_oldest_first(url: str, migrations_dir: Path) -> list[str]:
    script = ScriptDirectory.from_config(migration_config(url, migrations_dir))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def _reflect(name: str, connection: sa.Connection) -> sa.Table:
    return sa.Table(name, sa.MetaData(), autoload_with=connection)


async def _insert(url: str, rows: list[tuple[str, dict[str, Any]]]) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for table_name, values in rows:
                table = await connection.run_sync(partial(_reflect, table_name))
                await connection.execute(table.insert().values(**values))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
async def test_data_written_at_every_revision_survives_the_upgrade_to_head(
    service: str, empty_database: str
) -> None:
    """Walk the history as a deployed database lives it: upgrade one revision, write the rows
    that release wrote, repeat; at head, today's repositories read every row back."""
    bootstrap = importlib.import_module(f"{service}.bootstrap")
    revisions = _revisions_oldest_first(empty_database, bootstrap.MIGRATIONS)
    seeds = SEEDS[service]
    assert set(seeds) <= set(revisions), f"seeds for unknown revisions of {service}"
    for revision in revisions:
        await upgrade_database_async(empty_database, bootstrap.MIGRATIONS, revision)
        await _insert(empty_database, seeds.get(revision, []))

    await read_back(service, empty_database)
