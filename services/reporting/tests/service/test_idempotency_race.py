"""Concurrent retries with one Idempotency-Key file one report, on PostgreSQL where the
requests really run in parallel (SQLite serialises writers)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest

from common.auth import DEVELOPMENT_SECRET, issue_token
from common.db import upgrade_database
from gridloop_tools.testing.infrastructure import postgres_server, temporary_postgres_database
from reporting.bootstrap import MIGRATIONS, create_app
from reporting.config import ReportingSettings


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    with postgres_server() as server, temporary_postgres_database(server) as url:
        upgrade_database(url, MIGRATIONS)
        yield url


async def test_parallel_requests_with_one_key_file_one_report(postgres_url: str) -> None:
    app = create_app(ReportingSettings(database_url=postgres_url, migrate_on_start=False))
    token = issue_token(DEVELOPMENT_SECRET, role="rider", subject="r-race", district="370812")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
    body = {"category": "0101", "lat": 35.55, "lon": 116.83, "text": "楼道杂物"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        responses = await asyncio.gather(
            *[client.post("/v1/reports", json=body, headers=headers) for _ in range(10)]
        )
        listed = await client.get(
            "/v1/reports", headers={"Authorization": headers["Authorization"]}
        )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(listed.json()["items"]) == 1
    await app.state.runtime.engine.dispose()
