"""The escalation scanner on the real app and a real database, with the time moved by hand:
every announcement exactly once — across a restart of the app, and with two replicas on one
PostgreSQL database, where only the holder of the advisory lock scans — counted once on
/metrics; orders that wait for an assignee dispatched once the roster is loaded."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from common.contracts.topics import Topic
from common.db import upgrade_database
from common.messaging.consumer import IncomingRecord
from dispatch import bootstrap
from dispatch.adapters.unit_of_work import SqlDispatchUnitOfWork
from dispatch.config import DispatchSettings
from dispatch.service_layer import scanner
from gridloop_tools.testing.dispatch import (
    EAST,
    ROSTER,
    WEST,
    YANZHOU,
    bearer,
    load_over_http,
    north_of,
    outbox,
    report_event,
    roster_document,
    short,
)
from gridloop_tools.testing.infrastructure import postgres_server, temporary_postgres_database
from gridloop_tools.testing.service_fixtures import Deliver, serving
from gridloop_tools.testing.service_suite import metric_sample

ALERTS = ("sla_warning", "overdue", "escalated")
STREET_AFTER, DISTRICT_AFTER = timedelta(hours=4), timedelta(hours=24)


def worker_headers(app: FastAPI, worker: str = "w-west-1") -> dict[str, str]:
    return bearer(app, role="grid_worker", subject=worker, grids=["g-west"])


def supervisor_headers(app: FastAPI) -> dict[str, str]:
    return bearer(app, role="supervisor", subject="s-gulou")


async def announcements(app: FastAPI) -> list[tuple[str, int]]:
    found = []
    for event in await outbox(app):
        kind = short(event.type)
        if kind in ALERTS:
            found.append((kind, int(event.data.get("level", 0))))
    return found


async def deadlines(client: httpx.AsyncClient, app: FastAPI, work_order_id: str) -> Any:
    response = await client.get(f"/v1/workorders/{work_order_id}", headers=supervisor_headers(app))
    clock = response.json()["deadlines"]
    return {key: datetime.fromisoformat(value) for key, value in clock.items()}


async def file_report(
    app: FastAPI, deliver: Deliver, report_id: str = "rep-1", **fields: Any
) -> str:
    await deliver(report_event(report_id, **fields))
    (filed,) = [
        e
        for e in await outbox(app)
        if short(e.type) == "filed" and e.data["report_id"] == report_id
    ]
    return filed.subject


@pytest.fixture
async def wo(client: httpx.AsyncClient, app: FastAPI, deliver: Deliver) -> str:
    await load_over_http(client, app, YANZHOU)
    return await file_report(app, deliver)


# --- on SQLite --------------------------------------------------------------------------------


async def test_each_announcement_comes_once_and_is_counted_once(
    client: httpx.AsyncClient, app: FastAPI, wo: str
) -> None:
    clock = await deadlines(client, app, wo)
    scan = app.state.scan_time_limits
    for now in (clock["warning_at"], clock["handle_due"], clock["handle_due"] + DISTRICT_AFTER):
        assert await scan(now) > 0
        assert await scan(now) == 0
    assert await announcements(app) == [
        ("sla_warning", 0),
        ("overdue", 0),
        ("escalated", 1),
        ("escalated", 2),
    ]
    text = (await client.get("/metrics")).text
    for kind, level in (
        ("sla_warning", "0"),
        ("overdue", "0"),
        ("escalated", "1"),
        ("escalated", "2"),
    ):
        counted = metric_sample(
            text, "gridloop_workorder_alerts_total", district=YANZHOU, kind=kind, level=level
        )
        assert counted == 1.0, (kind, level)
    order = (await client.get(f"/v1/workorders/{wo}", headers=supervisor_headers(app))).json()
    assert (order["overdue"], order["escalation_level"]) == (True, 2)


async def test_a_restarted_app_announces_nothing_twice(
    client: httpx.AsyncClient, app: FastAPI, wo: str, build_app: Callable[[], FastAPI]
) -> None:
    clock = await deadlines(client, app, wo)
    assert await app.state.scan_time_limits(clock["handle_due"]) == 1
    await app.state.runtime.engine.dispose()

    restarted = build_app()
    async with serving(restarted):
        uow = restarted.state.runtime.unit_of_work_factory(SqlDispatchUnitOfWork)
        await restarted.state.districts.refresh(uow())
        assert await restarted.state.scan_time_limits(clock["handle_due"]) == 0
        assert await restarted.state.scan_time_limits(clock["handle_due"] + STREET_AFTER) == 1
        assert await announcements(restarted) == [("overdue", 0), ("escalated", 1)]


async def test_three_reworks_escalate_to_the_district_at_once_and_the_clock_runs_on(
    client: httpx.AsyncClient, app: FastAPI, wo: str
) -> None:
    for _ in range(3):
        for step, body, headers in (
            ("claim", None, worker_headers(app)),
            ("resolve", {"note": "已处理"}, worker_headers(app)),
            ("verify", {"passed": False, "note": "不合格"}, supervisor_headers(app)),
        ):
            response = await client.post(f"/v1/workorders/{wo}/{step}", json=body, headers=headers)
            assert response.status_code == 200, response.text
    clock = await deadlines(client, app, wo)

    assert await app.state.scan_time_limits(clock["started_at"]) == 1
    (escalated,) = [e for e in await outbox(app) if short(e.type) == "escalated"]
    assert (escalated.data["level"], escalated.data["reason"]) == (2, "troubled")
    assert escalated.data["supervisor_ids"] == ["s-yanzhou"]

    assert await app.state.scan_time_limits(clock["warning_at"]) == 1
    assert await app.state.scan_time_limits(clock["handle_due"]) == 1
    assert await announcements(app) == [("escalated", 2), ("sla_warning", 0), ("overdue", 0)]


async def test_orders_with_nothing_due_do_not_crowd_out_the_others(
    client: httpx.AsyncClient, app: FastAPI, deliver: Deliver, wo: str
) -> None:
    """Resolved orders past their warning point have nothing to announce: they must not take a
    small batch's place from a later order whose warning is due."""
    second = await file_report(app, deliver, "rep-2", at=north_of(WEST, 300))
    for work_order_id in (wo, second):
        order = await client.get(f"/v1/workorders/{work_order_id}", headers=supervisor_headers(app))
        headers = worker_headers(app, order.json()["assignee"]["id"])
        for step, body in (("claim", None), ("resolve", {"note": "已处理"})):
            response = await client.post(
                f"/v1/workorders/{work_order_id}/{step}", json=body, headers=headers
            )
            assert response.status_code == 200, response.text
    await asyncio.sleep(0.01)
    third = await file_report(app, deliver, "rep-3", at=EAST, category="0202")
    clock = await deadlines(client, app, third)

    unit_of_work = app.state.runtime.unit_of_work_factory(SqlDispatchUnitOfWork)
    timing = DispatchSettings().timing()
    now = clock["warning_at"]
    made = await scanner.scan(unit_of_work, app.state.districts, timing, now=now, batch=1)

    assert made == 1
    assert [short(e.type) for e in await outbox(app) if e.subject == third][-1] == "sla_warning"


