"""Concurrent retries with one Idempotency-Key file one report and forward one rating,
concurrent ratings with different keys forward one, and a rider's concurrent reports keep
to their limits, on PostgreSQL where the requests really run in parallel (SQLite serialises
writers)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.auth import DEVELOPMENT_SECRET, issue_token
from common.db import upgrade_database
from common.messaging.consumer import IncomingRecord
from gridloop_tools.testing.builders import keyed_event, work_order_closed, work_order_filed
from gridloop_tools.testing.infrastructure import postgres_server, temporary_postgres_database
from reporting.bootstrap import MIGRATIONS, create_app
from reporting.config import ReportingSettings

TOKEN = issue_token(DEVELOPMENT_SECRET, role="rider", subject="r-race", district="370812")
RIDER = {"Authorization": f"Bearer {TOKEN}"}
BODY: dict[str, Any] = {"category": "0101", "lat": 35.55, "lon": 116.83, "text": "楼道杂物"}


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    with postgres_server() as server, temporary_postgres_database(server) as url:
        upgrade_database(url, MIGRATIONS)
        yield url


@pytest.fixture()
async def app(
    postgres_url: str, serve: Callable[[FastAPI, str], Awaitable[None]]
) -> AsyncIterator[FastAPI]:
    settings = ReportingSettings(
        database_url=postgres_url, migrate_on_start=False, rider_reports_per_hour=3
    )
    application = create_app(settings)
    await serve(application, "370812")
    yield application
    await application.state.runtime.engine.dispose()


@pytest.fixture()
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def all_at_once(
    client: httpx.AsyncClient, path: str, requests: list[tuple[dict[str, Any], dict[str, str]]]
) -> list[httpx.Response]:
    return await asyncio.gather(
        *[client.post(path, json=body, headers=headers) for body, headers in requests]
    )


async def closed_report(client: httpx.AsyncClient, app: FastAPI) -> str:
    report_id: str = (await client.post("/v1/reports", json=BODY, headers=RIDER)).json()["id"]
    consumer = app.state.runtime.consumers[0].consumer
    events = [
        keyed_event(work_order_filed(report_id=report_id, reporter_id="r-race"), sequence=1),
        keyed_event(work_order_closed(report_id=report_id, reporter_ids=["r-race"]), sequence=2),
    ]
    for offset, event in enumerate(events):
        record = IncomingRecord("gridloop.workorders.v1", 0, offset, b"k", event.to_bytes())
        await consumer.handle(record)
    return report_id


async def forwarded(app: FastAPI, event_type: str) -> int:
    async with app.state.runtime.engine.connect() as connection:
        count = await connection.scalar(
            sa.text("SELECT count(*) FROM outbox WHERE event_type = :type"), {"type": event_type}
        )
    return int(count or 0)


async def test_parallel_requests_with_one_key_file_one_report(client: httpx.AsyncClient) -> None:
    headers = {**RIDER, "Idempotency-Key": str(uuid.uuid4())}
    responses = await all_at_once(client, "/v1/reports", [(BODY, headers)] * 10)
    listed = await client.get("/v1/reports", headers=RIDER)
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(listed.json()["items"]) == 1


async def test_parallel_ratings_with_one_key_forward_one(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    report_id = await closed_report(client, app)
    headers = {**RIDER, "Idempotency-Key": str(uuid.uuid4())}
    responses = await all_at_once(
        client, f"/v1/reports/{report_id}/rate", [({"score": 4}, headers)] * 8
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await forwarded(app, "gridloop.report.rated") == 1


async def test_parallel_ratings_with_different_keys_forward_one(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    report_id = await closed_report(client, app)
    requests = [({"score": 5}, {**RIDER, "Idempotency-Key": f"k-{n}"}) for n in range(8)]
    responses = await all_at_once(client, f"/v1/reports/{report_id}/rate", requests)
    assert sorted(r.status_code for r in responses) == [202] + [409] * 7
    assert await forwarded(app, "gridloop.report.rated") == 1


async def test_parallel_reports_of_one_rider_keep_to_the_hourly_limit(
    client: httpx.AsyncClient,
) -> None:
    requests = [
        ({**BODY, "lat": BODY["lat"] + n * 0.001}, {**RIDER, "Idempotency-Key": f"limit-{n}"})
        for n in range(10)
    ]
    responses = await all_at_once(client, "/v1/reports", requests)
    assert sorted(r.status_code for r in responses) == [201] * 3 + [429] * 7
    listed = await client.get("/v1/reports", headers=RIDER)
    assert len(listed.json()["items"]) == 3


async def test_parallel_reports_of_one_problem_file_one(client: httpx.AsyncClient) -> None:
    requests = [(BODY, {**RIDER, "Idempotency-Key": f"same-{n}"}) for n in range(6)]
    responses = await all_at_once(client, "/v1/reports", requests)
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    listed = await client.get("/v1/reports", headers=RIDER)
    assert len(listed.json()["items"]) == 1
