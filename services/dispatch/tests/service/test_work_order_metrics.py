"""The work-order metrics move with the orders: transitions counted as they commit, the open and
overdue gauges refreshed by their background loop, and the escalation scanner's heartbeat —
on the real app, its real consumer and a real SQLite database."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from dispatch.adapters.unit_of_work import SqlDispatchUnitOfWork
from dispatch.domain.work_orders import Assignee, AssigneeKind
from gridloop_tools.testing.builders import DISTRICT, as_event, report_submitted
from gridloop_tools.testing.grids import two_grids
from gridloop_tools.testing.service_fixtures import Auth, Deliver
from gridloop_tools.testing.work_orders import OrderStory

CATEGORIES = {
    "district_name": "测试区",
    "categories": [
        {
            "code": "0602",
            "name": "道路破损/塌陷",
            "group_code": "06",
            "group_name": "公共安全隐患/设施损坏",
            "priority": "urgent",
            "claim_limit": {"amount": 30, "unit": "minutes"},
            "handle_limit": {"amount": 4, "unit": "hours"},
            "merge_radius_m": 0,
            "merge_window_days": 0,
            "owner": {"kind": "grid_worker"},
        }
    ],
}
ROSTER = {
    "grid_workers": [{"id": "w-east", "name": "东区网格员", "grid_ids": ["g-east"]}],
    "supervisors": [{"id": "s-1", "name": "区级督办", "level": "district"}],
}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def fast_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SCAN_INTERVAL_SECONDS", "0.02")
    monkeypatch.setenv("DISPATCH_GAUGES_REFRESH_SECONDS", "0.02")


@pytest.fixture
async def app(fast_loops: None, build_app: Callable[[], FastAPI]) -> AsyncIterator[FastAPI]:
    """The app built after the loops were made fast."""
    application = build_app()
    yield application
    await application.state.runtime.engine.dispose()


@contextlib.asynccontextmanager
async def running(app: FastAPI, *names: str) -> AsyncIterator[None]:
    """Run some of the app's background loops (its lifespan, with a broker, is not run)."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(app.state.background[name]()) for name in names]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()


async def samples(client: httpx.AsyncClient) -> Samples:
    text = (await client.get("/metrics")).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset({"service": "dispatch", **labels}.items())))


async def eventually(client: httpx.AsyncClient, name: str, expected: float, **labels: str) -> None:
    deadline = time.monotonic() + 5
    while (got := value(await samples(client), name, **labels)) != expected:
        assert time.monotonic() < deadline, f"{name}{labels} is {got}, expected {expected}"
        await asyncio.sleep(0.02)


async def load_district(client: httpx.AsyncClient, auth: Auth) -> None:
    admin = auth(role="admin", subject="a")
    documents: list[tuple[str, Any]] = [
        ("grids", two_grids()),
        ("categories", CATEGORIES),
        ("roster", ROSTER),
    ]
    for kind, document in documents:
        response = await client.put(
            f"/v1/districts/{DISTRICT}/{kind}", json=document, headers=admin
        )
        assert response.status_code == 200, response.text


async def file_report(app: FastAPI, deliver: Deliver) -> str:
    data = report_submitted(report_id="rep-1", category="0602", lat=35.505, lon=116.815)
    await deliver(as_event(data))
    async with app.state.runtime.engine.connect() as connection:
        ids = [row[0] for row in await connection.execute(sa.text("SELECT id FROM work_orders"))]
    assert len(ids) == 1
    return str(ids[0])


async def test_transitions_are_counted_as_they_commit_by_district_and_action(
    app: FastAPI, client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    await load_district(client, auth)
    work_order_id = await file_report(app, deliver)
    found = await samples(client)
    name = "gridloop_workorder_transitions_total"
    assert value(found, name, district=DISTRICT, action="file") == 1.0
    assert value(found, name, district=DISTRICT, action="dispatch") == 1.0
    worker = auth(role="grid_worker", subject="w-east", grids=("g-east",))
    response = await client.post(f"/v1/workorders/{work_order_id}/claim", headers=worker)
    assert response.status_code == 200, response.text
    assert value(await samples(client), name, district=DISTRICT, action="claim") == 1.0
    # a refused transition writes nothing and counts nothing
    response = await client.post(f"/v1/workorders/{work_order_id}/claim", headers=worker)
    assert response.status_code == 409
    assert value(await samples(client), name, district=DISTRICT, action="claim") == 1.0


async def test_the_open_gauges_follow_the_orders_and_counters_start_at_zero(
    app: FastAPI, client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    await load_district(client, auth)
    work_order_id = await file_report(app, deliver)
    gauge = "gridloop_workorders_open"
    open_in = {"district": DISTRICT, "category_group": "06"}
    async with running(app, "refresh_work_order_gauges"):
        await eventually(client, gauge, 1.0, **open_in, state="dispatched")
        found = await samples(client)
        assert value(found, "gridloop_workorders_overdue", **open_in) == 0.0
        # every district's counters are exported before their first event
        alerts = "gridloop_workorder_alerts_total"
        assert value(found, alerts, district=DISTRICT, kind="escalated", level="2") == 0.0
        transitions = "gridloop_workorder_transitions_total"
        assert value(found, transitions, district=DISTRICT, action="void") == 0.0

        worker = auth(role="grid_worker", subject="w-east", grids=("g-east",))
        response = await client.post(f"/v1/workorders/{work_order_id}/claim", headers=worker)
        assert response.status_code == 200, response.text
        await eventually(client, gauge, 1.0, **open_in, state="claimed")
        await eventually(client, gauge, 0.0, **open_in, state="dispatched")


async def test_the_scanner_beats_and_an_overdue_order_shows_and_escalates(
    app: FastAPI, client: httpx.AsyncClient, auth: Auth
) -> None:
    await load_district(client, auth)
    heartbeat = "gridloop_workorder_scanner_last_run_timestamp_seconds"
    assert value(await samples(client), heartbeat) is None  # no pass has run yet
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    late = OrderStory("wo-late", DISTRICT, two_days_ago, category="0602", category_group="06")
    late.dispatch(
        two_days_ago,
        due=two_days_ago + timedelta(hours=4),
        to=Assignee(AssigneeKind.GRID_WORKER, "w-east", "东区网格员"),
    )
    unit_of_work = app.state.runtime.unit_of_work_factory(SqlDispatchUnitOfWork)
    async with unit_of_work() as uow:
        await uow.work_orders.add(late.order)
        await uow.commit()

    started = time.time()
    async with running(app, "scan_for_time_limits", "refresh_work_order_gauges"):
        await eventually(
            client, "gridloop_workorders_overdue", 1.0, district=DISTRICT, category_group="06"
        )
        alerts = "gridloop_workorder_alerts_total"
        await eventually(client, alerts, 1.0, district=DISTRICT, kind="escalated", level="2")
        beat = value(await samples(client), heartbeat)
        assert beat is not None and started - 1 <= beat <= time.time()
        await asyncio.sleep(0.1)
        later = value(await samples(client), heartbeat)
        assert later is not None and later > beat  # every pass moves it
