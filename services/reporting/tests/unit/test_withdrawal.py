"""撤回 on the report: allowed until it is accepted as a case, final on the report, and what the
report shows of its work order's later steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reporting.domain.progress import Progress, Step
from reporting.domain.reporter_requests import RequestRefused
from reporting.domain.reports import Report, ReportStatus
from reporting.domain.withdrawal import WithdrawReport, already_withdrawn

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)


def report(status: ReportStatus = ReportStatus.SUBMITTED) -> Report:
    return Report(
        "rep-1", "rider-1", "370812", "0101", 35.55, 116.83, "楼道堆放杂物", T0, T0, status
    )


def step(kind: Step, sequence: int, *, order: str = "wo-1") -> Progress:
    return Progress(kind, order, sequence, LATER + timedelta(minutes=sequence))


@pytest.mark.parametrize("status", [ReportStatus.SUBMITTED, ReportStatus.PENDING_REVIEW])
def test_a_report_not_yet_accepted_is_withdrawn(status: ReportStatus) -> None:
    withdrawn = report(status=status)
    assert already_withdrawn(withdrawn) is False
    entry = withdrawn.withdraw(at=LATER, reason="拍错了")
    assert (withdrawn.status, withdrawn.status_label, withdrawn.updated_at) == (
        ReportStatus.WITHDRAWN,
        "已撤回",
        LATER,
    )
    assert (entry.step, entry.label, entry.detail, entry.at) == (
        "withdrawn",
        "撤回",
        "拍错了",
        LATER,
    )
    assert already_withdrawn(withdrawn) is True


@pytest.mark.parametrize(
    "status",
    sorted(
        set(ReportStatus)
        - {ReportStatus.SUBMITTED, ReportStatus.PENDING_REVIEW}
        - {ReportStatus.WITHDRAWN}
    ),
)
def test_a_report_past_triage_is_refused_with_its_status(status: ReportStatus) -> None:
    with pytest.raises(RequestRefused) as refused:
        already_withdrawn(report(status=status))
    assert refused.value.status is status


def test_the_steps_up_to_the_void_leave_it_withdrawn() -> None:
    withdrawn = report()
    withdrawn.withdraw(at=LATER, reason="")
    for sequence, kind in enumerate([Step.FILED, Step.DISPATCHED, Step.VOIDED], start=1):
        assert withdrawn.follow(step(kind, sequence)) is True
    assert (withdrawn.status, withdrawn.work_order_state) == (ReportStatus.WITHDRAWN, "voided")


def test_a_case_that_went_on_shows_its_status_again() -> None:
    withdrawn = report()
    withdrawn.withdraw(at=LATER, reason="")
    for sequence, kind in enumerate([Step.FILED, Step.DISPATCHED, Step.CLAIMED], start=1):
        withdrawn.follow(step(kind, sequence))
    assert withdrawn.status is ReportStatus.CLAIMED


def test_a_merge_after_the_withdrawal_shows_once_and_is_not_followed() -> None:
    withdrawn = report()
    withdrawn.withdraw(at=LATER, reason="")
    assert withdrawn.follow(step(Step.MERGED, 3, order="wo-other")) is True
    assert withdrawn.follow(step(Step.MERGED, 3, order="wo-other")) is False
    assert (withdrawn.status, withdrawn.work_order_id) == (ReportStatus.WITHDRAWN, None)


def test_the_fingerprint_tells_a_retry_from_another_request() -> None:
    first = WithdrawReport("rep-1", "rider-1", "拍错了", "k-1")
    assert first.fingerprint() == WithdrawReport("rep-1", "rider-1", "拍错了", "k-2").fingerprint()
    assert first.fingerprint() != WithdrawReport("rep-1", "rider-1", "别的", "k-1").fingerprint()
    assert first.fingerprint() != WithdrawReport("rep-2", "rider-1", "拍错了", "k-1").fingerprint()
