"""The submission limits as pure rules: counting windows, when the next report is accepted,
and what counts as the same problem."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reporting.domain.limits import (
    EarlierReport,
    SubmissionLimits,
    TooManyReports,
    check_rate,
    distance_m,
    same_problem,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LIMITS = SubmissionLimits(per_hour=3, per_day=5)


def earlier(minutes_ago: float, *, category: str = "0101", north_m: float = 0.0) -> EarlierReport:
    return EarlierReport(
        id=f"r-{minutes_ago}-{category}-{north_m}",
        category=category,
        lat=35.55 + north_m / 111_195.0,
        lon=116.83,
        submitted_at=NOW - timedelta(minutes=minutes_ago),
    )


def test_under_the_limits_nothing_is_raised() -> None:
    check_rate(LIMITS, [earlier(10), earlier(20), earlier(90), earlier(300)], now=NOW)


def test_the_hourly_limit_frees_a_place_when_its_oldest_report_leaves_the_hour() -> None:
    with pytest.raises(TooManyReports) as raised:
        check_rate(LIMITS, [earlier(50), earlier(20), earlier(5), earlier(600)], now=NOW)
    assert raised.value.window == "an hour"
    assert raised.value.retry_after == timedelta(minutes=10)


def test_the_daily_limit_counts_the_last_24_hours() -> None:
    reports = [earlier(m) for m in (100, 200, 300, 23 * 60, 23 * 60 + 30)]
    with pytest.raises(TooManyReports) as raised:
        check_rate(LIMITS, reports, now=NOW)
    assert raised.value.window == "a day"
    assert raised.value.retry_after == timedelta(minutes=30)
    check_rate(LIMITS, [*reports[:-1], earlier(24 * 60 + 1)], now=NOW)


def test_the_same_problem_is_the_newest_report_of_the_category_in_radius_and_window() -> None:
    reports = [
        earlier(8, north_m=10),
        earlier(3, north_m=25),
        earlier(2, north_m=40),
        earlier(1, category="0102"),
        earlier(11),
    ]
    found = same_problem(LIMITS, reports, category="0101", lat=35.55, lon=116.83, now=NOW)
    assert found is reports[1]
    assert same_problem(LIMITS, reports, category="0103", lat=35.55, lon=116.83, now=NOW) is None


def test_a_withdrawn_report_is_not_the_same_problem_but_counts_against_the_limits() -> None:
    withdrawn = EarlierReport("r-w", "0101", 35.55, 116.83, NOW - timedelta(minutes=1), "withdrawn")
    found = same_problem(LIMITS, [withdrawn], category="0101", lat=35.55, lon=116.83, now=NOW)
    assert found is None
    with pytest.raises(TooManyReports):
        check_rate(LIMITS, [withdrawn, earlier(2), earlier(3)], now=NOW)


def test_distance_is_metres_on_the_ground() -> None:
    assert distance_m(35.55, 116.83, 35.55 + 30 / 111_195.0, 116.83) == pytest.approx(30, abs=0.1)
    assert distance_m(35.55, 116.83, 35.55, 116.83 + 0.001) == pytest.approx(90.6, abs=0.5)
