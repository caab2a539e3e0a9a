"""The dispatch HTTP API through FastAPI against a real SQLite database (no broker)."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from shapely.geometry import shape

from dispatch.bootstrap import read_grids_file
from gridloop_tools.testing.builders import as_event, report_submitted
from gridloop_tools.testing.grids import grid_square, two_grids
from gridloop_tools.testing.service_fixtures import Auth, Deliver, assert_problem


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    return read_grids_file("demo")


async def put_grids(
    client: httpx.AsyncClient, auth: Auth, document: dict[str, Any]
) -> httpx.Response:
    return await client.put("/v1/grids", json=document, headers=auth(role="admin", subject="a"))


async def grid_rows(app: FastAPI) -> list[str]:
    async with app.state.runtime.engine.connect() as connection:
        result = await connection.execute(sa.text("SELECT grid_id FROM grids ORDER BY position"))
        return [row[0] for row in result]


async def file_work_order(
    app: FastAPI, deliver: Deliver, *, lat: float = 35.505, lon: float = 116.815
) -> str:
    """Feed a report inside g-east to the consumer; the filed work order's id."""
    data = report_submitted(
        report_id="rep-1", category="0602", lat=lat, lon=lon, text="路面塌陷，有安全隐患"
    )
    await deliver(as_event(data))
    async with app.state.runtime.engine.connect() as connection:
        result = await connection.execute(sa.text("SELECT id FROM work_orders"))
        ids = [row[0] for row in result]
    assert len(ids) == 1
    work_order_id: str = ids[0]
    return work_order_id


# --- metrics ----------------------------------------------------------------------------------


async def test_triage_outcomes_are_exported_from_the_start(client: httpx.AsyncClient) -> None:
    text = (await client.get("/metrics")).text
    assert (
        'gridloop_reports_triaged_total{outcome="rejected",reason="outside_service_area",'
        'service="dispatch"} 0.0'
    ) in text


# --- loading grids ----------------------------------------------------------------------------


async def test_the_demo_district_loads(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI, demo: dict[str, Any]
) -> None:
    response = await put_grids(client, auth, demo)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "district_code": "370812",
        "grids": 317,
        "streets": 10,
        "communities": 77,
    }
    stored = await grid_rows(app)
    assert len(stored) == 317
    assert stored[0] == demo["features"][0]["properties"]["grid_id"]


async def test_the_demo_district_files_work_orders_in_its_grids(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI, deliver: Deliver, demo: dict[str, Any]
) -> None:
    assert (await put_grids(client, auth, demo)).status_code == 200
    target = demo["features"][100]["properties"]
    centre = shape(demo["features"][100]["geometry"]).representative_point()
    work_order_id = await file_work_order(app, deliver, lat=centre.y, lon=centre.x)

    response = await client.get(
        f"/v1/workorders/{work_order_id}",
        headers=auth(role="grid_worker", subject="w", grids=(target["grid_id"],)),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["grid_id"], body["grid_name"]) == (target["grid_id"], target["name"])
    assert (body["community"], body["street"]) == (target["community"], target["street"])


