"""Concurrent redemptions on PostgreSQL, where requests really run in parallel (SQLite
serialises writers): one rider's 50 redemptions at once never overdraw, one key redeems once,
and the last unit of a gift goes to exactly one of 20 riders."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from common.db import upgrade_database
from gridloop_tools.testing.builders import AT, keyed_event, work_order_filed
from gridloop_tools.testing.infrastructure import postgres_server, temporary_postgres_database
from gridloop_tools.testing.service_fixtures import Auth, Deliver
from ledger.bootstrap import MIGRATIONS, create_app
from ledger.config import LedgerSettings


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    with postgres_server() as server, temporary_postgres_database(server) as url:
        upgrade_database(url, MIGRATIONS)
        yield url


@pytest.fixture()
async def app(postgres_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(LedgerSettings(database_url=postgres_url, migrate_on_start=False))
    yield application
    await application.state.runtime.engine.dispose()


@pytest.fixture()
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def earn(deliver: Deliver, rider: str, points: int) -> None:
    """``points`` (a multiple of 10) for ``rider``, five reports a day (the daily cap)."""
    for n in range(points // 10):
        filed_at = AT + timedelta(days=n // 5)
        data = work_order_filed(report_id=f"{rider}-{n}", reporter_id=rider, filed_at=filed_at)
        await deliver(keyed_event(data))


async def put_gift(client: httpx.AsyncClient, auth: Auth, *, cost: int, stock: int) -> None:
    body = {
        "name": "电动车头盔",
        "cost": cost,
        "stock": stock,
        "collection_point_kind": "merchant",
        "collection_point_name": "鼓楼头盔店",
        "active_from": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
    }
    response = await client.put(
        "/v1/districts/370812/gifts/helmet", json=body, headers=auth(role="admin")
    )
    assert response.status_code == 200, response.text


async def all_at_once(
    client: httpx.AsyncClient, auth: Auth, requests: list[tuple[str, str]]
) -> list[httpx.Response]:
    """(rider, Idempotency-Key) pairs, all redeeming the helmet at once."""
    return await asyncio.gather(
        *[
            client.post(
                "/v1/redemptions",
                json={"gift_id": "helmet"},
                headers={**auth(subject=rider), "Idempotency-Key": key},
            )
            for rider, key in requests
        ]
    )


async def verification(client: httpx.AsyncClient, auth: Auth) -> dict[str, Any]:
    response = await client.get("/v1/admin/ledger/verify", headers=auth(role="admin"))
    body: dict[str, Any] = response.json()
    return body


async def test_fifty_redemptions_at_once_never_overdraw_a_rider(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    await earn(deliver, "rider-1", 100)
    await put_gift(client, auth, cost=30, stock=100)

    answers = await all_at_once(client, auth, [("rider-1", f"k-{n}") for n in range(50)])

    statuses = Counter(response.status_code for response in answers)
    assert statuses == {201: 3, 409: 47}, [r.text for r in answers if r.status_code >= 500]
    refused = {r.json()["title"] for r in answers if r.status_code == 409}
    assert refused == {"Not enough points"}
    balance = (
        await client.get("/v1/accounts/rider-1/balance", headers=auth(subject="rider-1"))
    ).json()
    assert (balance["balance"], balance["pending"], balance["available"]) == (100, 90, 10)
    body = await verification(client, auth)
    assert body["ok"], body


async def test_one_key_sent_twenty_times_at_once_redeems_once(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    await earn(deliver, "rider-1", 100)
    await put_gift(client, auth, cost=30, stock=100)

    answers = await all_at_once(client, auth, [("rider-1", "same-key")] * 20)

    assert Counter(r.status_code for r in answers) == {201: 1, 200: 19}
    assert len({r.json()["id"] for r in answers}) == 1
    balance = (
        await client.get("/v1/accounts/rider-1/balance", headers=auth(subject="rider-1"))
    ).json()
    assert balance["pending"] == 30


async def test_the_last_gift_goes_to_exactly_one_of_twenty_riders(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    riders = [f"rider-{n}" for n in range(20)]
    for rider in riders:
        await earn(deliver, rider, 30)
    await put_gift(client, auth, cost=30, stock=1)

    answers = await all_at_once(client, auth, [(rider, "k-1") for rider in riders])

    assert Counter(r.status_code for r in answers) == {201: 1, 409: 19}
    assert {r.json()["title"] for r in answers if r.status_code == 409} == {"Out of stock"}
    gifts = (await client.get("/v1/districts/370812/gifts", headers=auth())).json()["gifts"]
    assert gifts[0]["stock"] == 0
    winner = next(r.json()["rider_id"] for r in answers if r.status_code == 201)
    for rider in riders:
        balance = (
            await client.get(f"/v1/accounts/{rider}/balance", headers=auth(subject=rider))
        ).json()
        assert balance["available"] == (0 if rider == winner else 30)
    body = await verification(client, auth)
    assert body["ok"], body
