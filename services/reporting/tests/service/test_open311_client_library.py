"""An existing GeoReport v2 client library, used unmodified, lists the services, creates a
request and reads it back from the real app served over HTTP (uvicorn on a free port; the
library speaks real HTTP through the standard library).

The library is ``civicbot`` (PyPI, MIT): its ``Open311Client`` follows GeoReport v2
(services.json, services/{code}.json, requests.json form POST with api_key, requests/{id}.json).
Filing a request needs ``dry_run=False`` and ``confirm="SEND"``, its own guard against filing by
accident. Its transport waits 0.5 s between calls to one host by default; the test passes the
library's own rate limiter with no interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn
from civicbot import Open311Client
from civicbot.http import HttpError, HttpTransport, RateLimiter
from civicbot.open311 import CONFIRM_TOKEN
from civicbot.registry import Endpoint
from fastapi import FastAPI

from gridloop_tools.embedded_broker import free_port
from gridloop_tools.testing.service_fixtures import Auth

YANZHOU = "370812"


@contextlib.asynccontextmanager
async def served_over_http(app: FastAPI) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free loopback port, in this event loop (the app's
    lifespan is off, as in the other service tests: no broker, no relay); its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


def library_client(base_url: str) -> Open311Client:
    endpoint = Endpoint(
        id="gridloop-370812",
        name="兖州区 gridloop",
        base_url=f"{base_url}/open311/v2",
        write=True,
    )
    transport = HttpTransport(rate_limiter=RateLimiter(min_interval=0))
    return Open311Client(endpoint, transport, jurisdiction_id=YANZHOU)


async def test_a_georeport_client_library_lists_creates_and_reads_back(
    app: FastAPI, client: httpx.AsyncClient, auth: Auth
) -> None:
    issued = await client.post(
        "/v1/admin/open311/keys",
        json={"partner": "12345热线平台", "district": YANZHOU},
        headers=auth(role="admin", subject="admin-1"),
    )
    assert issued.status_code == 201, issued.text
    api_key: str = issued.json()["api_key"]

    async with served_over_http(app) as base_url:
        library = library_client(base_url)

        services: list[dict[str, Any]] = await asyncio.to_thread(library.list_services)
        codes = {service["service_code"] for service in services}
        assert {"0101", "0501"} <= codes
        definition = await asyncio.to_thread(library.get_service_definition, "0501")
        assert definition == {"service_code": "0501", "attributes": []}

        sent = await asyncio.to_thread(
            lambda: library.create_request(
                "0501",
                dry_run=False,
                confirm=CONFIRM_TOKEN,
                api_key=api_key,
                validate_remote=True,
                lat=35.5531,
                lng=116.8287,
                address_string="兖州区建设东路88号2单元",
                description="楼道里有人飞线给电动车充电",
                media_url="https://hotline.example/media/42.jpg",
                phone="13800000000",
            )
        )
        (created,) = sent.response
        request_id = created["service_request_id"]
        assert created["account_id"] is None

        found = await asyncio.to_thread(library.get_request, request_id)
        assert found is not None
        assert found["service_request_id"] == request_id
        assert found["status"] == "open"
        assert found["service_code"] == "0501"
        assert found["description"] == "楼道里有人飞线给电动车充电"
        assert found["address"] == "兖州区建设东路88号2单元"
        assert found["media_url"] == "https://hotline.example/media/42.jpg"
        assert "13800000000" not in str(found)

        listed = await asyncio.to_thread(
            lambda: library.list_requests(service_request_ids=[request_id], status="open")
        )
        assert [item["service_request_id"] for item in listed] == [request_id]

        refused: HttpError | None = None
        try:
            await asyncio.to_thread(
                lambda: library.create_request(
                    "0501",
                    dry_run=False,
                    confirm=CONFIRM_TOKEN,
                    api_key="not-a-key",
                    lat=35.5531,
                    lng=116.8287,
                )
            )
        except HttpError as error:
            refused = error
        assert refused is not None and refused.status == 403
        assert '"code":403' in refused.body
