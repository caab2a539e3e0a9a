"""The in-app inbox through its HTTP API and its real consumer, against a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.contracts.base import EventData
from common.contracts.envelope import CloudEvent
from common.contracts.topics import Topic
from gridloop_tools.testing import builders
from gridloop_tools.testing.builders import (
    as_event,
    keyed_event,
    points_awarded,
    report_rejected,
    report_submitted,
    work_order_filed,
)
from gridloop_tools.testing.service_fixtures import Auth, DeadLetter, Deliver, assert_problem


def filed(report_id: str = "rep-1", reporter_id: str = "rider-1") -> CloudEvent:
    data = work_order_filed(
        report_id=report_id, reporter_id=reporter_id, category="0601", category_name="井盖缺失/破损"
    )
    return as_event(data)


def rejected(report_id: str = "rep-2", reporter_id: str = "rider-1") -> CloudEvent:
    return as_event(report_rejected(report_id=report_id, reporter_id=reporter_id, category="0601"))


def awarded(report_id: str = "rep-1", rider_id: str = "rider-1", balance: int = 10) -> CloudEvent:
    return as_event(points_awarded(report_id=report_id, rider_id=rider_id, balance=balance))


async def inbox(
    client: httpx.AsyncClient, auth: Auth, recipient: str = "rider-1"
) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/inbox/{recipient}", headers=auth(subject=recipient))
    assert response.status_code == 200, response.text
    assert response.json()["recipient_id"] == recipient
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def outbox(app: FastAPI) -> list[CloudEvent]:
    async with app.state.runtime.engine.connect() as connection:
        rows = (
            await connection.execute(sa.text("SELECT payload FROM outbox ORDER BY position"))
        ).all()
    return [CloudEvent.from_bytes(row[0]) for row in rows]


# --- metrics ----------------------------------------------------------------------------------


async def test_inbox_messages_are_counted_in_the_metrics(
    client: httpx.AsyncClient, deliver: Deliver
) -> None:
    await deliver(filed())
    text = (await client.get("/metrics")).text
    assert (
        'gridloop_inbox_messages_total{service="notification",template="report_filed"} 1.0' in text
    )
    assert (
        'gridloop_inbox_messages_total{service="notification",template="points_awarded"} 0.0'
        in text
    )


# --- the inbox --------------------------------------------------------------------------------


async def test_an_empty_inbox(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.get("/v1/inbox/rider-9", headers=auth(subject="rider-9"))
    assert response.json() == {
        "recipient_id": "rider-9",
        "items": [],
        "limit": 50,
        "next_cursor": None,
    }


async def test_the_reporter_hears_of_filing_rejection_and_points(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    await deliver(filed("rep-1"))
    await deliver(rejected("rep-2"))
    await deliver(awarded("rep-1", balance=10), Topic.POINTS)

    items = await inbox(client, auth)
    assert [item["template"] for item in items] == [
        "points_awarded",
        "report_rejected",
        "report_filed",
    ]  # newest first
    points, rejection, filing = items
    assert filing["title"] == "您上报的问题已立案"
    assert filing["body"] == (
        "您上报的「井盖缺失/破损」问题已立案，工单号 wo-rep-1，"
        "已派往鼓楼街道第1社区第1网格处理。感谢您对社区治理的支持！"
    )
    assert (filing["report_id"], filing["work_order_id"]) == ("rep-1", "wo-rep-1")
    assert filing["channel"] == "inbox"
    assert rejection["title"] == "您上报的问题未予立案"
    assert rejection["body"].startswith("您上报的「井盖缺失/破损」问题未予立案：上报位置不在")
    assert points["title"] == "+10 积分"
    assert points["body"] == "感谢您的随手拍上报！本次获得 +10 积分，当前积分余额 10。"

    delivered = await outbox(app)
    assert [e.type for e in delivered] == ["gridloop.notification.delivered"] * 3
    assert {e.subject for e in delivered} == {"rider-1"}
    assert [e.data["notification_id"] for e in reversed(delivered)] == [i["id"] for i in items]


async def test_messages_go_to_the_reporter_only(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    await deliver(filed("rep-1", reporter_id="rider-1"))
    await deliver(filed("rep-2", reporter_id="rider-2"))
    assert [i["report_id"] for i in await inbox(client, auth, "rider-1")] == ["rep-1"]
    assert [i["report_id"] for i in await inbox(client, auth, "rider-2")] == ["rep-2"]


async def test_inbox_pages(client: httpx.AsyncClient, auth: Auth, deliver: Deliver) -> None:
    for n in range(3):
        await deliver(filed(f"rep-{n}"))
    first = (await client.get("/v1/inbox/rider-1?limit=2", headers=auth())).json()
    assert [i["report_id"] for i in first["items"]] == ["rep-2", "rep-1"]
    params = {"limit": 2, "cursor": first["next_cursor"]}
    second = (await client.get("/v1/inbox/rider-1", params=params, headers=auth())).json()
    assert (second["limit"], second["next_cursor"]) == (2, None)
    assert [i["report_id"] for i in second["items"]] == ["rep-0"]


async def test_the_rider_hears_of_a_redemption_from_the_ledger(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    await deliver(as_event(builders.redemption_reserved()), Topic.POINTS)
    await deliver(as_event(builders.redemption_expired()), Topic.POINTS)
    items = await inbox(client, auth)
    assert [(i["template"], i["title"]) for i in items] == [
        ("redemption_expired", "兑换已过期：雨衣"),
        ("redemption_reserved", "兑换成功：雨衣"),
    ]


# --- the consumer -----------------------------------------------------------------------------


async def test_the_same_event_twice_writes_one_message(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    event = filed()
    await deliver(event)
    await deliver(event)
    assert len(await inbox(client, auth)) == 1
    assert len(await outbox(app)) == 1
    text = (await client.get("/metrics")).text
    assert (
        'event_type="gridloop.workorder.filed",outcome="duplicate",service="notification"} 1.0'
        in text
    )


async def test_events_that_tell_the_reporter_nothing_are_skipped(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    await deliver(as_event(report_submitted(report_id="rep-1", reporter_id="rider-1")))
    assert await inbox(client, auth) == []
    assert dead_letters == []


# --- who may read what ------------------------------------------------------------------------


async def test_another_riders_inbox_is_403(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    await deliver(filed(reporter_id="rider-1"))
    response = await client.get("/v1/inbox/rider-1", headers=auth(subject="rider-2"))
    assert_problem(response, 403, "own inbox")


@pytest.mark.parametrize("role", ["supervisor", "admin", "service"])
async def test_staff_read_a_riders_inbox(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, role: str
) -> None:
    await deliver(filed(reporter_id="rider-1"))
    response = await client.get("/v1/inbox/rider-1", headers=auth(role=role, subject="staff"))
    assert response.status_code == 200
    assert len(response.json()["items"]) == 1


@pytest.mark.parametrize("role", ["grid_worker", "department"])
async def test_other_roles_may_not_read_another_ones_inbox(
    client: httpx.AsyncClient, auth: Auth, role: str
) -> None:
    response = await client.get("/v1/inbox/rider-1", headers=auth(role=role, subject="gw-1"))
    assert_problem(response, 403, f"a {role} may only see their own inbox")


@pytest.mark.parametrize(
    ("role", "recipient"),
    [("grid_worker", "gw-7"), ("department", "dept-9"), ("supervisor", "sup-1"), ("rider", "r-5")],
)
async def test_every_recipient_reads_their_own_inbox(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, role: str, recipient: str
) -> None:
    await deliver(of_order(builders.work_order_sla_warning(assignee_id=recipient), 3))
    response = await client.get(
        f"/v1/inbox/{recipient}", headers=auth(role=role, subject=recipient)
    )
    assert response.status_code == 200, response.text
    assert [i["template"] for i in response.json()["items"]] == ["order_sla_warning"]


async def test_staff_oversight_is_not_bound_to_a_district(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    """Every service serves every district, and an inbox belongs to a person, not a district:
    a supervisor of any district may read it, as with points (common.auth)."""
    await deliver(filed(reporter_id="rider-1"))
    response = await client.get(
        "/v1/inbox/rider-1", headers=auth(role="supervisor", district="370811")
    )
    assert response.status_code == 200


# --- the work order's life ----------------------------------------------------------------------


def of_order(data: EventData, sequence: int) -> CloudEvent:
    return keyed_event(data, sequence=sequence)


async def templates_of(client: httpx.AsyncClient, auth: Auth, recipient: str) -> list[str]:
    response = await client.get(f"/v1/inbox/{recipient}", headers=auth(role="service"))
    return [item["template"] for item in reversed(response.json()["items"])]  # oldest first


async def test_each_person_hears_of_each_step_that_concerns_them_exactly_once(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    both: dict[str, Any] = {"reporter_ids": ["rider-1", "rider-2"]}
    supervisors: dict[str, Any] = {"supervisor_ids": ["sup-street", "sup-street"]}
    life = [
        builders.work_order_review_requested(reporter_ids=["rider-1"], **supervisors),
        builders.work_order_dispatched(reporter_ids=["rider-1"], assignee_id="gw-1"),
        builders.work_order_merged(merged_reporter_id="rider-2", **both),
        builders.work_order_claimed(**both),
        builders.work_order_sla_warning(assignee_id="gw-1", **both),
        builders.work_order_overdue(**both, **supervisors),
        builders.work_order_escalated(level=2, supervisor_ids=["sup-district"], **both),
        builders.work_order_returned(**both),
        builders.work_order_dispatched(assignee_id="dept-9", redispatch=True, **both),
        builders.work_order_resolved(assignee_id="dept-9", **both),
        builders.work_order_verified(passed=False, **both),
        builders.work_order_rework(assignee_id="dept-9", **both),
        builders.work_order_resolved(assignee_id="dept-9", **both),
        builders.work_order_verified(**both),
        builders.work_order_closed(**both),
        builders.work_order_reopened(**both),
        builders.work_order_voided(**both),
    ]
    events = [of_order(data, sequence) for sequence, data in enumerate(life, start=1)]
    for event in events + events:  # every event twice: redelivered
        await deliver(event)
    assert dead_letters == []
    reporter_steps = [  # after the merge: the redispatch onwards
        "report_dispatched",
        "report_resolved",
        "report_rework",
        "report_resolved",
        "report_closed",
        "report_reopened",
        "report_voided",
    ]
    assert await templates_of(client, auth, "rider-1") == ["report_dispatched", *reporter_steps]
    assert await templates_of(client, auth, "rider-2") == ["report_merged", *reporter_steps]
    assert await templates_of(client, auth, "gw-1") == ["order_assigned", "order_sla_warning"]
    assert await templates_of(client, auth, "dept-9") == ["order_reassigned", "order_rework"]
    assert await templates_of(client, auth, "sup-street") == [
        "order_review_requested",
        "order_overdue",
    ]
    assert await templates_of(client, auth, "sup-district") == ["order_escalated"]


async def test_a_reporter_reads_the_deadline_in_local_time(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    due = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    await deliver(
        of_order(builders.work_order_dispatched(assignee_name="张网格", handle_due=due), 2)
    )
    [item] = await inbox(client, auth)
    assert item["body"].endswith("已派遣至 张网格 处理，处置时限 2026-11-24 09:00。")
    assert (item["report_id"], item["work_order_id"]) == ("rep-1", "wo-rep-1")
