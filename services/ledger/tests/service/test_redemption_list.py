"""A rider's list of redemptions (to show the collection codes of gifts reserved earlier) and
staff's list of their districts', through the real API on SQLite and on PostgreSQL: newest
first, cursor-paged, filtered by status, and bounded by who is asking."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.db import upgrade_database
from common.tokens import issue_token
from gridloop_tools.testing.builders import keyed_event, work_order_filed
from gridloop_tools.testing.infrastructure import postgres_server, temporary_postgres_database
from gridloop_tools.testing.service_fixtures import Auth, Deliver, assert_problem
from ledger.adapters.repository import redemptions_listing
from ledger.bootstrap import MIGRATIONS, create_app
from ledger.config import LedgerSettings
from ledger.domain.redemption import RedemptionState
from ledger.service_layer.unit_of_work import RedemptionFilter

HOME, OTHER = "370812", "370811"
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, database_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{database_path}"
        return
    with postgres_server() as server, temporary_postgres_database(server) as url:
        upgrade_database(url, MIGRATIONS)
        yield url


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(LedgerSettings(database_url=database_url, migrate_on_start=False))
    yield application
    await application.state.runtime.engine.dispose()


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each redemption is reserved a minute after the one before (no two share a moment)."""
    moments = (
        datetime(2026, 3, 1, 8, tzinfo=UTC) + timedelta(minutes=n) for n in itertools.count()
    )

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return next(moments)

    monkeypatch.setattr("ledger.entrypoints.http_redemptions.datetime", Clock)


async def put_gift(client: httpx.AsyncClient, auth: Auth, district: str, gift_id: str) -> None:
    body = {
        "name": f"雨衣 {gift_id}",
        "cost": 5,
        "stock": 20,
        "collection_point_kind": "station",
        "collection_point_name": "鼓楼驿站",
        "active_from": START.isoformat(),
    }
    response = await client.put(
        f"/v1/districts/{district}/gifts/{gift_id}",
        json=body,
        headers=auth(role="admin", district=district),
    )
    assert response.status_code == 200, response.text


