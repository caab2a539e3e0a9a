from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from common.db import create_engine
from gridloop_tools.testing.infrastructure import (
    MessagingSchema,
    postgres_server,
    temporary_postgres_database,
)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_server() as server, temporary_postgres_database(server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite+aiosqlite:///{tmp_path}/messaging.db"


@pytest.fixture()
async def schema(database_url: str) -> AsyncIterator[MessagingSchema]:
    engine = create_engine(database_url)
    built = MessagingSchema(engine)
    async with engine.begin() as connection:
        await connection.run_sync(built.metadata.drop_all)
        await connection.run_sync(built.metadata.create_all)
    yield built
    async with engine.begin() as connection:
        await connection.run_sync(built.metadata.drop_all)
    await engine.dispose()
