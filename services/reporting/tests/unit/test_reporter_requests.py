"""When a reporter may rate their report's work order or ask for it to be reopened."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reporting.domain.reporter_requests import (
    AskAboutReport,
    ReporterRequest,
    RequestAction,
    RequestRefused,
    check_request,
)
from reporting.domain.reports import Report, ReportStatus

CLOSED_AT = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
RATE, REOPEN = RequestAction.RATE, RequestAction.REOPEN


def report(status: ReportStatus = ReportStatus.CLOSED, **changes: object) -> Report:
    values: dict[str, object] = {
        "id": "rep-1",
        "reporter_id": "rider-1",
        "district": "370812",
        "category": "0101",
        "lat": 35.55,
        "lon": 116.83,
        "text": "楼道堆放杂物",
        "submitted_at": CLOSED_AT - timedelta(days=1),
        "updated_at": CLOSED_AT,
        "status": status,
        "work_order_id": "wo-1",
        "closed_at": CLOSED_AT if status is ReportStatus.CLOSED else None,
    }
    values.update(changes)
    return Report(**values)  # type: ignore[arg-type]


def earlier(action: RequestAction, at: datetime) -> ReporterRequest:
    return ReporterRequest("q-0", "rep-1", "rider-1", "wo-1", action, "", 5, at)


def check(
    target: Report,
    action: RequestAction,
    *before: ReporterRequest,
    at: datetime = CLOSED_AT + timedelta(hours=1),
) -> str:
    return check_request(target, action, before, at=at, reopen_window=WEEK)


@pytest.mark.parametrize("action", [RATE, REOPEN])
def test_a_closed_report_may_be_rated_or_reopened(action: RequestAction) -> None:
    assert check(report(), action) == "wo-1"


@pytest.mark.parametrize("action", [RATE, REOPEN])
@pytest.mark.parametrize(
    "status",
    [s for s in ReportStatus if s is not ReportStatus.CLOSED],
)
def test_only_a_closed_report_may_be(action: RequestAction, status: ReportStatus) -> None:
    with pytest.raises(RequestRefused) as refused:
        check(report(status), action)
    assert refused.value.status is status
    assert f"report rep-1 is {status.value}" in str(refused.value)
    assert "only once its work order is closed" in str(refused.value)


def test_a_report_is_rated_once() -> None:
    with pytest.raises(RequestRefused, match="rated already") as refused:
        check(report(), RATE, earlier(RATE, CLOSED_AT + timedelta(minutes=5)))
    assert refused.value.status_label == "已结案"


def test_a_rated_report_is_not_reopened() -> None:
    with pytest.raises(RequestRefused, match="rated already"):
        check(report(), REOPEN, earlier(RATE, CLOSED_AT + timedelta(minutes=5)))


@pytest.mark.parametrize("action", [RATE, REOPEN])
def test_after_asking_to_reopen_nothing_more_is_asked_until_it_closes_again(
    action: RequestAction,
) -> None:
    asked = earlier(REOPEN, CLOSED_AT + timedelta(minutes=5))
    with pytest.raises(RequestRefused, match="reopening of report rep-1 was asked for already"):
        check(report(), action, asked)
    closed_again = report(closed_at=CLOSED_AT + timedelta(days=2))
    assert check(closed_again, action, asked, at=CLOSED_AT + timedelta(days=3)) == "wo-1"


def test_reopening_only_within_the_window_of_the_closing() -> None:
    assert check(report(), REOPEN, at=CLOSED_AT + WEEK) == "wo-1"
    with pytest.raises(RequestRefused, match="within 7 days of closing"):
        check(report(), REOPEN, at=CLOSED_AT + WEEK + timedelta(seconds=1))
    assert check(report(), RATE, at=CLOSED_AT + 4 * WEEK) == "wo-1"


def test_the_fingerprint_tells_a_retry_from_another_request() -> None:
    rating = AskAboutReport("rep-1", "rider-1", RATE, text="好", score=5, idempotency_key="k")
    assert rating.fingerprint() == AskAboutReport("rep-1", "x", RATE, "好", 5, "k2").fingerprint()
    for other in (
        AskAboutReport("rep-1", "rider-1", RATE, text="好", score=4),
        AskAboutReport("rep-1", "rider-1", RATE, text="很好", score=5),
        AskAboutReport("rep-2", "rider-1", RATE, text="好", score=5),
        AskAboutReport("rep-1", "rider-1", REOPEN, text="好"),
    ):
        assert other.fingerprint() != rating.fingerprint()
