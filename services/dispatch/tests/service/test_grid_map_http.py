"""What a map needs from dispatch, on the real app: ``GET /v1/districts/{district}/grids`` (a
district's grids as the GeoJSON an admin loads, public, cacheable with an ETag) and ``GET
/v1/districts/{district}/grid-load`` (each grid's open and overdue orders, for staff whose token
covers the district). The reads that depend on SQL run on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.db import upgrade_database
from dispatch import bootstrap
from dispatch.adapters.unit_of_work import SqlDispatchUnitOfWork
from dispatch.config import DispatchSettings
from dispatch.domain.calendar import SHANGHAI
from dispatch.domain.work_orders import Assignee, AssigneeKind
from gridloop_tools.testing.dispatch import (
    GULOU,
    JIUXIAN,
    RENCHENG,
    YANZHOU,
    bearer,
    categories_document,
    district_grids,
    load_over_http,
)
from gridloop_tools.testing.grids import grid_square
from gridloop_tools.testing.infrastructure import postgres_server, temporary_postgres_database
from gridloop_tools.testing.service_fixtures import assert_problem, serving
from gridloop_tools.testing.work_orders import OrderStory

WORKER = Assignee(AssigneeKind.GRID_WORKER, "w-west-1", "网格员")
FAR = datetime(2099, 1, 1, tzinfo=SHANGHAI)
"""A deadline that has not passed."""
GEOJSON = "application/geo+json"


def at(day: int, hour: int = 9) -> datetime:
    """A moment of March 2025: every deadline set with it has passed."""
    return datetime(2025, 3, day, hour, tzinfo=SHANGHAI)


# --- the database: SQLite, or PostgreSQL -------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with postgres_server() as server:
        yield server


@pytest.fixture
def make_app(
    request: pytest.FixtureRequest, database_path: Path
) -> Iterator[Callable[[], FastAPI]]:
    """Builds a replica of the app, every one on the test's database: a SQLite file by
    default, a fresh PostgreSQL database when the test is parametrised with ``postgresql``."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{database_path}"
        yield lambda: bootstrap.create_app(
            DispatchSettings(database_url=url, migrate_on_start=False)
        )
        return
    server = request.getfixturevalue("postgres")
    with temporary_postgres_database(server, "gridloop_test_gridmap") as url:
        upgrade_database(url, bootstrap.MIGRATIONS)
        yield lambda: bootstrap.create_app(
            DispatchSettings(database_url=url, migrate_on_start=False)
        )


@pytest.fixture
async def app(make_app: Callable[[], FastAPI]) -> AsyncIterator[FastAPI]:
    application = make_app()
    yield application
    await application.state.runtime.engine.dispose()


BOTH_DATABASES = pytest.mark.parametrize(
    "make_app", ["sqlite", "postgresql"], indirect=True, ids=["sqlite", "postgresql"]
)


def admin(app: FastAPI, district: str = YANZHOU) -> dict[str, str]:
    return bearer(app, role="admin", subject="admin-1", district=district)


# --- GET /v1/districts/{district}/grids ---------------------------------------------------------


async def grids(
    client: httpx.AsyncClient, district: str = YANZHOU, **headers: str
) -> httpx.Response:
    return await client.get(f"/v1/districts/{district}/grids", headers=headers)


