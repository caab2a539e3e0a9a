"""The gateway's composition root."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from common.logging import configure_logging
from common.metrics import HttpMetrics
from common.problems import install_problem_handlers
from common.service.observability import ObservabilityMiddleware
from common.tokens import DEVELOPMENT_SECRET
from gateway.adapters.people import read_people
from gateway.adapters.upstream import UpstreamMetrics, Upstreams
from gateway.config import GatewaySettings
from gateway.entrypoints.http_api import FrontEndConfig, MapConfig, api_router
from gateway.entrypoints.http_dev import dev_router
from gateway.entrypoints.web import web_app

SERVICE = "gateway"
_log = structlog.get_logger("gridloop.gateway")


def create_app(settings: GatewaySettings) -> FastAPI:
    registry = CollectorRegistry()
    upstreams = Upstreams(
        settings.upstream_urls(),
        timeout=settings.upstream_timeout_seconds,
        metrics=UpstreamMetrics(registry),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(SERVICE, settings.log_level, json=settings.log_json)
        if settings.dev_sign_in:
            _log.warning(
                "gateway.development_sign_in",
                hint="anyone can sign in as anyone: development only",
            )
        _log.info(
            "gateway.started",
            port=settings.port,
            web=str(settings.web_dir) if settings.web_dir else None,
            upstreams=settings.upstream_urls(),
        )
        try:
            yield
        finally:
            await upstreams.close()

    app = FastAPI(
        title="gridloop gateway",
        description="The web front end and /api/<service>/… to the four services.",
        version="1.0.0",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.add_middleware(ObservabilityMiddleware, metrics=HttpMetrics(SERVICE, registry))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        health = {"status": "ok", "service": SERVICE}
        if settings.instance_id:
            health["instance"] = settings.instance_id
        return health

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        # Ready whatever the services' state: a service that is down answers 502 on its own
        # paths, and the front end keeps being served.
        return {"status": "ready"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    if settings.dev_sign_in_file is not None:
        if settings.jwt_secret == DEVELOPMENT_SECRET:
            _log.info("gateway.development_secret_in_use")
        app.include_router(dev_router(read_people(settings.dev_sign_in_file), settings.jwt_secret))
    front_end = FrontEndConfig(
        environment=settings.environment.value,
        dev_sign_in=settings.dev_sign_in,
        sign_in_url=settings.sign_in_url,
        map=MapConfig(tile_url=settings.map_tile_url, attribution=settings.map_attribution),
    )
    app.include_router(api_router(front_end, upstreams))
    if settings.web_dir is not None:
        app.mount("/", web_app(settings.web_dir), name="web")
    return app
