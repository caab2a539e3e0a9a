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
from ledger.domain.rules import RuleSet
from ledger.entrypoints.consumers import award_consumer
from ledger.entrypoints.http import build_router
from ledger.service_layer.handlers import LedgerObserver, Rewards

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
    points = Counter(
        "gridloop_ledger_points_total",
        "Points moved, by district and movement: issued, reversed, capped (withheld), "
        "reserved, redeemed, released (cancelled) and expired",
        ["district", "movement"],
        registry=runtime.metrics.registry,
    )
    conflicts = Counter(
        "gridloop_ledger_transfer_conflicts_total",
        "Causes refused because their transfer id was already used for different content",
        ["code"],
        registry=runtime.metrics.registry,
    )

    def issued(district: str, amount: int) -> None:
        awarded.labels(SERVICE).inc(amount)
        points.labels(district, "issued").inc(amount)

    observer = LedgerObserver(
        issued=issued,
        reversed=lambda district, amount: points.labels(district, "reversed").inc(amount),
        capped=lambda district, amount: points.labels(district, "capped").inc(amount),
        conflict=lambda code: conflicts.labels(code).inc(),
    )
    defaults = RuleSet(
        report_accepted=settings.points_report_accepted,
        corroboration=settings.points_corroboration,
        closure_bonus=settings.points_closure_bonus,
        rating=settings.points_rating,
        daily_cap=settings.points_daily_cap,
    )
    runtime.add_consumer(
        award_consumer(
            unit_of_work, Rewards(defaults, observer), runtime.publish, runtime.metrics.consumers
        ),
        Topic.WORKORDERS,
    )
    return create_service_app(
        runtime,
        title="gridloop ledger",
        description="Riders' points: a double-entry ledger of immutable transfers.",
        routers=[build_router(unit_of_work, defaults)],
    )
