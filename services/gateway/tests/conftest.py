"""A real upstream service on a local port (an echo app served by uvicorn) and the gateway in
front of it, driven in-process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.bootstrap import create_app
from gateway.config import GatewaySettings
from gridloop_tools.testing.webhook_receiver import free_port


async def _echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": dict(request.headers),
            "body_length": len(body),
            "body_head": body[:64].decode("latin-1"),
        },
        status_code=201 if request.method == "POST" else 200,
        headers={"X-Upstream": "echo", "Location": "/v1/things/1"},
    )


async def _slow(request: Request) -> Response:
    await asyncio.sleep(2)
    return JSONResponse({})


async def _chunks(request: Request) -> Response:
    async def lines() -> AsyncIterator[bytes]:
        for n in range(1000):
            yield f"{n},row\n".encode()

    return StreamingResponse(lines(), media_type="text/csv")


async def _problem(request: Request) -> Response:
    return Response(
        json.dumps({"type": "about:blank", "title": "Conflict", "status": 409, "detail": "no"}),
        status_code=409,
        media_type="application/problem+json",
    )


UPSTREAM = Starlette(
    routes=[
        Route("/v1/slow", _slow),
        Route("/v1/export.csv", _chunks),
        Route("/v1/conflict", _problem, methods=["POST"]),
        Route("/{path:path}", _echo, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
)


@pytest.fixture
async def upstream_url() -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            UPSTREAM, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


GatewayClient = Callable[..., httpx.AsyncClient]


@pytest.fixture
def gateway_client(upstream_url: str) -> GatewayClient:
    """A client of a gateway built with ``GatewaySettings(**overrides)``; reporting and
    dispatch point at the echo server, ledger at a closed port."""

    def build(**overrides: object) -> httpx.AsyncClient:
        settings = GatewaySettings.model_validate(
            {
                "reporting_url": upstream_url,
                "dispatch_url": upstream_url,
                "ledger_url": f"http://127.0.0.1:{free_port()}",
                "upstream_timeout_seconds": 0.5,
                **overrides,
            }
        )
        app = create_app(settings)
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        )

    return build


@pytest.fixture
def built_web(tmp_path: Path) -> Path:
    """A front end as the build lays it out: two pages and hashed assets."""
    web = tmp_path / "dist"
    (web / "assets").mkdir(parents=True)
    (web / "console").mkdir()
    (web / "index.html").write_text("<!doctype html><title>随手拍</title>" + " " * 600)
    (web / "console" / "index.html").write_text("<!doctype html><title>网格工作台</title>")
    (web / "assets" / "rider-abc123.js").write_text("console.log('rider');\n" * 200)
    return web


@pytest.fixture
def people_file(tmp_path: Path) -> Path:
    path = tmp_path / "people.json"
    path.write_text(
        json.dumps(
            {
                "riders": [{"subject": "rider-1", "district": "370811", "label": "骑手一"}],
                "staff": [
                    {
                        "subject": "370811-w-001",
                        "role": "grid_worker",
                        "district": "370811",
                        "grids": ["370811-01-001-1"],
                        "name": "王网格",
                        "label": "王网格（网格员）",
                    }
                ],
            },
            ensure_ascii=False,
        )
    )
    return path