@BOTH_DATABASES
async def test_the_grids_come_back_as_loaded_and_load_back_unchanged(
    client: httpx.AsyncClient, app: FastAPI, make_app: Callable[[], FastAPI]
) -> None:
    loaded = district_grids(YANZHOU)
    await load_over_http(client, app, YANZHOU, kinds=[])

    response = await grids(client)  # no token: public
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == GEOJSON
    assert response.headers["cache-control"] == "public, max-age=300"
    etag = response.headers["etag"]
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["bbox"] == pytest.approx([116.80, 35.48, 116.82, 35.51])
    assert [f["type"] for f in body["features"]] == ["Feature"] * 3
    assert [f["id"] for f in body["features"]] == ["g-west", "g-east", "g-south"]
    assert [f["properties"] for f in body["features"]] == [
        f["properties"] for f in loaded["features"]
    ]
    assert [f["properties"]["street"] for f in body["features"]] == [GULOU, GULOU, JIUXIAN]
    assert [f["geometry"] for f in body["features"]] == [f["geometry"] for f in loaded["features"]]

    put_back = await client.put(f"/v1/districts/{YANZHOU}/grids", json=body, headers=admin(app))
    assert put_back.json() == {"district_code": YANZHOU, "grids": 3, "streets": 2, "communities": 3}
    again = await grids(client)
    assert again.content == response.content
    assert again.headers["etag"] == etag

    # Another replica reads them from the database: the same bytes, the same ETag.
    replica = make_app()
    async with serving(replica) as other:
        await replica.state.districts.refresh(
            replica.state.runtime.unit_of_work_factory(SqlDispatchUnitOfWork)()
        )
        from_replica = await grids(other)
    assert from_replica.content == response.content
    assert from_replica.headers["etag"] == etag


