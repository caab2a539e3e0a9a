"""Triage of a submitted report, exactly once: rejected with a reason, merged into an open
order nearby (并单), or filed as a new order — dispatched at once, or left for review."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

from common.contracts.events import RejectionReason, ReportRejected, ReportSubmitted
from common.messaging.ports import EventHandler, EventMeta, HandlerOutcome
from dispatch.domain.geometry import degrees_around, distance_m
from dispatch.domain.reference import CategoryRule
from dispatch.domain.triage import Accepted, Rejected, triage
from dispatch.domain.work_orders import WorkOrder
from dispatch.service_layer.announce import Announcer
from dispatch.service_layer.dispatching import dispatch_order
from dispatch.service_layer.districts import DistrictRegistry
from dispatch.service_layer.unit_of_work import AbstractDispatchUnitOfWork, MergeCandidate

_log = structlog.get_logger("gridloop.dispatch")

TriageCounter = Callable[[str, str, str], None]
"""(district, outcome, reason) — counted once the decision commits."""


class GridRegistryEmpty(RuntimeError):
    """No grids are loaded at all yet. A report is then retried with backoff and, if the grids
    are still missing, dead-lettered — never rejected as outside the service area, which would
    tell the rider something false."""


def new_work_order_id() -> str:
    return f"wo-{uuid.uuid4().hex[:20]}"


def on_report_submitted_handler(
    registry: DistrictRegistry,
    on_triaged: TriageCounter = lambda district, outcome, reason: None,
    new_id: Callable[[], str] = new_work_order_id,
) -> EventHandler[ReportSubmitted, AbstractDispatchUnitOfWork]:
    async def on_report_submitted(
        report: ReportSubmitted, meta: EventMeta, uow: AbstractDispatchUnitOfWork
    ) -> HandlerOutcome:
        if not registry.loaded:
            raise GridRegistryEmpty("no grids are loaded for any district")
        if await uow.work_orders.already_triaged(report.report_id):
            return "ignored"
        decision = triage(
            report_districts=report.reporter_districts or [meta.district],
            category_code=report.category,
            lat=report.lat,
            lon=report.lon,
            grids=registry.grids,
            catalogues=registry.catalogues,
        )
        now = datetime.now(UTC)
        if isinstance(decision, Rejected):
            await reject(report, decision, uow, now)
            district, reason = decision.district or meta.district, decision.code.value
            uow.after_commit(lambda: on_triaged(district, "rejected", reason))
            return "processed"
        announcer = Announcer(uow, registry)
        district = decision.grid.district_code
        target = await _merge_target(report, decision.category, district, uow, now)
        if target is not None:
            candidate, distance = target
            order = await uow.work_orders.get(candidate.work_order_id, for_update=True)
            if order is not None and order.state.is_open:
                history = len(order.history)
                order.attach(report.report_id, report.reporter_id, at=now, distance_m=distance)
                await uow.work_orders.save(order, history_before=history)
                await announcer.merged(order, now, report.report_id, report.reporter_id, distance)
                uow.after_commit(lambda: on_triaged(district, "merged", ""))
                _log.debug("report.merged", report_id=report.report_id, work_order_id=order.id)
                return "processed"
        await file_order(report, decision, district, uow, registry, announcer, new_id(), now)
        uow.after_commit(lambda: on_triaged(district, "filed", ""))
        return "processed"

    return on_report_submitted


async def reject(
    report: ReportSubmitted, decision: Rejected, uow: AbstractDispatchUnitOfWork, at: datetime
) -> None:
    await uow.work_orders.record_rejection(
        report_id=report.report_id,
        reporter_id=report.reporter_id,
        district=decision.district,
        category=report.category,
        lat=report.lat,
        lon=report.lon,
        decision=decision,
        at=at,
    )
    await uow.outbox.add(
        ReportRejected(
            report_id=report.report_id,
            reporter_id=report.reporter_id,
            category=report.category,
            reason_code=RejectionReason(decision.code.value),
            reason=decision.reason,
            rejected_at=at,
        ),
        subject=report.report_id,
        sequence=1,
    )
    _log.debug("report.rejected", report_id=report.report_id, reason=decision.code.value)


async def file_order(
    report: ReportSubmitted,
    decision: Accepted,
    district: str,
    uow: AbstractDispatchUnitOfWork,
    registry: DistrictRegistry,
    announcer: Announcer,
    work_order_id: str,
    at: datetime,
) -> WorkOrder:
    category = decision.category
    order = WorkOrder.file(
        work_order_id=work_order_id,
        district=district,
        report_id=report.report_id,
        reporter_id=report.reporter_id,
        category=category.code,
        category_group=category.group_code,
        priority=category.priority.value,
        grid_id=decision.grid.grid_id,
        street=decision.grid.street,
        lat=report.lat,
        lon=report.lon,
        text=report.text,
        at=at,
        needs_review=category.needs_review,
    )
    if category.needs_review:
        roster = registry.roster(district)
        # The street's supervisors review; in a street without one, the district's (as the
        # assignment ladder falls back to them), so that somebody is asked.
        reviewers = (
            roster.street_supervisors(order.street) or roster.district_supervisors()
            if roster
            else []
        )
        supervisors = [s.id for s in reviewers]
        await uow.work_orders.add(order)
        await announcer.review_requested(order, supervisors)
        return order
    await announcer.filed(order, decision.grid)
    dispatched = await dispatch_order(order, registry, uow, announcer, at, redispatch=False)
    await uow.work_orders.add(order)
    if not dispatched:
        _log.warning("workorder.waiting_for_roster", work_order_id=order.id, district=district)
    _log.debug("workorder.filed", report_id=report.report_id, work_order_id=order.id)
    return order


async def _merge_target(
    report: ReportSubmitted,
    category: CategoryRule,
    district: str,
    uow: AbstractDispatchUnitOfWork,
    at: datetime,
) -> tuple[MergeCandidate, float] | None:
    """The nearest open order of the same category group within the category's radius and
    window, if any (并单)."""
    if category.merge_radius_m <= 0 or category.merge_window_days <= 0:
        return None
    dlat, dlon = degrees_around(report.lat, category.merge_radius_m)
    candidates = await uow.work_orders.merge_candidates(
        district=district,
        category_group=category.group_code,
        since=at - timedelta(days=category.merge_window_days),
        lat_range=(report.lat - dlat, report.lat + dlat),
        lon_range=(report.lon - dlon, report.lon + dlon),
    )
    measured = [
        (candidate, distance_m(report.lat, report.lon, candidate.lat, candidate.lon))
        for candidate in candidates
    ]
    within = [(c, d) for c, d in measured if d <= category.merge_radius_m]
    if not within:
        return None
    return min(within, key=lambda pair: (pair[1], pair[0].filed_at, pair[0].work_order_id))
