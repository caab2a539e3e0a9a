"""PUT /v1/grids (and /v1/districts/{code}/grids) take a district's GeoJSON up to their own,
larger body limit; every other route keeps the service default."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from common.service.body_limit import DEFAULT_MAX_BODY_BYTES
from dispatch import bootstrap
from dispatch.config import DispatchSettings
from gridloop_tools.testing.service_fixtures import Auth, CountingBody, assert_problem, serving

GRIDS_LIMIT = DispatchSettings().grids_max_body_bytes
JSON = {"Content-Type": "application/json"}


def demo_file() -> bytes:
    return (bootstrap.demo_districts() / "370812" / bootstrap.GRIDS_FILE).read_bytes()


def test_the_demo_district_fits_the_grid_route_with_room_to_spare() -> None:
    assert len(demo_file()) > DEFAULT_MAX_BODY_BYTES  # the default alone would refuse it
    assert len(demo_file()) * 50 < GRIDS_LIMIT


GRID_ROUTES = pytest.mark.parametrize("route", ["/v1/grids", "/v1/districts/370812/grids"])


@GRID_ROUTES
async def test_the_demo_district_loads_through_the_grid_routes(
    client: httpx.AsyncClient, auth: Auth, route: str
) -> None:
    response = await client.put(route, content=demo_file(), headers={**auth(role="admin"), **JSON})
    assert response.status_code == 200, response.text
    assert response.json()["grids"] == 317


@GRID_ROUTES
async def test_a_grid_file_declared_over_its_limit_is_413_unread(
    client: httpx.AsyncClient, auth: Auth, route: str
) -> None:
    body = CountingBody(GRIDS_LIMIT + 1)
    headers = {**auth(role="admin"), **JSON, "Content-Length": str(body.total_bytes)}
    response = await client.put(route, content=body, headers=headers)
    assert_problem(response, 413, f"larger than {GRIDS_LIMIT} bytes")
    assert body.read == 0


async def test_a_streamed_grid_file_over_its_limit_is_413_without_reading_the_rest(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    body = CountingBody(GRIDS_LIMIT * 2, chunk=64 * 1024)
    response = await client.put("/v1/grids", content=body, headers={**auth(role="admin"), **JSON})
    assert_problem(response, 413, f"larger than {GRIDS_LIMIT} bytes")
    assert body.read == GRIDS_LIMIT // body.chunk + 1


@pytest.mark.parametrize(
    ("method", "route"),
    [("GET", "/v1/workorders/wo-1"), ("PUT", "/v1/districts/370812/categories")],
)
async def test_other_routes_keep_the_default_limit(
    client: httpx.AsyncClient, auth: Auth, method: str, route: str
) -> None:
    body = CountingBody(DEFAULT_MAX_BODY_BYTES + 1)
    headers = {**auth(role="admin"), **JSON, "Content-Length": str(body.total_bytes)}
    response = await client.request(method, route, content=body, headers=headers)
    assert_problem(response, 413, f"larger than {DEFAULT_MAX_BODY_BYTES} bytes")


async def test_the_grid_limit_is_a_setting_and_documented(
    monkeypatch: pytest.MonkeyPatch, build_app: Callable[[], FastAPI], auth: Auth
) -> None:
    monkeypatch.setenv("DISPATCH_GRIDS_MAX_BODY_BYTES", "1000")
    async with serving(build_app()) as client:
        response = await client.put(
            "/v1/grids", content=demo_file(), headers={**auth(role="admin"), **JSON}
        )
        assert_problem(response, 413, "larger than 1000 bytes")
        document = (await client.get("/openapi.json")).json()
    too_large = document["paths"]["/v1/grids"]["put"]["responses"]["413"]
    assert too_large["description"] == "The body is larger than 1000 bytes."
