"""Triage: ReportSubmitted fed through the real idempotent consumer into the real database."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from common.messaging.consumer import EventConsumer, RetryPolicy
from gridloop_tools.testing.builders import as_event, report_submitted
from gridloop_tools.testing.grids import two_grids
from gridloop_tools.testing.service_fixtures import Auth, DeadLetter, Deliver


def submitted(
    report_id: str = "rep-1", *, lat: float = 35.505, lon: float = 116.805, category: str = "0101"
) -> CloudEvent:
    return as_event(report_submitted(report_id=report_id, category=category, lat=lat, lon=lon))


@pytest.fixture
async def loaded(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.put("/v1/grids", json=two_grids(), headers=auth(role="admin"))
    assert response.status_code == 200


async def query(app: FastAPI, sql: str) -> list[tuple[Any, ...]]:
    async with app.state.runtime.engine.connect() as connection:
        return [tuple(row) for row in await connection.execute(sa.text(sql))]


async def outbox(app: FastAPI) -> list[CloudEvent]:
    rows = await query(app, "SELECT payload FROM outbox ORDER BY position")
    return [CloudEvent.from_bytes(row[0]) for row in rows]


async def outcome_count(client: httpx.AsyncClient, outcome: str) -> str:
    text = (await client.get("/metrics")).text
    prefix = (
        'gridloop_events_consumed_total{consumer="dispatch",'
        f'event_type="gridloop.report.submitted",outcome="{outcome}",service="dispatch"}} '
    )
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, text
    return lines[0].removeprefix(prefix)


@pytest.mark.usefixtures("loaded")
async def test_a_report_in_a_grid_is_filed(
    app: FastAPI, client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    event = submitted()
    await deliver(event)

    orders = await query(app, "SELECT id, report_id, grid_id, status, version FROM work_orders")
    assert len(orders) == 1
    work_order_id, report_id, grid_id, status, version = orders[0]
    assert (report_id, grid_id, status, version) == ("rep-1", "g-west", "filed", 1)
    (published,) = await outbox(app)
    assert published.type == "gridloop.workorder.filed"
    assert published.subject == work_order_id
    assert published.sequence == 1
    assert published.causationid == event.id
    assert published.correlationid == "c-1"
    assert published.data["grid_id"] == "g-west"
    assert published.data["grid_name"] == "g-west 网格"
    topics = await query(app, "SELECT topic, message_key FROM outbox")
    assert topics == [("gridloop.workorders.v1", work_order_id)]
    history = await query(app, "SELECT to_status FROM work_order_history")
    assert history == [("filed",)]
    triaged = (await client.get("/metrics")).text
    assert (
        'gridloop_reports_triaged_total{outcome="filed",reason="",service="dispatch"} 1.0'
        in triaged
    )


@pytest.mark.usefixtures("loaded")
async def test_a_report_outside_the_district_is_rejected(app: FastAPI, deliver: Deliver) -> None:
    await deliver(submitted(lat=35.6, lon=116.9))
    assert await query(app, "SELECT id FROM work_orders") == []
    assert await query(app, "SELECT report_id, reason_code FROM rejected_reports") == [
        ("rep-1", "outside_service_area")
    ]
    (published,) = await outbox(app)
    assert published.type == "gridloop.report.rejected"
    assert published.subject == "rep-1"
    assert published.data["reason_code"] == "outside_service_area"


@pytest.mark.usefixtures("loaded")
async def test_the_same_event_twice_changes_nothing_the_second_time(
    app: FastAPI, client: httpx.AsyncClient, deliver: Deliver
) -> None:
    event = submitted()
    await deliver(event)
    await deliver(event)
    assert len(await query(app, "SELECT id FROM work_orders")) == 1
    assert len(await outbox(app)) == 1
    assert await query(app, "SELECT consumer, event_id FROM processed_events") == [
        ("dispatch", event.id)
    ]
    assert await outcome_count(client, "processed") == "1.0"
    assert await outcome_count(client, "duplicate") == "1.0"


@pytest.mark.usefixtures("loaded")
async def test_the_same_report_under_a_new_event_id_is_not_filed_twice(
    app: FastAPI, client: httpx.AsyncClient, deliver: Deliver
) -> None:
    await deliver(submitted())
    await deliver(submitted())  # a new CloudEvent id, the same report
    assert len(await query(app, "SELECT id FROM work_orders")) == 1
    assert len(await outbox(app)) == 1
    assert await outcome_count(client, "ignored") == "1.0"


async def test_without_grids_a_report_is_retried_then_dead_lettered_not_rejected(
    app: FastAPI, consumer: EventConsumer, deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    consumer.retry = RetryPolicy(attempts=2, first_delay=0.001, max_delay=0.001)
    await deliver(submitted())
    assert len(dead_letters) == 1
    assert dead_letters[0][3]["gridloop-dlq-reason"] == "retries_exhausted"
    assert "GridRegistryEmpty" in dead_letters[0][3]["gridloop-dlq-error"]
    assert await query(app, "SELECT report_id FROM rejected_reports") == []
    assert await query(app, "SELECT event_id FROM processed_events") == []
    assert await outbox(app) == []
