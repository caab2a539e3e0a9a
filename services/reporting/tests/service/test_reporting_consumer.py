"""The status projection: work-order events fed through the real idempotent consumer into the
real database, observed through the HTTP API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from common.contracts.envelope import CloudEvent
from gridloop_tools.testing.builders import (
    AT,
    as_event,
    points_awarded,
    report_rejected,
    work_order_filed,
)
from gridloop_tools.testing.service_fixtures import Auth, DeadLetter, Deliver


def filed(report_id: str, *, sequence: int = 1, filed_at: datetime = AT) -> CloudEvent:
    data = work_order_filed(report_id=report_id, work_order_id="wo-0001", filed_at=filed_at)
    return as_event(data, sequence=sequence)


def rejected(report_id: str, *, sequence: int = 1) -> CloudEvent:
    return as_event(report_rejected(report_id=report_id), sequence=sequence)


async def new_report(client: httpx.AsyncClient, auth: Auth) -> str:
    response = await client.post(
        "/v1/reports",
        json={"category": "0101", "lat": 35.5531, "lon": 116.8287, "text": "楼道堆放杂物"},
        headers=auth(subject="rider-1"),
    )
    assert response.status_code == 201
    report_id: str = response.json()["id"]
    return report_id


async def view(client: httpx.AsyncClient, auth: Auth, report_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/reports/{report_id}", headers=auth(subject="rider-1"))
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def consumed(client: httpx.AsyncClient, event_type: str, outcome: str) -> float:
    text = (await client.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for metric in family.samples:
            if (
                metric.name == "gridloop_events_consumed_total"
                and metric.labels.get("event_type") == event_type
                and metric.labels.get("outcome") == outcome
            ):
                return float(metric.value)
    return 0.0


async def test_work_order_filed_shows_as_filed(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    report_id = await new_report(client, auth)
    await deliver(filed(report_id))
    body = await view(client, auth, report_id)
    assert body["status"] == "filed"
    assert body["status_label"] == "已立案"
    assert body["work_order_id"] == "wo-0001"
    assert body["grid_id"] == "370812-01-001-1"
    assert body["grid_name"] == "鼓楼街道第1社区第1网格"
    assert body["updated_at"] == "2026-11-23T09:30:00Z"
    assert dead_letters == []


async def test_report_rejected_shows_the_reason(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    report_id = await new_report(client, auth)
    await deliver(rejected(report_id))
    body = await view(client, auth, report_id)
    assert body["status"] == "rejected"
    assert body["status_label"] == "不予立案"
    assert body["rejection_reason_code"] == "outside_service_area"
    assert body["rejection_reason"].startswith("上报位置不在本区服务范围内")


async def test_the_same_event_twice_changes_nothing_the_second_time(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    report_id = await new_report(client, auth)
    event = filed(report_id)
    await deliver(event)
    first = await view(client, auth, report_id)
    await deliver(event)
    assert await view(client, auth, report_id) == first
    listed = (await client.get("/v1/reports", headers=auth(subject="rider-1"))).json()["items"]
    assert len(listed) == 1
    assert await consumed(client, "gridloop.workorder.filed", "processed") == 1.0
    assert await consumed(client, "gridloop.workorder.filed", "duplicate") == 1.0


async def test_an_older_event_after_a_newer_one_is_stale(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    report_id = await new_report(client, auth)
    await deliver(filed(report_id, sequence=2))
    await deliver(rejected(report_id, sequence=1))
    body = await view(client, auth, report_id)
    assert body["status"] == "filed"
    assert body["rejection_reason_code"] is None
    assert await consumed(client, "gridloop.report.rejected", "stale") == 1.0


async def test_an_event_for_an_unknown_report_is_ignored(
    client: httpx.AsyncClient, deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    await deliver(filed("no-such-report"))
    assert dead_letters == []
    assert await consumed(client, "gridloop.workorder.filed", "ignored") == 1.0


async def test_other_event_types_on_the_topic_are_skipped(
    client: httpx.AsyncClient, deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    await deliver(as_event(points_awarded(report_id="r", rider_id="rider-1")))
    assert dead_letters == []
    assert await consumed(client, "other", "ignored") == 1.0


async def test_an_envelope_that_is_not_a_cloud_event_goes_to_dead_letter(
    deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    await deliver(json.dumps({"type": "gridloop.workorder.filed", "data": {}}).encode())
    assert len(dead_letters) == 1
    assert dead_letters[0][3]["gridloop-dlq-reason"] == "unparseable"
    assert "not a valid CloudEvent" in dead_letters[0][3]["gridloop-dlq-error"]


async def test_a_filing_time_with_an_offset_is_kept_as_the_same_instant(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    """SQLite keeps no UTC offset; an event time in +08:00 must still read back as its instant."""
    report_id = await new_report(client, auth)
    shanghai = datetime.fromisoformat("2026-11-24T00:00:00+08:00")
    await deliver(filed(report_id, filed_at=shanghai))
    body = await view(client, auth, report_id)
    assert body["updated_at"] == "2026-11-23T16:00:00Z"
    assert datetime.fromisoformat(body["updated_at"]) == shanghai
