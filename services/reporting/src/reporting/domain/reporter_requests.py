"""What a reporter may ask of their report's closed work order: rate it (评价, once) or have it
handled again (发回重办, within a window of the closing). Reporting checks what it can see and
forwards the request to dispatch, which has the last word. (A withdrawal before triage, 撤回,
is stored as a request too: :mod:`reporting.domain.withdrawal`.)"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from reporting.domain.errors import ReportError
from reporting.domain.reports import Report, ReportStatus


class RequestAction(StrEnum):
    RATE = "rate"
    REOPEN = "reopen"
    WITHDRAW = "withdraw"


_DONE = {
    RequestAction.RATE: "rated",
    RequestAction.REOPEN: "reopened",
    RequestAction.WITHDRAW: "withdrawn",
}


class RequestRefused(ReportError):
    """The report's state does not allow the request now (answered 409 with the status)."""

    def __init__(self, report: Report, detail: str) -> None:
        self.status = report.status
        self.status_label = report.status_label
        super().__init__(detail)


@dataclass(frozen=True)
class AskAboutReport:
    """Command: the reporter rates their report's work order or asks for it to be reopened."""

    report_id: str
    reporter_id: str
    action: RequestAction
    text: str = ""
    """The rating's comment, or why the order must be reopened."""
    score: int | None = None
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        body = json.dumps(
            [self.action.value, self.report_id, self.score, self.text], ensure_ascii=False
        )
        return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class ReporterRequest:
    """A request as it was accepted and forwarded."""

    id: str
    report_id: str
    reporter_id: str
    work_order_id: str | None
    """None for a withdrawal of a report not yet filed as (or merged into) an order."""
    action: RequestAction
    text: str
    score: int | None
    requested_at: datetime
    idempotency_key: str | None = None
    fingerprint: str | None = None


def check_request(
    report: Report,
    action: RequestAction,
    earlier: Sequence[ReporterRequest],
    *,
    at: datetime,
    reopen_window: timedelta,
) -> str:
    """The work order the request concerns, or :class:`RequestRefused`: only a closed order
    is rated or reopened; a report is rated once; once it is rated, or a reopening was asked
    for since the closing, neither may be asked again; reopening only within
    ``reopen_window`` of the closing."""
    closed_at = report.closed_at
    if report.status is not ReportStatus.CLOSED or report.work_order_id is None or not closed_at:
        raise RequestRefused(
            report,
            f"report {report.id} is {report.status.value} ({report.status_label}): it can be "
            f"{_DONE[action]} only once its work order is closed",
        )
    if any(r.action is RequestAction.RATE for r in earlier):
        raise RequestRefused(report, f"report {report.id} has been rated already")
    if any(r.action is RequestAction.REOPEN and r.requested_at >= closed_at for r in earlier):
        raise RequestRefused(
            report, f"a reopening of report {report.id} was asked for already since it closed"
        )
    if action is RequestAction.REOPEN and at - closed_at > reopen_window:
        raise RequestRefused(
            report,
            f"report {report.id} closed at {closed_at.isoformat(timespec='minutes')}: a work "
            f"order may be reopened within {reopen_window.days} days of closing",
        )
    return report.work_order_id
