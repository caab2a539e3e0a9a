"""Composition root of the dispatch service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI
from prometheus_client import Counter

from common.contracts.topics import Topic
from common.leadership import Leadership
from common.service.http_app import create_service_app
from common.service.runtime import ServiceRuntime
from dispatch.adapters.statistics import SqlStatistics
from dispatch.adapters.tables import MESSAGING
from dispatch.adapters.transition_counting import (
    TransitionCountingUnitOfWork,
    counting_transitions,
)
from dispatch.adapters.unit_of_work import SqlDispatchUnitOfWork
from dispatch.config import DispatchSettings
from dispatch.domain.triage import RejectionCode
from dispatch.domain.withdrawal import WithdrawalOutcome
from dispatch.entrypoints.consumers import reports_consumer
from dispatch.entrypoints.http_districts import build_districts_router
from dispatch.entrypoints.http_stats import build_stats_router
from dispatch.entrypoints.http_workorders import build_workorders_router
from dispatch.entrypoints.work_order_metrics import WorkOrderMetrics, gauge_refresher
from dispatch.service_layer import reference, scanner
from dispatch.service_layer.districts import KINDS, DistrictRegistry

SERVICE = "dispatch"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
GRIDS_FILE = "grids.geojson"

_log = structlog.get_logger("gridloop.dispatch")


def demo_districts() -> Traversable:
    return resources.files("dispatch.demo_data")


def districts_root(value: str) -> Traversable:
    return demo_districts() if value == "demo" else Path(value)


def read_json(source: Traversable) -> Any:
    return json.loads(source.read_text(encoding="utf-8"))


def create_app(settings: DispatchSettings | None = None) -> FastAPI:
    settings = settings or DispatchSettings()
    runtime = ServiceRuntime(SERVICE, settings, MIGRATIONS, MESSAGING)
    registry = DistrictRegistry()
    timing = settings.timing()

    triaged = Counter(
        "gridloop_reports_triaged_total",
        "Reports triaged, by district, outcome and rejection reason",
        ["service", "district", "outcome", "reason"],
        registry=runtime.metrics.registry,
    )
    alerts = Counter(
        "gridloop_workorder_alerts_total",
        "Time-limit announcements (sla_warning, overdue, escalated) by district and level",
        ["service", "district", "kind", "level"],
        registry=runtime.metrics.registry,
    )
    withdrawals = Counter(
        "gridloop_withdrawals_total",
        "Reports withdrawn by their reporters (撤回), by what it did to the work order",
        ["service", "outcome"],
        registry=runtime.metrics.registry,
    )
    for outcome in WithdrawalOutcome:
        if outcome is not WithdrawalOutcome.ALREADY:
            withdrawals.labels(SERVICE, outcome.value)
    work_order_metrics = WorkOrderMetrics(SERVICE, runtime.metrics.registry, alerts=alerts)
    unit_of_work = counting_transitions(
        runtime.unit_of_work_factory(TransitionCountingUnitOfWork),
        work_order_metrics.count_transition,
    )
    statistics_store = SqlStatistics(runtime.engine)

    def count_triage(district: str, outcome: str, reason: str) -> None:
        triaged.labels(SERVICE, district, outcome, reason).inc()

    def count_alert(district: str, kind: str, level: int) -> None:
        alerts.labels(SERVICE, district, kind, str(level)).inc()

    async def load_reference_data() -> None:
        await registry.refresh(unit_of_work())
        if settings.districts_dir:
            await _load_missing(districts_root(settings.districts_dir), unit_of_work, registry)
        if settings.grids_file == "demo":  # before districts_dir: the demo districts
            await _load_missing(demo_districts(), unit_of_work, registry)
        elif settings.grids_file:
            document = read_json(districts_root(settings.grids_file))
            district = str(document["features"][0]["properties"]["district_code"])
            if district not in registry.grids:
                await reference.load_grids(document, unit_of_work(), registry)
        for district in registry.districts:
            triaged.labels(SERVICE, district, "filed", "")
            triaged.labels(SERVICE, district, "merged", "")
            for code in RejectionCode:
                triaged.labels(SERVICE, district, "rejected", code.value)
        if registry.loaded:
            _log.info("districts.ready", districts=registry.districts)
        else:
            _log.warning(
                "districts.empty", hint="PUT /v1/districts/{code}/… or DISPATCH_DISTRICTS_DIR"
            )

    async def follow_reference_changes() -> None:
        while True:
            await asyncio.sleep(settings.grids_refresh_seconds)
            try:
                await registry.refresh(unit_of_work())
            except Exception as error:
                _log.warning("districts.refresh_failed", error=repr(error)[:300])

    leadership = Leadership(runtime.engine, "gridloop:dispatch-escalation-scanner")

    async def scan_once(now: datetime | None = None) -> int | None:
        """One pass of the escalation scanner if this process leads the database's scanners
        (None if another does); a failed pass gives the lead up."""
        if not await leadership.ensure():
            return None
        try:
            made = await scanner.scan(unit_of_work, registry, timing, now=now, on_alert=count_alert)
        except Exception:
            await leadership.release()
            raise
        work_order_metrics.scanner_ran()
        return made

    async def scan_for_time_limits() -> None:
        try:
            while True:
                await asyncio.sleep(settings.scan_interval_seconds)
                try:
                    await scan_once()
                except Exception as error:
                    _log.warning("scanner.failed", error=repr(error)[:300])
        finally:
            await leadership.release()

    runtime.readiness_checks["districts"] = lambda: (
        "ok" if registry.loaded else "no districts loaded (PUT /v1/districts/{code}/grids)"
    )
    runtime.add_consumer(
        reports_consumer(
            unit_of_work,
            registry,
            timing,
            runtime.publish,
            runtime.metrics.consumers,
            count_triage,
            lambda outcome: withdrawals.labels(SERVICE, outcome).inc(),
        ),
        Topic.REPORTS,
    )
    background = [
        follow_reference_changes,
        scan_for_time_limits,
        gauge_refresher(
            work_order_metrics,
            statistics_store,
            lambda: registry.districts,
            interval_seconds=settings.gauges_refresh_seconds,
        ),
    ]
    app = create_service_app(
        runtime,
        title="gridloop dispatch",
        description="Places reports in grids, files work orders and runs their whole life: "
        "assignment, claim, handling, verification, closing, time limits and 督办.",
        routers=[
            build_districts_router(
                unit_of_work, registry, grids_max_body_bytes=settings.grids_max_body_bytes
            ),
            build_workorders_router(unit_of_work, registry),
            build_stats_router(statistics_store, statistics_store, registry),
        ],
        on_started=[load_reference_data],
        background=background,
    )
    app.state.background = {loop.__name__: loop for loop in background}  # for tests
    # What the loops drive, for operators' tools and tests: the districts in memory (refresh
    # them from the database), one scanner pass, and the scanner's lead.
    app.state.districts = registry
    app.state.scan_time_limits = scan_once
    app.state.scanner_leadership = leadership
    return app


async def _load_missing(
    root: Traversable,
    unit_of_work: Callable[[], SqlDispatchUnitOfWork],
    registry: DistrictRegistry,
) -> None:
    """Load each district folder's documents the database does not have yet."""
    for folder in sorted(root.iterdir(), key=lambda f: f.name):
        district = folder.name
        if not folder.is_dir() or not district.isdigit() or len(district) != 6:
            continue
        grids = folder / GRIDS_FILE
        if district not in registry.grids and grids.is_file():
            document = read_json(grids)
            await reference.load_grids(document, unit_of_work(), registry, district=district)
        for kind in KINDS:
            source = folder / f"{kind}.json"
            if registry.has(district, kind) or not source.is_file():
                continue
            await reference.load_document(
                district, kind, read_json(source), unit_of_work(), registry
            )
