"""``/api/<service>/…``: each request goes to the service as it came (the service checks the
token), and ``/api/gateway/config``: what the front end needs to know about this deployment."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import StreamingResponse

from gateway.adapters.upstream import Upstreams

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class MapConfig(BaseModel):
    tile_url: str | None
    attribution: str | None


class FrontEndConfig(BaseModel):
    environment: Literal["development", "production"]
    dev_sign_in: bool
    """Whether ``/api/dev/people`` and ``/api/dev/token`` exist (development only)."""
    sign_in_url: str | None
    """Where to send a browser without a token, in production."""
    map: MapConfig


def api_router(config: FrontEndConfig, upstreams: Upstreams) -> APIRouter:
    router = APIRouter(prefix="/api")

    @router.get(
        "/gateway/config",
        response_model=FrontEndConfig,
        summary="What the front end needs to know about this deployment",
    )
    async def front_end_config() -> FrontEndConfig:
        return config

    @router.api_route(
        "/{service}/{path:path}",
        methods=METHODS,
        summary="Forward a request to a service: /api/reporting/v1/reports → reporting's "
        "/v1/reports",
    )
    async def forward(service: str, path: str, request: Request) -> StreamingResponse:
        return await upstreams.forward(service, path, request)

    return router
