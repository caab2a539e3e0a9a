"""The reporter rates their report's closed work order, or asks for it to be reopened: checked
against what the report shows, stored, and forwarded to dispatch through the outbox
(``gridloop.report.rated`` / ``gridloop.report.reopen_requested``, key = the report id)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from common.contracts.base import EventData
from common.contracts.workorder_events import ReportRated, ReportReopenRequested
from reporting.domain.errors import IdempotencyConflict, ReportNotFound
from reporting.domain.reporter_requests import (
    AskAboutReport,
    ReporterRequest,
    RequestAction,
    check_request,
)
from reporting.domain.reports import Report
from reporting.service_layer.handlers import once_per_key
from reporting.service_layer.unit_of_work import AbstractReportingUnitOfWork

_log = structlog.get_logger("gridloop.reporting")


@dataclass(frozen=True)
class Asked:
    request: ReporterRequest
    replayed: bool


async def ask_about_report(
    command: AskAboutReport,
    uow: AbstractReportingUnitOfWork,
    *,
    reopen_window: timedelta,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Asked:
    """Accept and forward the request once; a retry with the same Idempotency-Key answers the
    request it made. Raises :class:`ReportNotFound`, :class:`IdempotencyConflict` or
    :class:`~reporting.domain.reporter_requests.RequestRefused`."""
    return await once_per_key(
        lambda: _ask_once(command, uow, reopen_window, now, new_id), command.idempotency_key
    )


async def _ask_once(
    command: AskAboutReport,
    uow: AbstractReportingUnitOfWork,
    reopen_window: timedelta,
    now: Callable[[], datetime],
    new_id: Callable[[], str],
) -> Asked:
    fingerprint = command.fingerprint()
    async with uow:
        report, seen = await own_report_and_request(
            uow, command.report_id, command.reporter_id, command.idempotency_key, fingerprint
        )
        if seen is not None:
            return Asked(seen, replayed=True)
        earlier = await uow.requests.of_report(report.id)
        at = now()
        work_order_id = check_request(
            report, command.action, earlier, at=at, reopen_window=reopen_window
        )
        request = ReporterRequest(
            id=new_id(),
            report_id=report.id,
            reporter_id=report.reporter_id,
            work_order_id=work_order_id,
            action=command.action,
            text=command.text,
            score=command.score,
            requested_at=at,
            idempotency_key=command.idempotency_key,
            fingerprint=fingerprint,
        )
        await uow.requests.add(request)
        # The report's own stream: 1 was its submission, each request the next.
        await uow.outbox.add(
            _event_of(request),
            subject=report.id,
            sequence=len(earlier) + 2,
            district=report.district,
        )
        await uow.commit()
    _log.info(
        "report.request_forwarded",
        report_id=report.id,
        work_order_id=work_order_id,
        action=command.action.value,
    )
    return Asked(request, replayed=False)


async def own_report_and_request(
    uow: AbstractReportingUnitOfWork,
    report_id: str,
    reporter_id: str,
    idempotency_key: str | None,
    fingerprint: str,
) -> tuple[Report, ReporterRequest | None]:
    """The reporter's own report, locked (else :class:`ReportNotFound`), and the request
    already made with ``idempotency_key`` if there is one (else None); a key used before for a
    different request raises :class:`IdempotencyConflict`."""
    report = await uow.reports.get(report_id, for_update=True)
    if report is None or report.reporter_id != reporter_id:
        raise ReportNotFound(report_id)
    if not idempotency_key:
        return report, None
    seen = await uow.requests.by_key(reporter_id, idempotency_key)
    if seen is not None and seen.fingerprint != fingerprint:
        raise IdempotencyConflict("this Idempotency-Key was already used for a different request")
    return report, seen


def _event_of(request: ReporterRequest) -> EventData:
    about = {
        "report_id": request.report_id,
        "reporter_id": request.reporter_id,
        "work_order_id": request.work_order_id,
    }
    if request.action is RequestAction.RATE:
        return ReportRated(
            **about, score=request.score, comment=request.text, rated_at=request.requested_at
        )
    return ReportReopenRequested(**about, reason=request.text, requested_at=request.requested_at)
