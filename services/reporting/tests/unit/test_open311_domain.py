"""The Open311 rules in the reporting domain: which report statuses read open or closed, and
the window of a request list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reporting.domain.open311 import (
    MAX_RESULTS,
    Open311Status,
    Refusal,
    open311_status,
    request_query,
    served_jurisdiction,
)
from reporting.domain.reports import ReportStatus

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CLOSED = {
    ReportStatus.CLOSED,
    ReportStatus.RATED,
    ReportStatus.REJECTED,
    ReportStatus.VOIDED,
    ReportStatus.WITHDRAWN,
}


@pytest.mark.parametrize("status", list(ReportStatus))
def test_every_report_status_reads_open_or_closed(status: ReportStatus) -> None:
    expected = Open311Status.CLOSED if status in CLOSED else Open311Status.OPEN
    assert open311_status(status) is expected


def test_merged_reads_open_and_withdrawn_closed() -> None:
    assert open311_status(ReportStatus.MERGED) is Open311Status.OPEN
    assert open311_status(ReportStatus.WITHDRAWN) is Open311Status.CLOSED


def test_without_dates_the_window_is_the_last_90_days() -> None:
    query = request_query("370812", {}, now=NOW)
    assert (query.start, query.end) == (NOW - timedelta(days=90), NOW)
    assert query.limit == MAX_RESULTS == 1000


def test_one_date_opens_a_90_day_window_from_it() -> None:
    start = request_query("370812", {"start_date": "2026-01-01T00:00:00+08:00"}, now=NOW)
    assert start.start == datetime(2025, 12, 31, 16, 0, tzinfo=UTC)
    assert start.end is not None and start.end - start.start == timedelta(days=90)
    naive = request_query("370812", {"end_date": "2026-03-01T00:00:00"}, now=NOW)
    assert naive.end == datetime(2026, 3, 1, tzinfo=UTC)


def test_ids_override_the_other_filters() -> None:
    query = request_query("370812", {"service_request_id": "a, b,a", "status": "bogus"}, now=NOW)
    assert query.ids == ("a", "b") and query.status is None and query.start is None


def test_the_jurisdiction_is_needed_only_with_several_districts() -> None:
    assert served_jurisdiction(None, ["370812"]) == "370812"
    with pytest.raises(Refusal) as several:
        served_jurisdiction(None, ["370811", "370812"])
    assert several.value.status == 400
    with pytest.raises(Refusal) as unknown:
        served_jurisdiction("110101", ["370812"])
    assert unknown.value.status == 404