async def redeem(
    client: httpx.AsyncClient, auth: Auth, rider: str, gift_id: str = "raincoat"
) -> dict[str, Any]:
    response = await client.post(
        "/v1/redemptions",
        json={"gift_id": gift_id},
        headers={**auth(subject=rider), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def listed(
    client: httpx.AsyncClient, headers: dict[str, str], query: str = ""
) -> httpx.Response:
    return await client.get(f"/v1/redemptions{query}", headers=headers)


async def ids(client: httpx.AsyncClient, headers: dict[str, str], query: str = "") -> list[str]:
    response = await listed(client, headers, query)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@pytest.fixture
async def redeemed(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> dict[str, list[dict[str, Any]]]:
    """rider-1: three redemptions at home and one in the other district (oldest first);
    rider-2: one at home."""
    for rider in ("rider-1", "rider-2"):
        for n in range(3):
            await deliver(
                keyed_event(work_order_filed(report_id=f"{rider}-{n}", reporter_id=rider))
            )
    await put_gift(client, auth, HOME, "raincoat")
    await put_gift(client, auth, OTHER, "helmet")
    rider_1 = [await redeem(client, auth, "rider-1") for _ in range(3)]
    rider_1.append(await redeem(client, auth, "rider-1", "helmet"))
    rider_2 = [await redeem(client, auth, "rider-2")]
    return {"rider-1": rider_1, "rider-2": rider_2}


async def test_a_rider_lists_their_own_newest_first_a_page_at_a_time(
    client: httpx.AsyncClient, auth: Auth, redeemed: dict[str, list[dict[str, Any]]]
) -> None:
    mine = redeemed["rider-1"]
    rider = auth(subject="rider-1")

    first = await listed(client, rider, "?limit=2")
    assert first.status_code == 200, first.text
    page = first.json()
    assert set(page) == {"items", "limit", "next_cursor"}
    assert page["limit"] == 2 and page["next_cursor"]
    assert page["items"] == [mine[3], mine[2]]  # the same shape as GET /v1/redemptions/{id}
    one = await client.get(f"/v1/redemptions/{mine[3]['id']}", headers=rider)
    assert page["items"][0] == one.json()
    assert {"collection_code", "state", "gift_name", "cost", "expires_at"} <= set(one.json())

    second = (await listed(client, rider, f"?limit=2&cursor={page['next_cursor']}")).json()
    assert [item["id"] for item in second["items"]] == [mine[1]["id"], mine[0]["id"]]
    assert second["next_cursor"] is None
    assert await ids(client, rider) == [r["id"] for r in reversed(mine)]


async def test_the_status_filter_keeps_the_states_asked_for(
    client: httpx.AsyncClient, auth: Auth, redeemed: dict[str, list[dict[str, Any]]]
) -> None:
    first, second, third, _ = redeemed["rider-1"]
    staff = auth(role="supervisor", subject="sup-1")
    fulfil = f"/v1/redemptions/{first['id']}/fulfil"
    code = {"collection_code": first["collection_code"]}
    assert (await client.post(fulfil, json=code, headers=staff)).status_code == 200
    cancel = f"/v1/redemptions/{second['id']}/cancel"
    assert (await client.post(cancel, json={}, headers=staff)).status_code == 200
    rider = auth(subject="rider-1")

    reserved = (await listed(client, rider, "?status=reserved")).json()["items"]
    assert [(r["gift_name"], r["state"]) for r in reserved] == [
        ("雨衣 helmet", "reserved"),
        ("雨衣 raincoat", "reserved"),
    ]
    assert reserved[1]["id"] == third["id"]
    ended = await ids(client, rider, "?status=fulfilled&status=cancelled")
    assert ended == [second["id"], first["id"]]
    assert await ids(client, rider, "?status=expired") == []
    unknown = await listed(client, rider, "?status=collected")
    assert_problem(unknown, 422)


async def test_a_rider_sees_no_other_riders_redemptions(
    client: httpx.AsyncClient, auth: Auth, redeemed: dict[str, list[dict[str, Any]]]
) -> None:
    others = {r["id"] for r in redeemed["rider-2"]}
    assert others.isdisjoint(await ids(client, auth(subject="rider-1")))
    assert await ids(client, auth(subject="rider-2")) == list(others)
    asked = await listed(client, auth(subject="rider-1"), "?rider=rider-2")
    assert_problem(asked, 403, "their own redemptions")
    assert len(await ids(client, auth(subject="rider-1"), "?rider=rider-1")) == 4


async def test_staff_list_a_rider_or_their_district_within_the_districts_they_cover(
    client: httpx.AsyncClient,
    auth: Auth,
    app: FastAPI,
    redeemed: dict[str, list[dict[str, Any]]],
) -> None:
    one, two = redeemed["rider-1"], redeemed["rider-2"]
    home = [r["id"] for r in reversed(one[:3])]
    for role in ("supervisor", "admin", "service"):
        staff = auth(role=role, subject=f"{role}-1")
        assert await ids(client, staff, "?rider=rider-1") == home, role
    supervisor = auth(role="supervisor", subject="sup-1")
    assert await ids(client, supervisor) == [two[0]["id"], *home]  # the home district's
    assert await ids(client, supervisor, f"?district={HOME}&rider=rider-2") == [two[0]["id"]]
    assert await ids(client, supervisor, "?rider=rider-1&status=fulfilled") == []
    paged = (await listed(client, supervisor, "?limit=3")).json()
    rest = await ids(client, supervisor, f"?limit=3&cursor={paged['next_cursor']}")
    assert [r["id"] for r in paged["items"]] + rest == [two[0]["id"], *home]

    elsewhere = auth(role="supervisor", subject="sup-2", district=OTHER)
    assert await ids(client, elsewhere) == [one[3]["id"]]
    assert await ids(client, elsewhere, "?rider=rider-1") == [one[3]["id"]]
    refused = await listed(client, elsewhere, f"?district={HOME}")
    assert_problem(refused, 403, HOME)
    assert_problem(await listed(client, elsewhere, f"?district={HOME}&rider=rider-1"), 403, HOME)

    token = issue_token(
        app.state.jwt_secret, role="admin", subject="city-1", district=HOME, districts=[OTHER]
    )
    city = {"Authorization": f"Bearer {token}"}
    assert await ids(client, city) == [two[0]["id"], *home]  # the home district's alone
    assert await ids(client, city, f"?district={OTHER}") == [one[3]["id"]]
    assert await ids(client, city, "?rider=rider-1") == [r["id"] for r in reversed(one)]


async def test_grid_workers_departments_and_callers_without_a_token_see_none(
    client: httpx.AsyncClient, auth: Auth, redeemed: dict[str, list[dict[str, Any]]]
) -> None:
    for role in ("grid_worker", "department"):
        assert_problem(await listed(client, auth(role=role, subject="w-1")), 403, role)
    anonymous = await client.get("/v1/redemptions")
    assert_problem(anonymous, 401, "bearer token")
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    statement = await client.get(
        "/v1/accounts/rider-1/statement?limit=1", headers=auth(subject="rider-1")
    )
    cursor = statement.json()["next_cursor"]
    assert_problem(await listed(client, auth(subject="rider-1"), f"?cursor={cursor}"), 422)


async def test_each_list_reads_an_index_in_its_own_order(app: FastAPI) -> None:
    """A rider's page and a district's page are range scans of their index: no sort."""
    engine = app.state.runtime.engine
    cases = {
        "ix_redemptions_rider_newest": RedemptionFilter(rider_id="rider-1"),
        "ix_redemptions_district_newest": RedemptionFilter(districts=[HOME]),
    }
    async with engine.connect() as connection:
        dialect = connection.dialect
        if dialect.name == "postgresql":  # a tiny table: make the planner show its index
            await connection.execute(sa.text("SET enable_seqscan = off"))
            await connection.execute(sa.text("SET enable_sort = off"))
        explain = "EXPLAIN QUERY PLAN " if dialect.name == "sqlite" else "EXPLAIN "
        for index, where in cases.items():
            for states in ((), (RedemptionState.RESERVED,)):
                statement = redemptions_listing(
                    RedemptionFilter(where.rider_id, where.districts, states),
                    after=None,
                    limit=51,
                )
                sql = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
                rows = (await connection.exec_driver_sql(explain + str(sql))).all()
                plan = "\n".join(str(row[-1]) for row in rows)
                assert index in plan, plan
                assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
