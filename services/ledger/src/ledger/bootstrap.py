"""Composition root of the ledger service."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from fastapi import FastAPI
from prometheus_client import Counter

from common.contracts.topics import Topic
from common.leadership import Leadership
from common.service.http_app import create_service_app
from common.service.runtime import ServiceRuntime
from ledger.adapters.tables import MESSAGING
from ledger.adapters.unit_of_work import SqlLedgerUnitOfWork
from ledger.config import LedgerSettings
from ledger.entrypoints.consumers import award_consumer
from ledger.entrypoints.gift_files import districts_root, read_catalogues
from ledger.entrypoints.http import build_router
from ledger.entrypoints.http_redemptions import build_redemptions_router
from ledger.service_layer.gift_catalogues import stock_empty_catalogues
from ledger.service_layer.handlers import LedgerObserver, Rewards
from ledger.service_layer.redemptions import RedemptionObserver, Redemptions, sweep_expired

SERVICE = "ledger"
_log = structlog.get_logger("gridloop.ledger")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: LedgerSettings | None = None) -> FastAPI:
    """Raises ``GiftFileError`` (naming the file and the gift) when ``LEDGER_DISTRICTS_DIR``
    holds a catalogue that cannot be loaded: checked before anything starts."""
    settings = settings or LedgerSettings()
    catalogues = (
        read_catalogues(districts_root(settings.districts_dir)) if settings.districts_dir else {}
    )
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
    defaults = settings.default_rules()
    runtime.add_consumer(
        award_consumer(
            unit_of_work, Rewards(defaults, observer), runtime.publish, runtime.metrics.consumers
        ),
        Topic.WORKORDERS,
    )
    redemptions = Redemptions(
        timedelta(minutes=settings.redemption_hold_minutes),
        RedemptionObserver(
            reserved=lambda district, amount: points.labels(district, "reserved").inc(amount),
            redeemed=lambda district, amount: points.labels(district, "redeemed").inc(amount),
            released=lambda district, amount: points.labels(district, "released").inc(amount),
            expired=lambda district, amount: points.labels(district, "expired").inc(amount),
        ),
    )
    leadership = Leadership(runtime.engine, "gridloop:ledger-redemption-sweeper")

    async def load_gift_catalogues() -> None:
        if catalogues:
            await stock_empty_catalogues(unit_of_work, catalogues)

    async def sweep_once(now: datetime | None = None) -> int | None:
        """Expire the reservations past their time if this process leads the sweepers (None
        if another does); a failed pass gives the lead up."""
        if not await leadership.ensure():
            return None
        try:
            return await sweep_expired(unit_of_work, redemptions, now or datetime.now(UTC))
        except Exception:
            await leadership.release()
            raise

    async def sweep_expired_reservations() -> None:
        try:
            while True:
                await asyncio.sleep(settings.redemption_sweep_interval_seconds)
                try:
                    await sweep_once()
                except Exception as error:
                    _log.warning("sweeper.failed", error=repr(error)[:300])
        finally:
            await leadership.release()

    app = create_service_app(
        runtime,
        title="gridloop ledger",
        description="Riders' points: a double-entry ledger of immutable transfers, and gifts "
        "redeemed for them (兑换).",
        routers=[
            build_router(unit_of_work, defaults),
            build_redemptions_router(unit_of_work, redemptions),
        ],
        on_started=[load_gift_catalogues],
        background=[sweep_expired_reservations],
    )
    app.state.load_gift_catalogues = load_gift_catalogues  # the start-up step, for tests
    app.state.sweep_redemptions = sweep_once  # one sweeper pass, for operators' tools and tests
    return app
