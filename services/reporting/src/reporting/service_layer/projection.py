"""The reporter-facing status: every work-order event projected onto the reports it concerns —
the report the order was filed for and every report merged into it — with a timeline row per
step, and stale events (older than what a report shows of its order) left out."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import structlog

from common.contracts.events import (
    PointsAwarded,
    PointsCapped,
    PointsReversed,
    ReportRejected,
    WorkOrderFiled,
)
from common.contracts.workorder_events import (
    WORKORDER_EVENT_MODELS,
    WorkOrderClaimed,
    WorkOrderClosed,
    WorkOrderDispatched,
    WorkOrderEscalated,
    WorkOrderEvent,
    WorkOrderMerged,
    WorkOrderOverdue,
    WorkOrderRated,
    WorkOrderReopened,
    WorkOrderResolved,
    WorkOrderReturned,
    WorkOrderReviewRequested,
    WorkOrderRework,
    WorkOrderSlaWarning,
    WorkOrderVerified,
    WorkOrderVoided,
)
from common.messaging.ports import EventMeta, HandlerOutcome
from reporting.domain.progress import (
    Progress,
    Step,
    TimelineEntry,
    capped_words,
    paid_words,
    points_row,
    reversed_words,
)
from reporting.domain.reports import Report, ReportStatus
from reporting.service_layer.unit_of_work import AbstractReportingUnitOfWork

_log = structlog.get_logger("gridloop.reporting")

ESCALATION_LEVELS = {1: "街道", 2: "区"}

FOLLOWED_EVENTS: tuple[type[WorkOrderEvent | WorkOrderFiled], ...] = (
    WorkOrderFiled,
    *(model for model in WORKORDER_EVENT_MODELS if issubclass(model, WorkOrderEvent)),
)
"""The work-order events the projection applies (every one dispatch publishes)."""


def progress_of(data: WorkOrderEvent | WorkOrderFiled, sequence: int) -> Progress:
    """The step an event tells, in the reporter's words."""
    step = partial(Progress, work_order_id=data.work_order_id, sequence=sequence)
    match data:
        case WorkOrderFiled():
            return step(
                Step.FILED,
                at=data.filed_at,
                grid_id=data.grid_id,
                grid_name=data.grid_name,
                category_name=data.category_name,
            )
        case WorkOrderReviewRequested():
            return step(Step.PENDING_REVIEW, at=data.requested_at)
        case WorkOrderDispatched():
            how = "改派至" if data.redispatch else "派往"
            return step(
                Step.DISPATCHED,
                at=data.dispatched_at,
                deadline=data.handle_due,
                label="已改派" if data.redispatch else None,
                detail=f"{how} {data.assignee_name}",
            )
        case WorkOrderClaimed():
            return step(Step.CLAIMED, at=data.claimed_at)
        case WorkOrderResolved():
            return step(
                Step.RESOLVED,
                at=data.resolved_at,
                detail=data.note,
                photo_ids=tuple(data.evidence),
            )
        case WorkOrderVerified():
            label = "核查通过" if data.passed else "核查未通过"
            return step(Step.VERIFIED, at=data.verified_at, label=label, detail=data.note or None)
        case WorkOrderRework():
            return step(
                Step.REWORK, at=data.reworked_at, deadline=data.handle_due, detail=data.note
            )
        case WorkOrderReturned():
            return step(Step.RETURNED, at=data.returned_at, detail=data.reason)
        case WorkOrderClosed():
            on_time = "按期结案" if data.on_time else "超期结案"
            return step(Step.CLOSED, at=data.closed_at, detail=on_time)
        case WorkOrderReopened():
            return step(Step.REOPENED, at=data.reopened_at, detail=data.reason)
        case WorkOrderVoided():
            return step(Step.VOIDED, at=data.voided_at, detail=data.reason)
        case WorkOrderRated():
            comment = f"：{data.comment}" if data.comment else ""
            return step(Step.RATED, at=data.rated_at, detail=f"{data.score} 分{comment}")
        case WorkOrderMerged():
            return step(Step.MERGED, at=data.merged_at, detail="与已受理的工单合并处理")
        case WorkOrderSlaWarning():
            return step(Step.SLA_WARNING, at=data.warned_at, deadline=data.handle_due)
        case WorkOrderOverdue():
            return step(Step.OVERDUE, at=data.overdue_at, deadline=data.handle_due)
        case WorkOrderEscalated():
            level = ESCALATION_LEVELS.get(data.level, str(data.level))
            return step(
                Step.ESCALATED,
                at=data.escalated_at,
                deadline=data.handle_due,
                detail=f"{level}级督办",
            )
    raise TypeError(f"no step known for {type(data).__name__}")


async def on_work_order_event(
    data: WorkOrderEvent | WorkOrderFiled, meta: EventMeta, uow: AbstractReportingUnitOfWork
) -> HandlerOutcome:
    """Apply one work-order event to every report that follows the order."""
    progress = progress_of(data, meta.sequence)
    if isinstance(data, WorkOrderMerged):
        return await _merge(data, progress, uow)
    reports = await uow.reports.following(data.work_order_id, data.report_id, for_update=True)
    if not reports:
        _log.warning("report.unknown", report_id=data.report_id, work_order_id=data.work_order_id)
        return "ignored"
    applied = [report for report in reports if await _apply(report, progress, uow)]
    if not applied:
        return "stale"
    _log.debug(
        "report.progressed",
        step=progress.step.value,
        work_order_id=progress.work_order_id,
        reports=[report.id for report in applied],
    )
    return "processed"


