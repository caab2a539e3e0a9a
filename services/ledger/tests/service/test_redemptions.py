"""Gifts and their redemption (兑换) through the real API and a real SQLite database: reserve,
fulfil, cancel, expire — each exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from gridloop_tools.testing.builders import keyed_event, work_order_filed
from gridloop_tools.testing.service_fixtures import Auth, Deliver, assert_problem
from gridloop_tools.testing.service_suite import metric_sample

START = datetime(2026, 1, 1, tzinfo=UTC)


async def earn(deliver: Deliver, rider: str, reports: int) -> None:
    for n in range(reports):
        data = work_order_filed(report_id=f"{rider}-rep-{n}", reporter_id=rider)
        await deliver(keyed_event(data))


async def put_gift(
    client: httpx.AsyncClient, auth: Auth, gift_id: str = "raincoat", **changes: Any
) -> dict[str, Any]:
    body = {
        "name": "雨衣",
        "cost": 30,
        "stock": 5,
        "collection_point_kind": "station",
        "collection_point_name": "鼓楼驿站",
        "active_from": START.isoformat(),
        **changes,
    }
    response = await client.put(
        f"/v1/districts/370812/gifts/{gift_id}", json=body, headers=auth(role="admin")
    )
    assert response.status_code == 200, response.text
    gift: dict[str, Any] = response.json()
    return gift


async def redeem(
    client: httpx.AsyncClient, auth: Auth, rider: str, key: str, gift_id: str = "raincoat"
) -> httpx.Response:
    return await client.post(
        "/v1/redemptions",
        json={"gift_id": gift_id},
        headers={**auth(subject=rider), "Idempotency-Key": key},
    )


async def balance(client: httpx.AsyncClient, auth: Auth, rider: str) -> dict[str, Any]:
    response = await client.get(f"/v1/accounts/{rider}/balance", headers=auth(subject=rider))
    body: dict[str, Any] = response.json()
    return body


async def stock(client: httpx.AsyncClient, auth: Auth, gift_id: str = "raincoat") -> int:
    response = await client.get("/v1/districts/370812/gifts", headers=auth())
    return int(next(g["stock"] for g in response.json()["gifts"] if g["id"] == gift_id))


async def verified(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.get("/v1/admin/ledger/verify", headers=auth(role="admin"))
    assert response.json()["ok"], response.json()


async def outbox_types(app: FastAPI) -> list[str]:
    async with app.state.runtime.engine.connect() as connection:
        rows = (
            await connection.execute(sa.text("SELECT payload FROM outbox ORDER BY position"))
        ).all()
    return [CloudEvent.from_bytes(row[0]).type for row in rows]


async def test_a_reservation_holds_points_and_stock_until_fulfilled_against_its_code(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    await earn(deliver, "rider-1", 4)
    gift = await put_gift(client, auth)
    assert gift["collection_point"] == "鼓楼驿站（驿站）"

    response = await redeem(client, auth, "rider-1", "k-1")
    assert response.status_code == 201, response.text
    reserved = response.json()
    assert (reserved["state"], reserved["cost"]) == ("reserved", 30)
    assert await balance(client, auth, "rider-1") == {
        "account_id": "rider:rider-1",
        "rider_id": "rider-1",
        "posted": 40,
        "reserved": 30,
        "balance": 40,
        "pending": 30,
        "available": 10,
    }
    assert await stock(client, auth) == 4
    again = await redeem(client, auth, "rider-1", "k-1")  # a retry
    assert again.status_code == 200
    assert again.json()["id"] == reserved["id"]
    assert await stock(client, auth) == 4

    url = f"/v1/redemptions/{reserved['id']}/fulfil"
    wrong = await client.post(url, json={"collection_code": "x"}, headers=auth(role="supervisor"))
    assert_problem(wrong, 422, "does not match")
    code = {"collection_code": reserved["collection_code"]}
    rider_try = await client.post(url, json=code, headers=auth(subject="rider-1"))
    assert_problem(rider_try, 403, "role 'rider'")
    done = await client.post(url, json=code, headers=auth(role="supervisor", subject="sup-1"))
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["resolved_by"]) == ("fulfilled", "sup-1")
    assert (await client.post(url, json=code, headers=auth(role="supervisor"))).status_code == 200

    after = await balance(client, auth, "rider-1")
    assert (after["posted"], after["reserved"], after["available"]) == (10, 0, 10)
    assert (after["balance"], after["pending"]) == (10, 0)  # the older names stay
    cancel = await client.post(
        f"/v1/redemptions/{reserved['id']}/cancel", json={}, headers=auth(role="supervisor")
    )
    assert_problem(cancel, 409, "already fulfilled")
    types = await outbox_types(app)
    assert types.count("gridloop.redemption.reserved") == 1
    assert types.count("gridloop.redemption.fulfilled") == 1
    lines = (
        await client.get("/v1/accounts/rider-1/statement", headers=auth(subject="rider-1"))
    ).json()["items"]
    assert [(line["code"], line["balance_change"], line["available_change"]) for line in lines][
        :2
    ] == [("post", -30, 0), ("reserve", 0, -30)]
    assert {(line["gift_name"], line["redemption_id"]) for line in lines[:2]} == {
        ("雨衣", reserved["id"])
    }
    text = (await client.get("/metrics")).text
    assert (
        metric_sample(text, "gridloop_ledger_points_total", district="370812", movement="redeemed")
        == 30
    )
    await verified(client, auth)


async def test_a_cancelled_reservation_gives_back_points_and_stock(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    await earn(deliver, "rider-1", 3)
    await earn(deliver, "rider-2", 3)
    await put_gift(client, auth, stock=1)
    reserved = (await redeem(client, auth, "rider-1", "k-1")).json()
    assert await stock(client, auth) == 0
    assert_problem(await redeem(client, auth, "rider-2", "k-1"), 409, "out of stock")

    url = f"/v1/redemptions/{reserved['id']}/cancel"
    response = await client.post(url, json={"reason": "礼品损坏"}, headers=auth(role="admin"))
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "cancelled"
    assert await stock(client, auth) == 1
    assert (await balance(client, auth, "rider-1"))["available"] == 30
    fulfil = await client.post(
        f"/v1/redemptions/{reserved['id']}/fulfil",
        json={"collection_code": reserved["collection_code"]},
        headers=auth(role="supervisor"),
    )
    assert_problem(fulfil, 409, "already cancelled")
    await verified(client, auth)
    async with app.state.runtime.engine.connect() as connection:
        rows = (await connection.execute(sa.text("SELECT payload FROM outbox"))).all()
    cancelled = [
        event
        for event in (CloudEvent.from_bytes(row[0]) for row in rows)
        if event.type == "gridloop.redemption.cancelled"
    ]
    assert [e.data["reason"] for e in cancelled] == ["礼品损坏"]


async def test_an_unfulfilled_reservation_expires_once_and_a_late_fulfil_is_409(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    await earn(deliver, "rider-1", 3)
    await put_gift(client, auth, stock=1)
    reserved = (await redeem(client, auth, "rider-1", "k-1")).json()
    expires_at = datetime.fromisoformat(reserved["expires_at"])
    assert expires_at - datetime.fromisoformat(reserved["reserved_at"]) == timedelta(days=3)

    assert await app.state.sweep_redemptions(expires_at - timedelta(seconds=1)) == 0
    assert await app.state.sweep_redemptions(expires_at) == 1
    assert await app.state.sweep_redemptions(expires_at + timedelta(hours=1)) == 0

    state = await client.get(f"/v1/redemptions/{reserved['id']}", headers=auth(subject="rider-1"))
    assert state.json()["state"] == "expired"
    assert await stock(client, auth) == 1
    assert (await balance(client, auth, "rider-1"))["available"] == 30
    late = await client.post(
        f"/v1/redemptions/{reserved['id']}/fulfil",
        json={"collection_code": reserved["collection_code"]},
        headers=auth(role="supervisor"),
    )
    assert_problem(late, 409, "already expired")
    assert (await outbox_types(app)).count("gridloop.redemption.expired") == 1
    await verified(client, auth)


async def test_a_fulfil_after_the_expiry_time_is_409_before_the_sweeper_runs(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, monkeypatch: pytest.MonkeyPatch
) -> None:
    await earn(deliver, "rider-1", 3)
    await put_gift(client, auth)
    reserved = (await redeem(client, auth, "rider-1", "k-1")).json()
    later = datetime.fromisoformat(reserved["expires_at"]) + timedelta(minutes=1)

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return later

    monkeypatch.setattr("ledger.entrypoints.http_redemptions.datetime", Clock)
    late = await client.post(
        f"/v1/redemptions/{reserved['id']}/fulfil",
        json={"collection_code": reserved["collection_code"]},
        headers=auth(role="supervisor"),
    )
    assert_problem(late, 409, "expired")


async def test_redemptions_are_refused_for_want_of_points_gift_or_window(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    await earn(deliver, "rider-1", 2)
    await put_gift(client, auth)
    await put_gift(
        client, auth, "lamp", active_from=(datetime.now(UTC) + timedelta(days=1)).isoformat()
    )
    assert_problem(await redeem(client, auth, "rider-1", "k-1"), 409, "20 are available")
    assert_problem(await redeem(client, auth, "rider-1", "k-2", "nothing"), 404, "no gift")
    assert_problem(await redeem(client, auth, "rider-1", "k-3", "lamp"), 409, "cannot be")
    missing_key = await client.post(
        "/v1/redemptions", json={"gift_id": "raincoat"}, headers=auth(subject="rider-1")
    )
    assert missing_key.status_code == 422
    staff = await client.post(
        "/v1/redemptions",
        json={"gift_id": "raincoat"},
        headers={**auth(role="supervisor"), "Idempotency-Key": "k"},
    )
    assert_problem(staff, 403, "role 'supervisor'")
    await earn(deliver, "rider-1", 3)
    assert (await redeem(client, auth, "rider-1", "k-4")).status_code == 201
    assert_problem(await redeem(client, auth, "rider-1", "k-4", "lamp"), 409, "was used for")


async def test_the_gift_catalogue_is_admin_only(client: httpx.AsyncClient, auth: Auth) -> None:
    body = {
        "name": "雨衣",
        "cost": 30,
        "stock": 5,
        "collection_point_kind": "merchant",
        "collection_point_name": "老街便利店",
        "active_from": START.isoformat(),
    }
    url = "/v1/districts/370812/gifts/raincoat"
    assert_problem(await client.put(url, json=body, headers=auth(role="supervisor")), 403, "role")
    bad = {**body, "active_until": START.isoformat()}
    assert_problem(await client.put(url, json=bad, headers=auth(role="admin")), 422, "follow")
    other = "/v1/districts/370811/gifts/raincoat"
    assert_problem(await client.put(other, json=body, headers=auth(role="admin")), 403, "370811")
