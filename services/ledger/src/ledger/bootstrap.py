"""Composition root of the ledger service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prometheus_client import Counter

from common.contracts.topics import Topic
from common.service.http_app import create_service_app
from common.service.runtime import ServiceRuntime
from ledger.adapters.tables import MESSAGING
from ledger.adapters.unit_of_work import SqlLedgerUnitOfWork
from ledger.config import LedgerSettings
from ledger.domain.points import AwardRules
from ledger.entrypoints.consumers import award_consumer
from ledger.entrypoints.http import build_router

SERVICE = "ledger"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: LedgerSettings | None = None) -> FastAPI:
    settings = settings or LedgerSettings()
    runtime = ServiceRuntime(SERVICE, settings, MIGRATIONS, MESSAGING)

    unit_of_work = runtime.unit_of_work_factory(SqlLedgerUnitOfWork)

    awarded = Counter(
        "gridloop_points_awarded_total",
        "Points credited to riders",
        ["service"],
        registry=runtime.metrics.registry,
    )
    awarded.labels(SERVICE)
    rules = AwardRules(
        report_accepted=settings.points_report_accepted, daily_cap=settings.points_daily_cap
    )
    runtime.add_consumer(
        award_consumer(
            unit_of_work,
            rules,
            runtime.publish,
            runtime.metrics.consumers,
            lambda amount: awarded.labels(SERVICE).inc(amount),
        ),
        Topic.WORKORDERS,
    )
    return create_service_app(
        runtime,
        title="gridloop ledger",
        description="Riders' points: a double-entry ledger of immutable transfers.",
        routers=[build_router(unit_of_work)],
    )