async def _merge(
    merged: WorkOrderMerged, progress: Progress, uow: AbstractReportingUnitOfWork
) -> HandlerOutcome:
    """并单: the merged report joins the order and follows it from now on, showing what its
    reports already show of it."""
    report = await uow.reports.get(merged.merged_report_id, for_update=True)
    if report is None:
        _log.warning("report.unknown", report_id=merged.merged_report_id)
        return "ignored"
    if report.status is ReportStatus.WITHDRAWN:
        # Dispatch detaches a withdrawn report from the case: it does not follow it.
        withdrawn = replace(progress, detail="已撤回，不再跟进该工单")
        return "processed" if await _apply(report, withdrawn, uow) else "stale"
    followers = await uow.reports.following(merged.work_order_id)
    known = next((r for r in followers if r.id != report.id and r.work_order_state), None)
    if known is not None:
        progress = replace(
            progress,
            order_state=known.work_order_state,
            deadline=known.deadline,
            grid_id=known.grid_id,
            grid_name=known.grid_name,
        )
    return "processed" if await _apply(report, progress, uow) else "stale"


async def _apply(report: Report, progress: Progress, uow: AbstractReportingUnitOfWork) -> bool:
    if not report.follow(progress):
        return False
    await uow.reports.save(report)
    entry = progress.entry(report.id)
    if entry is not None:
        if entry.photos:
            entry = replace(entry, photos=await _shown_with(report, entry.photos, uow))
        await uow.timeline.add(entry)
    return True


async def _shown_with(
    report: Report, photo_ids: tuple[str, ...], uow: AbstractReportingUnitOfWork
) -> tuple[str, ...]:
    """The photos of a step that reporting keeps (the grid worker uploaded them with
    POST /v1/photos), now also the report's: its reporter may see them."""
    kept = await uow.photos.get_many(photo_ids)
    shown = tuple(photo_id for photo_id in photo_ids if photo_id in kept)
    if len(shown) < len(photo_ids):
        _log.warning("report.evidence_unknown", report_id=report.id, photo_ids=photo_ids)
    await uow.photos.attach(report.id, shown)
    return shown


async def on_report_rejected(
    rejected: ReportRejected, meta: EventMeta, uow: AbstractReportingUnitOfWork
) -> HandlerOutcome:
    """不予立案, at triage or after a supervisor's review; final."""
    report = await uow.reports.get(rejected.report_id, for_update=True)
    if report is None:
        _log.warning("report.unknown", report_id=rejected.report_id)
        return "ignored"
    if not report.mark_rejected(
        code=rejected.reason_code.value, reason=rejected.reason, at=rejected.rejected_at
    ):
        return "stale"
    await uow.reports.save(report)
    await uow.timeline.add(report.rejected_entry())
    _log.debug("report.rejected", report_id=report.id, reason=rejected.reason_code.value)
    return "processed"


async def on_points_awarded(
    awarded: PointsAwarded, meta: EventMeta, uow: AbstractReportingUnitOfWork
) -> HandlerOutcome:
    """Points paid for a report show on its timeline, once per transfer (whichever consumer
    group tells it)."""
    row = points_row(
        Step.POINTS_AWARDED,
        awarded.report_id,
        key=awarded.transfer_id,
        at=awarded.awarded_at,
        work_order_id=awarded.work_order_id,
        detail=paid_words(awarded.amount, awarded.rule),
    )
    return await _tell_points(awarded.rider_id, row, uow)


async def on_points_capped(
    capped: PointsCapped, meta: EventMeta, uow: AbstractReportingUnitOfWork
) -> HandlerOutcome:
    """A reward the daily cap held back shows why (a reward paid in part has both rows)."""
    row = points_row(
        Step.POINTS_CAPPED,
        capped.report_id,
        key=f"capped:{capped.transfer_id}",
        at=capped.capped_at,
        work_order_id=capped.work_order_id,
        detail=capped_words(capped.rule, capped.withheld, capped.daily_cap),
    )
    return await _tell_points(capped.rider_id, row, uow)


async def on_points_reversed(
    reversed_: PointsReversed, meta: EventMeta, uow: AbstractReportingUnitOfWork
) -> HandlerOutcome:
    """Points taken back for a voided case show on the report's timeline."""
    row = points_row(
        Step.POINTS_REVERSED,
        reversed_.report_id,
        key=reversed_.transfer_id,
        at=reversed_.reversed_at,
        work_order_id=reversed_.work_order_id,
        detail=reversed_words(reversed_.amount, reversed_.shortfall),
    )
    return await _tell_points(reversed_.rider_id, row, uow)


async def _tell_points(
    rider_id: str, entry: TimelineEntry, uow: AbstractReportingUnitOfWork
) -> HandlerOutcome:
    """Add a points row to the timeline of the rider's own report, once per key."""
    report = await uow.reports.get(entry.report_id)
    if report is None or report.reporter_id != rider_id:
        _log.warning("report.unknown", report_id=entry.report_id)
        return "ignored"
    return "processed" if await uow.timeline.add_once(entry) else "stale"