async def test_a_multipolygon_with_a_hole_comes_back_as_loaded(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    outer = [[116.80, 35.50], [116.83, 35.50], [116.83, 35.53], [116.80, 35.53], [116.80, 35.50]]
    hole = [[116.81, 35.51], [116.82, 35.51], [116.82, 35.52], [116.81, 35.52], [116.81, 35.51]]
    island = [[116.90, 35.50], [116.91, 35.50], [116.91, 35.51], [116.90, 35.50]]
    feature = grid_square("g-ring", 0, 0, district=YANZHOU)
    feature["geometry"] = {"type": "MultiPolygon", "coordinates": [[outer, hole], [island]]}
    loaded = {"type": "FeatureCollection", "features": [feature]}
    assert (
        await client.put(f"/v1/districts/{YANZHOU}/grids", json=loaded, headers=admin(app))
    ).status_code == 200
    (served,) = (await grids(client)).json()["features"]
    assert served["geometry"] == feature["geometry"]


async def test_a_district_without_grids_is_404(client: httpx.AsyncClient, app: FastAPI) -> None:
    await load_over_http(client, app, RENCHENG, kinds=[])
    categories = await client.put(
        f"/v1/districts/{YANZHOU}/categories",
        json=categories_document(YANZHOU),
        headers=admin(app),
    )
    assert categories.status_code == 200, categories.text
    assert_problem(await grids(client, YANZHOU), 404, f"no grids are loaded for district {YANZHOU}")
    assert_problem(await grids(client, "370899"), 404, "370899")
    assert (await grids(client, RENCHENG)).status_code == 200
    assert_problem(await grids(client, "37081"), 422)


async def test_if_none_match_with_the_current_etag_is_304(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await load_over_http(client, app, YANZHOU, kinds=[])
    etag = (await grids(client)).headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 10

    for held in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = await grids(client, **{"If-None-Match": held})
        assert response.status_code == 304, held
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["cache-control"] == "public, max-age=300"

    stale = await grids(client, **{"If-None-Match": '"other"'})
    assert stale.status_code == 200
    assert stale.json()["type"] == "FeatureCollection"


async def test_new_grids_have_a_new_etag(client: httpx.AsyncClient, app: FastAPI) -> None:
    await load_over_http(client, app, YANZHOU, kinds=[])
    old = (await grids(client)).headers["etag"]
    fewer = district_grids(YANZHOU)
    fewer["features"] = fewer["features"][:2]
    await client.put(f"/v1/districts/{YANZHOU}/grids", json=fewer, headers=admin(app))

    response = await grids(client, **{"If-None-Match": old})
    assert response.status_code == 200
    assert response.headers["etag"] != old
    assert [f["id"] for f in response.json()["features"]] == ["g-west", "g-east"]


# --- GET /v1/districts/{district}/grid-load -----------------------------------------------------


def stories() -> list[OrderStory]:
    """Open and finished orders in 兖州's g-west and g-east (none open in g-south), one in a grid
    that is no longer loaded, and one in 任城's r-1."""
    return [
        # g-west: 4 open, 1 overdue
        OrderStory("w1", YANZHOU, at(3), grid="g-west").dispatch(at(3), due=at(3, 17), to=WORKER),
        OrderStory("w2", YANZHOU, at(4), grid="g-west")
        .dispatch(at(4), due=FAR, to=WORKER)
        .claim(at(4, 10)),
        OrderStory("w3", YANZHOU, at(5), grid="g-west", review=True),  # no clock yet
        OrderStory("w4", YANZHOU, at(6), grid="g-west")  # resolved: waits for verification
        .dispatch(at(6), due=at(6, 17), to=WORKER)
        .claim(at(6, 10))
        .resolve(at(6, 12)),
        OrderStory("w5", YANZHOU, at(7), grid="g-west")  # closed: not open
        .dispatch(at(7), due=at(7, 17), to=WORKER)
        .claim(at(7, 10))
        .resolve(at(7, 12))
        .verify(at(7, 14)),
        OrderStory("w6", YANZHOU, at(8), grid="g-west")  # voided
        .dispatch(at(8), due=at(8, 17), to=WORKER)
        .void(at(8, 10)),
        # g-east: 3 open, all overdue
        OrderStory("e1", YANZHOU, at(3), grid="g-east", street=GULOU).dispatch(
            at(3), due=at(4), to=WORKER
        ),
        OrderStory("e2", YANZHOU, at(5), grid="g-east")  # reopened, dispatched again, late
        .dispatch(at(5), due=at(5, 17), to=WORKER)
        .claim(at(5, 10))
        .resolve(at(5, 12))
        .verify(at(5, 14))
        .reopen(at(6))
        .dispatch(at(6), due=at(6, 17), to=WORKER),
        OrderStory("e3", YANZHOU, at(9), grid="g-east")  # reworked, its new clock run out
        .dispatch(at(9), due=FAR, to=WORKER)
        .claim(at(9, 10))
        .resolve(at(9, 12))
        .verify(at(9, 14), rework_due=at(10)),
        OrderStory("e4", YANZHOU, at(10), grid="g-east", review=True).reject(at(10, 11)),
        OrderStory("e5", YANZHOU, at(11), grid="g-east")  # closed and rated
        .dispatch(at(11), due=at(11, 17), to=WORKER)
        .claim(at(11, 10))
        .resolve(at(11, 12))
        .verify(at(11, 14))
        .rate(at(12), 5),
        # g-south: only a closed order
        OrderStory("s1", YANZHOU, at(3), grid="g-south", street=JIUXIAN)
        .dispatch(at(3), due=at(3, 17), to=WORKER)
        .claim(at(3, 10))
        .resolve(at(3, 12))
        .verify(at(3, 14)),
        # a grid 兖州 no longer has, and 任城's grid
        OrderStory("x1", YANZHOU, at(3), grid="g-gone").dispatch(at(3), due=at(3, 17), to=WORKER),
        OrderStory("r1", RENCHENG, at(3), grid="r-1").dispatch(at(3), due=at(3, 17), to=WORKER),
    ]


EXPECTED: list[dict[str, Any]] = [
    {"grid_id": "g-west", "open": 4, "overdue": 1},
    {"grid_id": "g-east", "open": 3, "overdue": 3},
    {"grid_id": "g-south", "open": 0, "overdue": 0},
]


async def seed(client: httpx.AsyncClient, app: FastAPI) -> None:
    await load_over_http(client, app, YANZHOU, kinds=[])
    await load_over_http(client, app, RENCHENG, kinds=[])
    unit_of_work = app.state.runtime.unit_of_work_factory(SqlDispatchUnitOfWork)
    async with unit_of_work() as uow:
        for story in stories():
            await uow.work_orders.add(story.order)
        await uow.commit()


def supervisor(app: FastAPI, district: str = YANZHOU, **claims: Any) -> dict[str, str]:
    return bearer(app, role="supervisor", subject="s-1", district=district, **claims)


async def grid_load(
    client: httpx.AsyncClient, headers: dict[str, str], district: str = YANZHOU, **params: str
) -> httpx.Response:
    return await client.get(f"/v1/districts/{district}/grid-load", params=params, headers=headers)


@BOTH_DATABASES
async def test_each_grid_counts_its_open_and_overdue_orders_and_idle_grids_zeros(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await seed(client, app)
    before = datetime.now(SHANGHAI)
    response = await grid_load(client, supervisor(app))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["grids"] == EXPECTED
    assert (body["district"], body["street"]) == (YANZHOU, None)
    assert datetime.fromisoformat(body["as_of"]) >= before

    # The same counts as 综合评价's open_now and overdue_now of each grid.
    for row in EXPECTED:
        total = (
            await client.get(
                "/v1/stats",
                params={"district": YANZHOU, "grid": str(row["grid_id"])},
                headers=supervisor(app),
            )
        ).json()["total"]
        assert (total["open_now"], total["overdue_now"]) == (row["open"], row["overdue"])


@BOTH_DATABASES
async def test_a_street_narrows_the_grids(client: httpx.AsyncClient, app: FastAPI) -> None:
    await seed(client, app)
    gulou = (await grid_load(client, supervisor(app), street=GULOU)).json()
    assert (gulou["street"], gulou["grids"]) == (GULOU, EXPECTED[:2])
    jiuxian = (await grid_load(client, supervisor(app), street=JIUXIAN)).json()
    assert jiuxian["grids"] == EXPECTED[2:]
    assert_problem(await grid_load(client, supervisor(app), street="新驿镇"), 404, "新驿镇")


async def test_the_counts_are_one_grouped_query(client: httpx.AsyncClient, app: FastAPI) -> None:
    await seed(client, app)
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    engine = app.state.runtime.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        response = await grid_load(client, supervisor(app))
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert response.json()["grids"] == EXPECTED
    (statement,) = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert "GROUP BY" in statement.upper()
    assert "work_orders" in statement


@pytest.mark.parametrize("role", ["supervisor", "admin", "service"])
async def test_staff_whose_token_covers_the_district_may_read_it(
    client: httpx.AsyncClient, app: FastAPI, role: str
) -> None:
    await seed(client, app)
    headers = bearer(app, role=role, subject="x", district=RENCHENG, districts=[YANZHOU])
    response = await grid_load(client, headers)
    assert response.status_code == 200, response.text
    assert response.json()["grids"] == EXPECTED


@pytest.mark.parametrize("role", ["grid_worker", "department", "rider"])
async def test_grid_workers_departments_and_riders_may_not(
    client: httpx.AsyncClient, app: FastAPI, role: str
) -> None:
    await seed(client, app)
    headers = bearer(app, role=role, subject="w-west-1", grids=["g-west"])
    assert_problem(await grid_load(client, headers), 403, role)


async def test_a_supervisor_of_another_district_may_not(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await seed(client, app)
    assert_problem(
        await grid_load(client, supervisor(app, RENCHENG)),
        403,
        f"does not cover district {YANZHOU}",
    )
    assert (await grid_load(client, supervisor(app, RENCHENG), RENCHENG)).json()["grids"] == [
        {"grid_id": "r-1", "open": 1, "overdue": 1}
    ]


async def test_without_a_token_it_is_401(client: httpx.AsyncClient, app: FastAPI) -> None:
    await seed(client, app)
    response = await client.get(f"/v1/districts/{YANZHOU}/grid-load")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_the_load_of_a_district_without_grids_is_404(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    headers = supervisor(app, "370899")
    assert_problem(await grid_load(client, headers, "370899"), 404, "370899")
