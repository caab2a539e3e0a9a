"""Composition root of the dispatch service."""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from pathlib import Path

import structlog
from fastapi import FastAPI
from prometheus_client import Counter

from common.contracts.topics import Topic
from common.service.http_app import create_service_app
from common.service.runtime import ServiceRuntime
from dispatch.adapters.tables import MESSAGING
from dispatch.adapters.unit_of_work import SqlDispatchUnitOfWork
from dispatch.config import DispatchSettings
from dispatch.domain.triage import RejectionCode
from dispatch.entrypoints.consumers import triage_consumer
from dispatch.entrypoints.http import build_router
from dispatch.service_layer import handlers
from dispatch.service_layer.handlers import GridRegistry

SERVICE = "dispatch"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEMO_GRIDS = "370812-yanzhou-synthetic.geojson"

_log = structlog.get_logger("gridloop.dispatch")


def read_grids_file(value: str) -> dict[str, object]:
    if value == "demo":
        text = (resources.files("dispatch.demo_data") / DEMO_GRIDS).read_text(encoding="utf-8")
    else:
        text = Path(value).read_text(encoding="utf-8")
    document: dict[str, object] = json.loads(text)
    return document


def create_app(settings: DispatchSettings | None = None) -> FastAPI:
    settings = settings or DispatchSettings()
    runtime = ServiceRuntime(SERVICE, settings, MIGRATIONS, MESSAGING)
    registry = GridRegistry(settings.district)

    unit_of_work = runtime.unit_of_work_factory(SqlDispatchUnitOfWork)

    triaged = Counter(
        "gridloop_reports_triaged_total",
        "Reports triaged, by outcome and rejection reason",
        ["service", "outcome", "reason"],
        registry=runtime.metrics.registry,
    )
    triaged.labels(SERVICE, "filed", "")
    for reason in RejectionCode:
        triaged.labels(SERVICE, "rejected", reason.value)

    def count_triage(outcome: str, reason: str) -> None:
        triaged.labels(SERVICE, outcome, reason).inc()

    async def load_registry() -> None:
        await registry.refresh(unit_of_work())
        if not registry.loaded and settings.grids_file:
            await handlers.load_grids(
                read_grids_file(settings.grids_file), unit_of_work(), registry
            )
        if registry.loaded:
            _log.info("grids.ready", grids=len(registry.current()))
        else:
            _log.warning("grids.empty", hint="PUT /v1/grids or set DISPATCH_GRIDS_FILE")

    async def follow_grid_changes() -> None:
        while True:
            await asyncio.sleep(settings.grids_refresh_seconds)
            try:
                await registry.refresh(unit_of_work())
            except Exception:
                _log.exception("grids.refresh_failed")

    runtime.readiness_checks["grids"] = lambda: (
        "ok" if registry.loaded else "no grids loaded (PUT /v1/grids or DISPATCH_GRIDS_FILE)"
    )
    runtime.add_consumer(
        triage_consumer(
            unit_of_work, registry, runtime.publish, runtime.metrics.consumers, count_triage
        ),
        Topic.REPORTS,
    )
    return create_service_app(
        runtime,
        title="gridloop dispatch",
        description="Places reports in grids, files work orders and runs the workflow.",
        routers=[
            build_router(unit_of_work, registry, grids_max_body_bytes=settings.grids_max_body_bytes)
        ],
        on_started=[load_registry],
        background=[follow_grid_changes],
    )
