"""撤回: the reporter withdraws their report before it is accepted as a case. The report shows
it at once (status ``withdrawn``, a timeline step), and ``gridloop.report.withdrawn`` (key =
the report id, after the report's submission on the same partition) goes to dispatch through
the outbox in the same transaction. The withdrawal is stored with the reporter's requests: it
takes its place in the report's own event stream and its Idempotency-Key in theirs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from common.contracts.workorder_events import ReportWithdrawn
from reporting.domain.progress import TimelineEntry
from reporting.domain.reporter_requests import ReporterRequest, RequestAction
from reporting.domain.reports import Report
from reporting.domain.withdrawal import WithdrawReport, already_withdrawn
from reporting.service_layer.handlers import once_per_key
from reporting.service_layer.reporter_requests import own_report_and_request
from reporting.service_layer.unit_of_work import AbstractReportingUnitOfWork

_log = structlog.get_logger("gridloop.reporting")


@dataclass(frozen=True)
class Withdrawn:
    report: Report
    timeline: list[TimelineEntry]
    replayed: bool
    """True for a retry with the same Idempotency-Key, or a report withdrawn already."""


async def withdraw_report(
    command: WithdrawReport,
    uow: AbstractReportingUnitOfWork,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Withdrawn:
    """Withdraw the report once; a retry with the same Idempotency-Key, or a withdrawal of a
    withdrawn report, answers the report as it is. Raises :class:`ReportNotFound`,
    :class:`IdempotencyConflict` or
    :class:`~reporting.domain.reporter_requests.RequestRefused`."""
    return await once_per_key(
        lambda: _withdraw_once(command, uow, now, new_id), command.idempotency_key
    )


async def _withdraw_once(
    command: WithdrawReport,
    uow: AbstractReportingUnitOfWork,
    now: Callable[[], datetime],
    new_id: Callable[[], str],
) -> Withdrawn:
    fingerprint = command.fingerprint()
    async with uow:
        report, seen = await own_report_and_request(
            uow, command.report_id, command.reporter_id, command.idempotency_key, fingerprint
        )
        if seen is not None or already_withdrawn(report):
            return Withdrawn(report, await uow.timeline.of_report(report.id), replayed=True)
        earlier = await uow.requests.of_report(report.id)
        at = now()
        step = report.withdraw(at=at, reason=command.reason)
        await uow.requests.add(
            ReporterRequest(
                id=new_id(),
                report_id=report.id,
                reporter_id=report.reporter_id,
                work_order_id=report.work_order_id,
                action=RequestAction.WITHDRAW,
                text=command.reason,
                score=None,
                requested_at=at,
                idempotency_key=command.idempotency_key,
                fingerprint=fingerprint,
            )
        )
        await uow.reports.save(report)
        await uow.timeline.add(step)
        # The report's own stream: 1 was its submission, each request the next.
        await uow.outbox.add(
            ReportWithdrawn(
                report_id=report.id,
                reporter_id=report.reporter_id,
                reason=command.reason,
                withdrawn_at=at,
            ),
            subject=report.id,
            sequence=len(earlier) + 2,
            district=report.district,
        )
        timeline = await uow.timeline.of_report(report.id)
        await uow.commit()
    _log.info("report.withdrawn", report_id=report.id, work_order_id=report.work_order_id)
    return Withdrawn(report, timeline, replayed=False)
