"""The service's HTTP app: health, readiness, metrics, problem errors (documented in its
OpenAPI) and a request body limit, with the messaging runtime started and stopped in its
lifespan. Each service's ``bootstrap.py`` composes it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from common.auth import DEVELOPMENT_SECRET
from common.db import upgrade_database_async, wait_until_reachable
from common.logging import configure_logging
from common.problems import install_problem_handlers
from common.service.body_limit import BodyLimits, RequestBodyLimit, route_body_limits
from common.service.observability import ObservabilityMiddleware
from common.service.openapi import document_problems
from common.service.runtime import ServiceRuntime
from common.service.settings import ServiceSettings

_log = structlog.get_logger("gridloop.service")


def create_service_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    on_started: Iterable[Callable[[], Awaitable[None]]] = (),
    background: Iterable[Callable[[], Coroutine[Any, Any, None]]] = (),
) -> FastAPI:
    """The service's HTTP app; its lifespan migrates, runs ``on_started`` hooks, starts the
    broker, the outbox relay and the ``background`` loops, and stops them in reverse."""
    settings = runtime.settings

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(runtime.name, settings.log_level, json=settings.log_json)
        if settings.jwt_secret == DEVELOPMENT_SECRET:
            _log.warning(
                "auth.development_secret_in_use", hint="set GRIDLOOP_JWT_SECRET outside development"
            )
        await wait_until_reachable(
            runtime.engine,
            lambda error, delay: _log.warning(
                "database.waiting", error=type(error).__name__, retry_in_seconds=delay
            ),
        )
        if settings.migrate_on_start:
            await upgrade_database_async(settings.database_url, runtime.migrations_dir)
            _log.info("database.migrated")
        for hook in on_started:
            await hook()
        await runtime.broker.start()
        tasks = [asyncio.create_task(runtime.relay.run(), name=f"{runtime.name}-outbox-relay")]
        tasks += [asyncio.create_task(loop(), name=loop.__name__) for loop in background]
        _log.info("service.started", port=settings.port)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await runtime.broker.stop()
            await runtime.log_ends.close()
            await runtime.engine.dispose()
            _log.info("service.stopped")

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.jwt_secret = settings.jwt_secret
    app.state.runtime = runtime
    install_problem_handlers(app)
    body_limits = BodyLimits(settings.max_body_bytes, route_body_limits(routers))
    # Added first, so it runs inside the observability middleware, which logs and counts its
    # 413s like any other answer.
    app.add_middleware(RequestBodyLimit, limits=body_limits)
    app.add_middleware(ObservabilityMiddleware, metrics=runtime.metrics.http)
    document_problems(app, body_limits.for_operation)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        health = {"status": "ok", "service": runtime.name}
        if settings.instance_id:
            health["instance"] = settings.instance_id
        return health

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    return app


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run one service process (``python -m <service>``)."""
    serve_app(app, host=settings.host, port=settings.port)


def serve_app(app: FastAPI, *, host: str, port: int) -> None:
    """Serve ``app`` with the settings every gridloop process uses."""
    import uvicorn

    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        # Longer than the idle timeout of the proxies and clients in front (ingress-nginx keeps
        # upstream connections 60 s): uvicorn's default of 5 s closes connections they are
        # about to reuse, and their next request fails with a reset.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=10,
    )
