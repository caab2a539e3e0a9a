"""Use cases of the reporting service."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from common.contracts.events import ReportRejected, ReportSubmitted, WorkOrderFiled
from common.messaging.ports import EventMeta, HandlerOutcome, WriteConflict
from reporting.domain.reports import IdempotencyConflict, Report, SubmitReport
from reporting.service_layer.unit_of_work import AbstractReportingUnitOfWork

_log = structlog.get_logger("gridloop.reporting")


@dataclass(frozen=True)
class Submission:
    report: Report
    replayed: bool


async def submit_report(
    command: SubmitReport,
    uow: AbstractReportingUnitOfWork,
    *,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Submission:
    """Store the report and queue ``report.submitted``; a retried request with the same
    Idempotency-Key returns the original report instead of filing a second one."""
    try:
        return await _submit_once(command, uow, new_id)
    except WriteConflict:
        if not command.idempotency_key:
            raise
        # Two requests with the same key raced; the other one stored its report first.
        return await _submit_once(command, uow, new_id)


async def _submit_once(
    command: SubmitReport, uow: AbstractReportingUnitOfWork, new_id: Callable[[], str]
) -> Submission:
    command.category_or_error()
    fingerprint = command.fingerprint()
    async with uow:
        if command.idempotency_key:
            seen = await uow.idempotency.find(command.reporter_id, command.idempotency_key)
            if seen is not None:
                earlier_fingerprint, report_id = seen
                if earlier_fingerprint != fingerprint:
                    raise IdempotencyConflict(
                        "this Idempotency-Key was already used for a different report"
                    )
                original = await uow.reports.get(report_id)
                if original is None:
                    raise LookupError(report_id)
                return Submission(original, replayed=True)
        now = datetime.now(UTC)
        report = Report(
            id=new_id(),
            reporter_id=command.reporter_id,
            district=command.district,
            category=command.category,
            lat=command.lat,
            lon=command.lon,
            text=command.text,
            submitted_at=now,
            updated_at=now,
        )
        await uow.reports.add(report)
        if command.idempotency_key:
            await uow.idempotency.remember(
                command.reporter_id, command.idempotency_key, fingerprint, report.id
            )
        await uow.outbox.add(
            ReportSubmitted(
                report_id=report.id,
                reporter_id=report.reporter_id,
                category=report.category,
                lat=report.lat,
                lon=report.lon,
                text=report.text,
                submitted_at=report.submitted_at,
            ),
            subject=report.id,
            sequence=1,
        )
        await uow.commit()
    _log.info("report.submitted", report_id=report.id, category=report.category)
    return Submission(report, replayed=False)


async def on_work_order_filed(
    filed: WorkOrderFiled, meta: EventMeta, uow: AbstractReportingUnitOfWork
) -> HandlerOutcome:
    report = await uow.reports.get(filed.report_id, for_update=True)
    if report is None:
        _log.warning("report.unknown", report_id=filed.report_id)
        return "ignored"
    changed = report.mark_filed(
        work_order_id=filed.work_order_id,
        grid_id=filed.grid_id,
        grid_name=filed.grid_name,
        sequence=meta.sequence,
        at=filed.filed_at,
    )
    if not changed:
        return "stale"
    await uow.reports.save(report)
    _log.debug("report.filed", report_id=report.id, work_order_id=filed.work_order_id)
    return "processed"


async def on_report_rejected(
    rejected: ReportRejected, meta: EventMeta, uow: AbstractReportingUnitOfWork
) -> HandlerOutcome:
    report = await uow.reports.get(rejected.report_id, for_update=True)
    if report is None:
        _log.warning("report.unknown", report_id=rejected.report_id)
        return "ignored"
    changed = report.mark_rejected(
        code=rejected.reason_code.value,
        reason=rejected.reason,
        sequence=meta.sequence,
        at=rejected.rejected_at,
    )
    if not changed:
        return "stale"
    await uow.reports.save(report)
    _log.debug("report.rejected", report_id=report.id, reason=rejected.reason_code.value)
    return "processed"
