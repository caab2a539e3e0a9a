"""Request bodies over the limit are refused with 413 before they are read (reporting keeps
the default limit on every route)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from common.service.body_limit import DEFAULT_MAX_BODY_BYTES
from gridloop_tools.testing.service_fixtures import Auth, CountingBody, assert_problem, serving

MIB = 1024 * 1024
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("size", [5 * MIB, 50 * MIB])
async def test_a_declared_length_over_the_limit_is_413_before_any_of_it_is_read(
    client: httpx.AsyncClient, auth: Auth, size: int
) -> None:
    body = CountingBody(size)
    headers = {**auth(), **JSON, "Content-Length": str(body.total_bytes)}
    response = await client.post("/v1/reports", content=body, headers=headers)
    assert_problem(response, 413, f"larger than {DEFAULT_MAX_BODY_BYTES} bytes")
    assert body.read == 0


@pytest.mark.parametrize("size", [5 * MIB, 50 * MIB])
async def test_a_chunked_body_over_the_limit_is_413_without_reading_the_rest(
    client: httpx.AsyncClient, auth: Auth, size: int
) -> None:
    body = CountingBody(size)
    response = await client.post("/v1/reports", content=body, headers={**auth(), **JSON})
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, f"larger than {DEFAULT_MAX_BODY_BYTES} bytes")
    assert body.read == DEFAULT_MAX_BODY_BYTES // body.chunk + 1


async def test_without_a_token_a_large_body_is_still_refused_unread(
    client: httpx.AsyncClient,
) -> None:
    body = CountingBody(5 * MIB)
    headers = {**JSON, "Content-Length": str(body.total_bytes)}
    assert_problem(await client.post("/v1/reports", content=body, headers=headers), 413)
    assert body.read == 0


async def test_the_limit_is_a_setting(
    monkeypatch: pytest.MonkeyPatch, build_app: Callable[[], FastAPI], auth: Auth
) -> None:
    monkeypatch.setenv("REPORTING_MAX_BODY_BYTES", "100")
    report = {"category": "0101", "lat": 35.5531, "lon": 116.8287, "text": "楼道堆放杂物" * 5}
    async with serving(build_app()) as client:
        response = await client.post("/v1/reports", json=report, headers=auth())
        assert_problem(response, 413, "larger than 100 bytes")
        document = (await client.get("/openapi.json")).json()
    too_large = document["paths"]["/v1/reports"]["post"]["responses"]["413"]
    assert too_large["description"] == "The body is larger than 100 bytes."
