"""撤回: a reporter withdraws their own report before it is accepted as a case — while it is
submitted (not yet triaged, as far as reporting knows) or pending a supervisor's review.

The withdrawal is final on the report at once (status ``withdrawn``) and forwarded to dispatch,
which voids the report's order if nobody else needs it and nobody has claimed it, detaches the
report from a case it was merged into, or lets a claimed case go on (then the report follows
it again, so the reporter sees what happens). Withdrawing a withdrawn report answers the same.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from reporting.domain.reporter_requests import RequestAction, RequestRefused
from reporting.domain.reports import WITHDRAWABLE, Report, ReportStatus


@dataclass(frozen=True)
class WithdrawReport:
    """Command: the reporter withdraws their report (撤回)."""

    report_id: str
    reporter_id: str
    reason: str = ""
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        body = json.dumps(
            [RequestAction.WITHDRAW.value, self.report_id, self.reason], ensure_ascii=False
        )
        return hashlib.sha256(body.encode()).hexdigest()


def already_withdrawn(report: Report) -> bool:
    """True if the report shows its withdrawal already (answered again, unchanged); False if
    it may be withdrawn now; :class:`RequestRefused` once it was accepted as a case (or
    rejected, merged…)."""
    if report.status is ReportStatus.WITHDRAWN:
        return True
    if report.status not in WITHDRAWABLE:
        raise RequestRefused(
            report,
            f"report {report.id} is {report.status.value} ({report.status_label}): a report "
            "can be withdrawn only until it is accepted as a case",
        )
    return False
