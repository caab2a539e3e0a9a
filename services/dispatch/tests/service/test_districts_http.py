"""A district's reference data over HTTP, on the real app and a real SQLite file: admins whose
token covers the district load its grids, categories, roster and calendar (each refused whole,
every problem named by row); anyone reads the districts served and their catalogues; a new
catalogue is published on the outbox; another replica picks up what one loaded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from shapely.geometry import shape

from common.contracts.topics import Topic
from dispatch import bootstrap
from dispatch.adapters.unit_of_work import SqlDispatchUnitOfWork
from gridloop_tools.testing.dispatch import (
    CALENDAR,
    CATEGORIES,
    RENCHENG,
    ROSTER,
    YANZHOU,
    bearer,
    calendar_document,
    categories_document,
    category,
    district_grids,
    load_over_http,
    outbox,
    report_event,
    roster_document,
    rows,
    short,
    worker,
)
from gridloop_tools.testing.grids import grid_square
from gridloop_tools.testing.service_fixtures import Deliver, assert_problem, serving

DOCUMENTS: dict[str, Callable[[str], dict[str, Any]]] = {
    CATEGORIES: categories_document,
    ROSTER: roster_document,
    CALENDAR: calendar_document,
}
KINDS = pytest.mark.parametrize("kind", [CATEGORIES, ROSTER, CALENDAR, "grids"])


def admin(app: FastAPI, district: str = YANZHOU, **claims: Any) -> dict[str, str]:
    return bearer(app, role="admin", subject="admin-1", district=district, **claims)


def document(kind: str, district: str = YANZHOU) -> dict[str, Any]:
    return district_grids(district) if kind == "grids" else DOCUMENTS[kind](district)


async def put(
    client: httpx.AsyncClient,
    path: str,
    body: Any,
    headers: dict[str, str],
) -> httpx.Response:
    return await client.put(path, json=body, headers=headers)


# --- loading ----------------------------------------------------------------------------------


async def test_an_admin_loads_each_document_of_their_district(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    grids = await put(client, f"/v1/districts/{YANZHOU}/grids", document("grids"), admin(app))
    assert grids.json() == {"district_code": YANZHOU, "grids": 3, "streets": 2, "communities": 3}
    for kind in (CATEGORIES, ROSTER, CALENDAR):
        response = await put(client, f"/v1/districts/{YANZHOU}/{kind}", document(kind), admin(app))
        assert response.json() == {"district": YANZHOU, "kind": kind, "revision": 1}
    again = await put(client, f"/v1/districts/{YANZHOU}/roster", document(ROSTER), admin(app))
    assert again.json()["revision"] == 2


async def test_the_districts_served_and_their_catalogues_are_public(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await load_over_http(client, app, YANZHOU)
    await load_over_http(client, app, RENCHENG, kinds=[CATEGORIES])

    served = await client.get("/v1/districts")
    assert served.json() == [
        {
            "code": RENCHENG,
            "name": "任城区",
            "grids": 1,
            "categories": 2,
            "roster": False,
            "calendar": False,
        },
        {
            "code": YANZHOU,
            "name": "兖州区",
            "grids": 3,
            "categories": 6,
            "roster": True,
            "calendar": True,
        },
    ]
    listed = (await client.get(f"/v1/districts/{YANZHOU}/categories")).json()
    assert [c["code"] for c in listed] == ["0101", "0202", "0501", "0502", "0701", "0801"]
    assert listed[2] == {
        "code": "0501",
        "name": "私拉电线/飞线充电",
        "group_code": "05",
        "group_name": "消防与用电安全",
        "priority": "urgent",
        "claim_limit": "30 分钟",
        "handle_limit": "4 工作时",
        "needs_review": False,
        "active": True,
        "photo_required": False,
    }
    assert_problem(await client.get("/v1/districts/370813/categories"), 404, "370813")


@KINDS
async def test_an_admin_of_another_district_may_not_load(
    client: httpx.AsyncClient, app: FastAPI, kind: str
) -> None:
    response = await put(
        client, f"/v1/districts/{YANZHOU}/{kind}", document(kind), admin(app, RENCHENG)
    )
    assert_problem(response, 403, f"does not cover district {YANZHOU}")


@KINDS
async def test_an_admin_whose_token_also_covers_the_district_may(
    client: httpx.AsyncClient, app: FastAPI, kind: str
) -> None:
    headers = admin(app, RENCHENG, districts=[YANZHOU])
    response = await put(client, f"/v1/districts/{YANZHOU}/{kind}", document(kind), headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("role", ["rider", "grid_worker", "department", "supervisor", "service"])
@KINDS
async def test_only_admins_load_reference_data(
    client: httpx.AsyncClient, app: FastAPI, role: str, kind: str
) -> None:
    headers = bearer(app, role=role, subject="x")
    response = await put(client, f"/v1/districts/{YANZHOU}/{kind}", document(kind), headers)
    assert_problem(response, 403, "allowed roles: admin")


async def test_a_bad_catalogue_is_refused_whole_with_every_problem_named(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await load_over_http(client, app, YANZHOU, kinds=[CATEGORIES])
    broken = categories_document(YANZHOU)
    broken["categories"][1]["handle_limit"] = {"amount": -1, "unit": "working_hours"}
    broken["categories"].append({**category("0599", "x"), "group_code": "06"})

    response = await put(client, f"/v1/districts/{YANZHOU}/categories", broken, admin(app))

    body = assert_problem(response, 422, "categories[1] (0101)")
    assert body["title"] == "Invalid category catalogue"
    assert body["problems"] == [
        "categories[1] (0101): a time limit must be positive, got -1.0 working_hours",
        "categories[6] (0599): code 0599 is not in group 06",
    ]
    listed = (await client.get(f"/v1/districts/{YANZHOU}/categories")).json()
    assert len(listed) == 6
    assert await rows(app, "SELECT revision FROM reference_documents") == [(1,)]


async def test_a_roster_naming_grids_the_district_does_not_have_is_refused(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await load_over_http(client, app, YANZHOU, kinds=[])
    roster = roster_document(YANZHOU)
    roster["grid_workers"].append(worker("w-r", "r-1"))
    response = await put(client, f"/v1/districts/{YANZHOU}/roster", roster, admin(app))
    body = assert_problem(response, 422, "unknown grid r-1")
    assert body["problems"] == ["grid_workers[4] (w-r): unknown grid r-1"]


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (CALENDAR, {"periods": 5}),
        (CALENDAR, {"periods": [["08:30", "12:00", "x"]]}),
        (ROSTER, {"supervisors": "s-1"}),
        (CATEGORIES, {"categories": [{"code": 501}]}),
    ],
)
async def test_documents_of_the_wrong_shape_are_422(
    client: httpx.AsyncClient, app: FastAPI, kind: str, body: dict[str, Any]
) -> None:
    response = await put(client, f"/v1/districts/{YANZHOU}/{kind}", body, admin(app))
    assert assert_problem(response, 422)["problems"]


async def test_a_new_catalogue_is_published_on_the_outbox(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await load_over_http(client, app, YANZHOU, kinds=[CATEGORIES, ROSTER])
    await put(client, f"/v1/districts/{YANZHOU}/categories", document(CATEGORIES), admin(app))

    events = await outbox(app)
    assert [(short(e.type), e.subject, e.sequence) for e in events] == [
        ("catalogue_published", YANZHOU, 1),
        ("catalogue_published", YANZHOU, 2),
    ]
    topics = await rows(app, "SELECT DISTINCT topic FROM outbox")
    assert topics == [(Topic.DISTRICTS.value,)]
    data = events[1].data
    assert (data["district"], data["district_name"], data["revision"]) == (YANZHOU, "兖州区", 2)
    assert {c["code"]: c["active"] for c in data["categories"]}["0801"] is False


async def test_a_replica_picks_up_what_another_loaded(
    client: httpx.AsyncClient, app: FastAPI, build_app: Callable[[], FastAPI]
) -> None:
    replica = build_app()
    async with serving(replica) as replica_client:
        await load_over_http(client, app, YANZHOU)
        await load_over_http(client, app, RENCHENG)
        assert (await replica_client.get("/v1/districts")).json() == []

        unit_of_work = replica.state.runtime.unit_of_work_factory(SqlDispatchUnitOfWork)
        assert await replica.state.districts.refresh(unit_of_work())

        assert (await replica_client.get("/v1/districts")).json() == (
            await client.get("/v1/districts")
        ).json()
        assert not await replica.state.districts.refresh(unit_of_work())


# --- grids, by either route ------------------------------------------------------------------


async def grid_ids(app: FastAPI, district: str) -> list[str]:
    found = await rows(
        app, "SELECT grid_id FROM grids WHERE district_code = :d ORDER BY position", d=district
    )
    return [grid_id for (grid_id,) in found]


@pytest.mark.parametrize("route", ["/v1/grids", f"/v1/districts/{YANZHOU}/grids"])
async def test_loading_grids_again_replaces_only_that_districts(
    client: httpx.AsyncClient, app: FastAPI, route: str
) -> None:
    await load_over_http(client, app, RENCHENG, kinds=[])
    assert (await put(client, route, district_grids(YANZHOU), admin(app))).status_code == 200
    smaller = {"type": "FeatureCollection", "features": [grid_square("g-only", 116.9, 35.6)]}
    response = await put(client, route, smaller, admin(app))
    assert response.json() == {"district_code": YANZHOU, "grids": 1, "streets": 1, "communities": 1}
    assert await grid_ids(app, YANZHOU) == ["g-only"]
    assert await grid_ids(app, RENCHENG) == ["r-1"]


async def test_grids_put_for_a_district_must_be_of_that_district(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    headers = admin(app, YANZHOU, districts=[RENCHENG])
    response = await put(
        client, f"/v1/districts/{RENCHENG}/grids", district_grids(YANZHOU), headers
    )
    assert_problem(response, 422, "belong to district 370812, not to district 370811")
    assert await grid_ids(app, YANZHOU) == []


async def test_grids_of_a_district_the_admin_does_not_cover_are_403(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await put(client, "/v1/grids", district_grids(RENCHENG), admin(app, YANZHOU))
    assert_problem(response, 403, "does not cover district 370811")


@pytest.mark.parametrize("route", ["/v1/grids", f"/v1/districts/{YANZHOU}/grids"])
async def test_a_self_intersecting_polygon_is_422_naming_the_feature(
    client: httpx.AsyncClient, app: FastAPI, route: str
) -> None:
    await load_over_http(client, app, YANZHOU, kinds=[])
    broken = district_grids(YANZHOU)
    bowtie = [[116.81, 35.50], [116.82, 35.51], [116.82, 35.50], [116.81, 35.51], [116.81, 35.50]]
    broken["features"][1]["geometry"] = {"type": "Polygon", "coordinates": [bowtie]}

    response = await put(client, route, broken, admin(app))

    body = assert_problem(response, 422, "feature #1", "g-east", "Self-intersection")
    assert body["title"] == "Invalid grid file"
    assert await grid_ids(app, YANZHOU) == ["g-west", "g-east", "g-south"]


@pytest.mark.parametrize("route", ["/v1/grids", f"/v1/districts/{YANZHOU}/grids"])
@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"type": "FeatureCollection", "features": []}, "no features"),
        ({"type": "Feature"}, "FeatureCollection"),
        ({}, "FeatureCollection"),
    ],
)
async def test_documents_that_are_not_grid_collections_are_422(
    client: httpx.AsyncClient, app: FastAPI, route: str, body: dict[str, Any], needle: str
) -> None:
    assert_problem(await put(client, route, body, admin(app)), 422, needle)


@pytest.mark.parametrize("route", ["/v1/grids", f"/v1/districts/{YANZHOU}/grids"])
async def test_a_body_that_is_not_json_is_400_and_not_an_object_422(
    client: httpx.AsyncClient, app: FastAPI, route: str
) -> None:
    headers = {**admin(app), "Content-Type": "application/json"}
    malformed = b'{"type": "FeatureCollection", "features": ['
    assert_problem(
        await client.put(route, content=malformed, headers=headers), 400, "not valid JSON"
    )
    assert_problem(await client.put(route, content=b"[1, 2]", headers=headers), 422)


# --- the demo district ------------------------------------------------------------------------


def demo(name: str) -> Any:
    return bootstrap.read_json(bootstrap.demo_districts() / YANZHOU / name)


async def test_the_demo_district_loads_and_files_reports_in_its_grids(
    client: httpx.AsyncClient, app: FastAPI, deliver: Deliver
) -> None:
    """The shipped demo data hang together: every grid's on-duty worker is in the roster."""
    grids = demo(bootstrap.GRIDS_FILE)
    response = await put(client, f"/v1/districts/{YANZHOU}/grids", grids, admin(app))
    assert response.json()["grids"] == len(grids["features"])
    for kind in (CATEGORIES, ROSTER, CALENDAR):
        response = await put(
            client, f"/v1/districts/{YANZHOU}/{kind}", demo(f"{kind}.json"), admin(app)
        )
        assert response.status_code == 200, response.text

    feature = grids["features"][100]
    point = shape(feature["geometry"]).representative_point()
    await deliver(report_event(at=(point.y, point.x), category="0101"))

    (filed, dispatched) = await outbox_of_work_orders(app)
    assert filed.data["grid_id"] == feature["properties"]["grid_id"]
    on_duty = {
        w["id"]
        for w in demo("roster.json")["grid_workers"]
        if feature["properties"]["grid_id"] in w["grid_ids"] and w["on_duty"]
    }
    assert dispatched.data["assignee_id"] in on_duty


async def outbox_of_work_orders(app: FastAPI) -> list[Any]:
    return [e for e in await outbox(app) if e.type.startswith("gridloop.workorder.")]


async def test_a_demo_file_with_one_broken_feature_is_refused_whole(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    document = demo(bootstrap.GRIDS_FILE)
    broken = document["features"][200]
    del broken["properties"]["street"]
    response = await put(client, "/v1/grids", document, admin(app))
    assert_problem(response, 422, "feature #200", broken["properties"]["grid_id"], "street")
    assert await grid_ids(app, YANZHOU) == []
