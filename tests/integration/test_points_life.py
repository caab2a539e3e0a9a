"""Points through the real broker and the four services: a report filed (+10), a second one
merged into its order (并单 +2), the order closed (+5 to the original reporter) and rated
(+1); another order voided as false (its +10 taken back); a gift redeemed and collected —
each rider's balance and statement, the points events, and the ledger's own proof."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from common.auth import DEVELOPMENT_SECRET, issue_token
from common.contracts.envelope import CloudEvent
from common.contracts.topics import Topic
from gridloop_tools.stack import Stack
from tests.integration.conftest import Rider, eventually, points_in_grids, read_topic
from tests.integration.test_work_order_life import Staff, status_becomes

YAN = "370812"


def statement(stack: Stack, rider: Rider) -> list[dict[str, Any]]:
    url = f"{stack.url('ledger')}/v1/accounts/{rider.id}/statement"
    response = rider.client.get(url, params={"limit": 200})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def lines_of(stack: Stack, rider: Rider, count: int) -> list[tuple[str, int, str]]:
    """(code, balance change, reason) of the rider's statement, oldest first, once it has
    ``count`` lines."""
    found: list[dict[str, Any]] = eventually(
        lambda: (items := statement(stack, rider)) and len(items) >= count and items,
        timeout=90,
    )
    return [(i["code"], i["balance_change"], i["reason"]) for i in reversed(found)]


def test_points_of_a_whole_life_and_a_gift_through_the_real_broker(stack: Stack) -> None:
    here, there = points_in_grids(YAN, slice(150, 152))
    staff = Staff(stack, YAN)
    first, second, third = (Rider(stack, district=YAN) for _ in range(3))
    admin = {
        "Authorization": "Bearer "
        + issue_token(DEVELOPMENT_SECRET, role="admin", subject="it-admin", district=YAN)
    }

    # 立案 +10; 并单 +2 to the second reporter
    report = first.submit("0501", *here, "楼道里私拉电线充电")
    order_id = status_becomes(first, report, "dispatched")["work_order_id"]
    assert eventually(lambda: first.balance() == 10, timeout=90)
    merged_report = second.submit("0501", *here, "同一处飞线充电")
    assert status_becomes(second, merged_report, "merged")["work_order_id"] == order_id
    assert eventually(lambda: second.balance() == 2, timeout=90)

    # 结案 +5 to the original reporter; 评价 +1
    staff.act(order_id, "claim")
    staff.act(order_id, "resolve", {"note": "已拆除飞线"})
    assert staff.act(order_id, "verify", {"passed": True, "note": "核查通过"})["state"] == "closed"
    status_becomes(first, report, "closed")
    assert eventually(lambda: first.balance() == 15, timeout=90)
    first.ask(report, "rate", {"score": 5, "comment": "很及时"})
    assert eventually(lambda: first.balance() == 16, timeout=90)

    # 作废 as false: the +10 is taken back
    false_report = third.submit("0301", *there, "路边垃圾堆积")
    false_order = status_becomes(third, false_report, "dispatched")["work_order_id"]
    assert eventually(lambda: third.balance() == 10, timeout=90)
    staff.act(false_order, "void", {"reason": "现场无此问题，虚假上报"})
    assert eventually(lambda: third.balance() == 0, timeout=90)

    # 兑换: the first rider redeems a gift and collects it at the 驿站
    ledger = stack.url("ledger")
    gift = {
        "name": "雨衣",
        "cost": 12,
        "stock": 3,
        "collection_point_kind": "station",
        "collection_point_name": "鼓楼骑手驿站",
        "active_from": "2026-01-01T00:00:00+08:00",
    }
    gift_id = f"it-raincoat-{uuid.uuid4().hex[:8]}"
    put = httpx.put(f"{ledger}/v1/districts/{YAN}/gifts/{gift_id}", json=gift, headers=admin)
    assert put.status_code == 200, put.text
    reserved = first.client.post(
        f"{ledger}/v1/redemptions",
        json={"gift_id": gift_id},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert reserved.status_code == 201, reserved.text
    fulfilled = httpx.post(
        f"{ledger}/v1/redemptions/{reserved.json()['id']}/fulfil",
        json={"collection_code": reserved.json()["collection_code"]},
        headers=admin,
    )
    assert fulfilled.status_code == 200, fulfilled.text
    assert first.balance() == 4

    assert lines_of(stack, first, 5) == [
        ("report_accepted", 10, "上报被立案"),
        ("closure_bonus", 5, "案件结案奖励"),
        ("rating", 1, "评价处置结果"),
        ("reserve", 0, "兑换礼品，冻结积分"),
        ("post", -12, "礼品已领取，积分扣除"),
    ]
    assert lines_of(stack, second, 1) == [("corroboration", 2, "上报并入已有案件（并单）")]
    assert lines_of(stack, third, 2) == [
        ("report_accepted", 10, "上报被立案"),
        ("reversal", -10, "案件作废，扣回积分"),
    ]

    # the points events, keyed by rider, and the ledger's own proof
    ours = {first.id, second.id, third.id}
    events = [
        event
        for event in map(
            CloudEvent.from_bytes,
            (r.value for r in read_topic(stack.bootstrap_servers, Topic.POINTS.value)),
        )
        if event.subject in ours
    ]
    assert sorted(e.type for e in events) == sorted(
        ["gridloop.points.awarded"] * 5
        + ["gridloop.points.reversed", "gridloop.redemption.reserved"]
        + ["gridloop.redemption.fulfilled"]
    )
    proof = httpx.get(f"{ledger}/v1/admin/ledger/verify", headers=admin, timeout=30)
    assert proof.status_code == 200 and proof.json()["ok"], proof.text