async def test_loading_the_same_grids_twice_is_fine(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    assert (await put_grids(client, auth, two_grids())).status_code == 200
    response = await put_grids(client, auth, two_grids())
    assert response.status_code == 200, response.text
    assert await grid_rows(app) == ["g-west", "g-east"]


async def test_loading_again_replaces_the_registry(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    assert (await put_grids(client, auth, two_grids())).status_code == 200
    smaller = {"type": "FeatureCollection", "features": [grid_square("g-only", 116.9, 35.6)]}
    response = await put_grids(client, auth, smaller)
    assert response.json()["grids"] == 1
    assert await grid_rows(app) == ["g-only"]


async def test_a_self_intersecting_polygon_is_422_naming_the_feature(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    assert (await put_grids(client, auth, two_grids())).status_code == 200
    document = two_grids()
    bowtie = [[116.81, 35.50], [116.82, 35.51], [116.82, 35.50], [116.81, 35.51], [116.81, 35.50]]
    document["features"][1]["geometry"] = {"type": "Polygon", "coordinates": [bowtie]}

    response = await put_grids(client, auth, document)

    body = assert_problem(response, 422, "feature #1", "g-east", "Self-intersection")
    assert body["title"] == "Invalid grid file"
    assert await grid_rows(app) == ["g-west", "g-east"]  # the old registry stays


async def test_a_demo_file_with_one_broken_feature_is_refused(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI, demo: dict[str, Any]
) -> None:
    document = copy.deepcopy(demo)
    broken = document["features"][200]
    del broken["properties"]["street"]
    response = await put_grids(client, auth, document)
    assert_problem(response, 422, "feature #200", broken["properties"]["grid_id"], "street")
    assert await grid_rows(app) == []


async def test_grids_of_another_district_are_422(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await put_grids(client, auth, two_grids(district="370811"))
    assert_problem(response, 422, "370811", "370812")


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ({"type": "FeatureCollection", "features": []}, "no features"),
        ({"type": "Feature"}, "FeatureCollection"),
    ],
)
async def test_documents_that_are_not_grid_collections_are_422(
    client: httpx.AsyncClient, auth: Auth, document: dict[str, Any], needle: str
) -> None:
    assert_problem(await put_grids(client, auth, document), 422, needle)


async def test_a_body_that_is_not_an_object_is_422(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.put("/v1/grids", json=[1, 2], headers=auth(role="admin"))
    assert_problem(response, 422)


async def test_malformed_json_is_400(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.put(
        "/v1/grids",
        content=b'{"type": "FeatureCollection", "features": [',
        headers={**auth(role="admin"), "content-type": "application/json"},
    )
    assert_problem(response, 400, "not valid JSON")


@pytest.mark.parametrize("role", ["supervisor", "grid_worker", "rider", "service"])
async def test_only_admins_load_grids(client: httpx.AsyncClient, auth: Auth, role: str) -> None:
    response = await client.put("/v1/grids", json=two_grids(), headers=auth(role=role))
    assert_problem(response, 403, f"role '{role}'", "admin")


async def test_an_admin_of_another_district_may_not_load_grids(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    response = await client.put(
        "/v1/grids", json=two_grids(), headers=auth(role="admin", district="370811")
    )
    assert_problem(response, 403, "370811")
    assert await grid_rows(app) == []


# --- reading work orders ----------------------------------------------------------------------


async def test_a_supervisor_sees_the_work_order_and_its_history(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI, deliver: Deliver
) -> None:
    assert (await put_grids(client, auth, two_grids())).status_code == 200
    work_order_id = await file_work_order(app, deliver)

    response = await client.get(
        f"/v1/workorders/{work_order_id}", headers=auth(role="supervisor", subject="s")
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == work_order_id
    assert work_order_id.startswith("wo-")
    assert body["report_id"] == "rep-1"
    assert body["reporter_id"] == "rider-1"
    assert body["district"] == "370812"
    assert (body["category"], body["category_name"]) == ("0602", "道路破损/塌陷")
    assert body["priority"] == "urgent"
    assert (body["grid_id"], body["grid_name"]) == ("g-east", "g-east 网格")
    assert (body["community"], body["street"]) == ("g-east 社区", "鼓楼街道")
    assert body["status"] == "filed"
    assert body["version"] == 1
    assert body["text"] == "路面塌陷，有安全隐患"
    assert [(h["from_status"], h["to_status"], h["actor"]) for h in body["history"]] == [
        (None, "filed", "system")
    ]


async def test_a_grid_worker_sees_work_orders_of_their_grids_only(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI, deliver: Deliver
) -> None:
    assert (await put_grids(client, auth, two_grids())).status_code == 200
    work_order_id = await file_work_order(app, deliver)
    path = f"/v1/workorders/{work_order_id}"

    mine = await client.get(path, headers=auth(role="grid_worker", grids=("g-west", "g-east")))
    assert mine.status_code == 200
    assert mine.json()["grid_id"] == "g-east"

    theirs = await client.get(path, headers=auth(role="grid_worker", grids=("g-west",)))
    assert_problem(theirs, 404, work_order_id)
    nowhere = await client.get(path, headers=auth(role="grid_worker"))
    assert_problem(nowhere, 404)


@pytest.mark.parametrize(
    ("role", "district"), [("rider", "370812"), ("supervisor", "370811"), ("admin", "370811")]
)
async def test_others_do_not_see_the_work_order(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI, deliver: Deliver, role: str, district: str
) -> None:
    assert (await put_grids(client, auth, two_grids())).status_code == 200
    work_order_id = await file_work_order(app, deliver)
    response = await client.get(
        f"/v1/workorders/{work_order_id}", headers=auth(role=role, district=district)
    )
    # Another district's staff are refused at the door; a rider simply finds nothing.
    assert_problem(response, 404 if district == "370812" else 403)


async def test_an_unknown_work_order_is_404(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.get("/v1/workorders/wo-nope", headers=auth(role="supervisor"))
    assert_problem(response, 404, "wo-nope")


async def test_reading_a_work_order_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/workorders/wo-nope"), 401)
