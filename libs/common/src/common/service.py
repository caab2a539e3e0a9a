"""What every service process has in common: settings, the HTTP app with health, readiness,
metrics and problem errors, and the messaging runtime (broker, relay, consumers) started and
stopped with the app. Each service's ``bootstrap.py`` composes these with its own parts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from common.auth import DEVELOPMENT_SECRET, validate_secret
from common.contracts.topics import Topic
from common.db import create_engine, ping, session_factory, upgrade_database_async
from common.logging import CORRELATION_HEADER, configure_logging, new_correlation_id
from common.messaging.consumer import EventConsumer
from common.messaging.kafka import (
    KafkaCredentials,
    create_broker,
    enqueuer_for,
    publisher_for,
    subscribe,
)
from common.messaging.relay import OutboxRelay
from common.messaging.unit_of_work import SqlUnitOfWork
from common.metrics import MessagingMetrics
from common.problems import install_problem_handlers

_log = structlog.get_logger("gridloop.service")

SqlUnitOfWorkT = TypeVar("SqlUnitOfWorkT", bound=SqlUnitOfWork)


class ServiceSettings(BaseSettings):
    """Settings every service reads. Subclasses set ``env_prefix`` (``REPORTING_`` …);
    the Kafka address, JWT secret and district are shared and read without a prefix."""

    database_url: str = "sqlite+aiosqlite:///./data/service.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    log_json: bool | None = None
    migrate_on_start: bool = True
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    jwt_secret: str = Field(
        default=DEVELOPMENT_SECRET, validation_alias=AliasChoices("GRIDLOOP_JWT_SECRET")
    )
    district: str = Field(
        default="370812", pattern=r"^\d{6}$", validation_alias=AliasChoices("GRIDLOOP_DISTRICT")
    )
    relay_idle_interval_seconds: float = Field(default=0.5, gt=0)
    kafka_security_protocol: str = Field(
        default="PLAINTEXT",
        pattern=r"^(PLAINTEXT|SASL_PLAINTEXT|SASL_SSL)$",
        validation_alias=AliasChoices("KAFKA_SECURITY_PROTOCOL"),
    )
    kafka_sasl_mechanism: str = Field(
        default="SCRAM-SHA-512", validation_alias=AliasChoices("KAFKA_SASL_MECHANISM")
    )
    kafka_sasl_username: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SASL_USERNAME")
    )
    kafka_sasl_password: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SASL_PASSWORD")
    )

    def kafka_credentials(self) -> KafkaCredentials | None:
        if self.kafka_security_protocol == "PLAINTEXT":
            return None
        if not self.kafka_sasl_username or not self.kafka_sasl_password:
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        return KafkaCredentials(
            mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password=self.kafka_sasl_password,
            use_ssl=self.kafka_security_protocol == "SASL_SSL",
        )

    @field_validator("jwt_secret")
    @classmethod
    def _secret_long_enough(cls, value: str) -> str:
        return validate_secret(value)


@dataclass
class ConsumerBinding:
    consumer: EventConsumer[Any]
    topics: tuple[Topic, ...]


@dataclass
class ServiceRuntime:
    """The wired parts of one service process."""

    name: str
    settings: ServiceSettings
    migrations_dir: Path
    outbox_table: sa.Table
    inbox_table: sa.Table
    engine: AsyncEngine = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    metrics: MessagingMetrics = field(init=False)
    relay: OutboxRelay = field(init=False)
    consumers: list[ConsumerBinding] = field(default_factory=list)
    readiness_checks: dict[str, Callable[[], str]] = field(default_factory=dict)
    """Extra named checks for /readyz; each returns "ok" or what is wrong."""

    def __post_init__(self) -> None:
        self.engine = create_engine(self.settings.database_url)
        self.sessions = session_factory(self.engine)
        self.metrics = MessagingMetrics(self.name)
        self.broker = create_broker(
            self.settings.kafka_bootstrap_servers,
            client_id=self.name,
            credentials=self.settings.kafka_credentials(),
        )
        self.publish = publisher_for(self.broker)
        self.relay = OutboxRelay(
            self.engine,
            self.outbox_table,
            enqueuer_for(self.broker),
            service=self.name,
            metrics=self.metrics,
            idle_interval=self.settings.relay_idle_interval_seconds,
        )

    def unit_of_work_factory(self, kind: type[SqlUnitOfWorkT]) -> Callable[[], SqlUnitOfWorkT]:
        """Units of work of ``kind`` on this service's database, outbox and inbox; a commit
        that added events wakes the relay."""

        def unit_of_work() -> SqlUnitOfWorkT:
            return kind(
                self.sessions,
                outbox_table=self.outbox_table,
                inbox_table=self.inbox_table,
                source=f"/gridloop/{self.settings.district}/{self.name}",
                district=self.settings.district,
                on_events_committed=self.relay.wake,
            )

        return unit_of_work

    def add_consumer(self, consumer: EventConsumer[Any], *topics: Topic) -> None:
        self.consumers.append(ConsumerBinding(consumer, topics))
        subscribe(self.broker, consumer, topics)

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(ping(self.engine), timeout=3)
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"unreachable: {type(error).__name__}"
        try:
            reachable = await asyncio.wait_for(self.broker.ping(timeout=3), timeout=4)
            checks["broker"] = "ok" if reachable else "unreachable"
        except Exception as error:
            checks["broker"] = f"unreachable: {type(error).__name__}"
        for name, check in self.readiness_checks.items():
            checks[name] = check()
        return checks


class _ObservabilityMiddleware(BaseHTTPMiddleware):
    """Correlation id in, correlation id out; one access log line and metrics per request."""

    def __init__(self, app: Any, metrics: MessagingMetrics) -> None:
        super().__init__(app)
        self._metrics = metrics

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        correlation_id = request.headers.get(CORRELATION_HEADER) or new_correlation_id()
        correlation_id = correlation_id[:128]
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            response.headers[CORRELATION_HEADER] = correlation_id
            return response
        finally:
            elapsed = time.perf_counter() - started
            route = request.scope.get("route")
            template = getattr(route, "path", "unmatched")
            service = self._metrics.service
            self._metrics.http_requests.labels(service, request.method, template, str(status)).inc()
            self._metrics.http_duration.labels(service, request.method, template).observe(elapsed)
            if template not in {"/healthz", "/readyz", "/metrics"}:
                _log.info(
                    "http.request",
                    method=request.method,
                    route=template,
                    status=status,
                    duration_ms=round(elapsed * 1000, 1),
                )
            structlog.contextvars.unbind_contextvars("correlation_id")


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
            await runtime.engine.dispose()
            _log.info("service.stopped")

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.jwt_secret = settings.jwt_secret
    app.state.district = settings.district
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.add_middleware(_ObservabilityMiddleware, metrics=runtime.metrics)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

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
    import uvicorn

    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