async def test_an_order_filed_before_the_roster_is_dispatched_by_the_scanner(
    client: httpx.AsyncClient, app: FastAPI, deliver: Deliver
) -> None:
    await load_over_http(client, app, YANZHOU, kinds=["categories", "calendar"])
    wo = await file_report(app, deliver)
    assert await app.state.scan_time_limits() == 0
    admin = bearer(app, role="admin", subject="admin-1")
    response = await client.put(
        f"/v1/districts/{YANZHOU}/{ROSTER}", json=roster_document(YANZHOU), headers=admin
    )
    assert response.status_code == 200, response.text

    assert await app.state.scan_time_limits() == 1
    assert await app.state.scan_time_limits() == 0
    order = (await client.get(f"/v1/workorders/{wo}", headers=supervisor_headers(app))).json()
    assert (order["state"], order["assignee"]["id"]) == ("dispatched", "w-west-1")
    assert [short(e.type) for e in await outbox(app) if e.subject == wo] == ["filed", "dispatched"]


# --- two replicas on one PostgreSQL database ---------------------------------------------------


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_server() as server, temporary_postgres_database(server) as url:
        upgrade_database(url, bootstrap.MIGRATIONS)
        yield url


def replica(url: str) -> FastAPI:
    app: FastAPI = bootstrap.create_app(DispatchSettings(database_url=url, migrate_on_start=False))
    return app


async def consume(app: FastAPI, event: CloudEvent, offsets: Iterator[int]) -> None:
    record = IncomingRecord(Topic.REPORTS.value, 0, next(offsets), b"k", event.to_bytes())
    await app.state.runtime.consumers[0].consumer.handle(record)


async def test_only_the_replica_holding_the_lock_scans(postgres_url: str) -> None:
    leader, standby = replica(postgres_url), replica(postgres_url)
    async with serving(leader) as client, serving(standby):
        await load_over_http(client, leader, YANZHOU)
        await standby.state.districts.refresh(
            standby.state.runtime.unit_of_work_factory(SqlDispatchUnitOfWork)()
        )
        await consume(leader, report_event(), itertools.count())
        (filed,) = [e for e in await outbox(leader) if short(e.type) == "filed"]
        clock = await deadlines(client, leader, filed.subject)

        assert await leader.state.scan_time_limits(clock["warning_at"]) == 1
        assert await standby.state.scan_time_limits(clock["handle_due"]) is None
        both = await asyncio.gather(
            leader.state.scan_time_limits(clock["handle_due"]),
            standby.state.scan_time_limits(clock["handle_due"]),
        )
        assert both == [1, None]

        await leader.state.scanner_leadership.release()  # the leader stops
        later = clock["handle_due"] + STREET_AFTER
        assert await standby.state.scan_time_limits(later) == 1
        assert await leader.state.scan_time_limits(later + DISTRICT_AFTER) is None
        assert await announcements(leader) == [
            ("sla_warning", 0),
            ("overdue", 0),
            ("escalated", 1),
        ]
        await standby.state.scanner_leadership.release()
