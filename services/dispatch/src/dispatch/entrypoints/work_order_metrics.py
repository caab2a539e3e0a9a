"""Prometheus metrics of the work order's life, with bounded labels (district, category group,
state, action): open and overdue orders now (gauges refreshed by a periodic aggregate query),
committed transitions, and the escalation scanner's heartbeat.

Every replica refreshes the gauges from the one database, like the outbox gauges: each reports
the same levels, so dashboards and alerts take ``max`` over instances, a failover leaves no gap,
and the cost is one GROUP BY over the open orders per replica every
``DISPATCH_GAUGES_REFRESH_SECONDS``. Only the replica holding the scanner's lock completes
scanner passes, so only it moves the heartbeat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from dispatch.domain.statistics import OpenOrders
from dispatch.domain.work_orders import Action, AlertKind
from dispatch.service_layer.statistics import StatisticsStore

_log = structlog.get_logger("gridloop.dispatch")

ACTIONS = ("file", *(action.value for action in Action))
"""Every history row's action: ``file`` when the order is created, then the transitions."""
ALERT_SERIES = (
    (AlertKind.WARNING.value, 0),
    (AlertKind.OVERDUE.value, 0),
    (AlertKind.ESCALATED.value, 1),
    (AlertKind.ESCALATED.value, 2),
)
"""The (kind, level) pairs the scanner announces."""


class WorkOrderMetrics:
    def __init__(self, service: str, registry: CollectorRegistry, *, alerts: Counter) -> None:
        self.service = service
        self.alerts = alerts
        self.open = Gauge(
            "gridloop_workorders_open",
            "Work orders in an open state now, by district, category group and state",
            ["service", "district", "category_group", "state"],
            registry=registry,
        )
        self.overdue = Gauge(
            "gridloop_workorders_overdue",
            "Open work orders past their handling deadline now (states whose clock runs), "
            "by district and category group",
            ["service", "district", "category_group"],
            registry=registry,
        )
        self.transitions = Counter(
            "gridloop_workorder_transitions_total",
            "Work-order transitions committed (history rows), by district and action",
            ["service", "district", "action"],
            registry=registry,
        )
        self.scanner_last_run = Gauge(
            "gridloop_workorder_scanner_last_run_timestamp_seconds",
            "When this process last completed an escalation scanner pass (Unix time); only "
            "the replica holding the scanner lock runs passes",
            ["service"],
            registry=registry,
        )
        self._shown: set[tuple[str, ...]] = set()
        self._shown_overdue: set[tuple[str, ...]] = set()

    def count_transition(self, district: str, action: str) -> None:
        self.transitions.labels(self.service, district, action).inc()

    def scanner_ran(self) -> None:
        self.scanner_last_run.labels(self.service).set_to_current_time()

    def prepare(self, districts: Iterable[str]) -> None:
        """Export the district's counters at 0 before anything happens, so ``increase()``
        sees their first events."""
        for district in districts:
            for action in ACTIONS:
                self.transitions.labels(self.service, district, action)
            for kind, level in ALERT_SERIES:
                self.alerts.labels(self.service, district, kind, str(level))

    def show(self, rows: Sequence[OpenOrders]) -> None:
        """Set the gauges to ``rows``; a level seen before and absent now drops to 0."""
        open_now: dict[tuple[str, ...], int] = {}
        overdue_now: dict[tuple[str, ...], int] = {}
        for row in rows:
            open_now[(row.district, row.category_group, row.state)] = row.count
            key = (row.district, row.category_group)
            overdue_now[key] = overdue_now.get(key, 0) + row.overdue
        _set(self.open, self.service, open_now, self._shown)
        _set(self.overdue, self.service, overdue_now, self._shown_overdue)

    async def refresh(
        self, store: StatisticsStore, districts: Iterable[str], *, now: datetime | None = None
    ) -> None:
        self.prepare(districts)
        self.show(await store.open_orders(None, now or datetime.now(UTC)))


def _set(
    gauge: Gauge, service: str, values: dict[tuple[str, ...], int], shown: set[tuple[str, ...]]
) -> None:
    for labels in shown - values.keys():
        gauge.labels(service, *labels).set(0)
    for labels, value in values.items():
        gauge.labels(service, *labels).set(value)
    shown.update(values)


def gauge_refresher(
    metrics: WorkOrderMetrics,
    store: StatisticsStore,
    districts: Callable[[], Iterable[str]],
    *,
    interval_seconds: float,
) -> Callable[[], Coroutine[Any, Any, None]]:
    """The background loop that refreshes the work-order gauges, at once and then every
    ``interval_seconds``."""

    async def refresh_work_order_gauges() -> None:
        while True:
            try:
                await metrics.refresh(store, districts())
            except Exception as error:
                _log.warning("workorder_gauges.refresh_failed", error=repr(error)[:300])
            await asyncio.sleep(interval_seconds)

    return refresh_work_order_gauges
