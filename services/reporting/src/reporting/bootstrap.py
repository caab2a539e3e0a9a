"""Composition root of the reporting service: the only place that wires its parts."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prometheus_client import Counter

from common.contracts.topics import Topic
from common.service.http_app import create_service_app
from common.service.runtime import ServiceRuntime
from reporting.adapters.tables import MESSAGING
from reporting.adapters.unit_of_work import SqlReportingUnitOfWork
from reporting.config import ReportingSettings
from reporting.entrypoints.consumers import status_projection
from reporting.entrypoints.http import build_router
from reporting.entrypoints.http_withdrawal import build_withdrawal_router

SERVICE = "reporting"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or ReportingSettings()
    runtime = ServiceRuntime(SERVICE, settings, MIGRATIONS, MESSAGING)

    unit_of_work = runtime.unit_of_work_factory(SqlReportingUnitOfWork)

    runtime.add_consumer(
        status_projection(unit_of_work, runtime.publish, runtime.metrics.consumers),
        Topic.WORKORDERS,
        Topic.DISTRICTS,
    )
    submitted = Counter(
        "gridloop_reports_submitted_total",
        "Reports accepted over HTTP",
        ["service"],
        registry=runtime.metrics.registry,
    )
    submitted.labels(SERVICE)
    return create_service_app(
        runtime,
        title="gridloop reporting",
        description="Riders submit 随手拍 reports and follow their status.",
        routers=[
            build_router(unit_of_work, submitted, settings.reopen_window),
            build_withdrawal_router(unit_of_work),
        ],
    )
