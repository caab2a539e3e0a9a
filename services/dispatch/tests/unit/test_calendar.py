"""Working-time arithmetic on a district's calendar: lunch breaks, weekends, holidays and the
adjusted working days of the 2026 schedule (国务院办公厅, 2025-11-04)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.domain.calendar import (
    SHANGHAI,
    CalendarError,
    LimitUnit,
    TimeLimit,
    WorkingCalendar,
    calendar_for_year,
)

HOLIDAYS_2026 = [
    *(date(2026, 1, d) for d in (1, 2, 3)),
    *(date(2026, 2, d) for d in range(15, 24)),
    *(date(2026, 4, d) for d in (4, 5, 6)),
    *(date(2026, 5, d) for d in range(1, 6)),
    *(date(2026, 6, d) for d in (19, 20, 21)),
    *(date(2026, 9, d) for d in (25, 26, 27)),
    *(date(2026, 10, d) for d in range(1, 8)),
]
WORKDAYS_2026 = [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9),
                 date(2026, 9, 20), date(2026, 10, 10)]  # fmt: skip
CALENDAR = calendar_for_year(holidays=HOLIDAYS_2026, workdays=WORKDAYS_2026)
FOUR_WORKING_HOURS = TimeLimit(4, LimitUnit.WORKING_HOURS)


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("filed", "due", "why"),
    [
        (local(2026, 11, 30, 9), local(2026, 11, 30, 14, 30), "the lunch break does not count"),
        (local(2026, 11, 30, 11, 30), local(2026, 11, 30, 17), "half an hour, then 3.5 h"),
        (local(2026, 11, 27, 16, 30), local(2026, 11, 30, 11, 30), "Friday into Monday"),
        (local(2026, 4, 3, 16, 30), local(2026, 4, 7, 11, 30), "before Qingming (4–6 April)"),
        (local(2026, 9, 30, 15), local(2026, 10, 8, 10), "across the National Day week"),
        (local(2026, 10, 9, 16, 30), local(2026, 10, 10, 11, 30), "Saturday 10 October is worked"),
        (local(2026, 11, 28, 10), local(2026, 11, 30, 14), "filed on a Saturday starts Monday"),
        (local(2026, 11, 30, 12, 15), local(2026, 11, 30, 17, 30), "filed over lunch"),
        (local(2026, 11, 30, 20), local(2026, 12, 1, 14), "filed in the evening"),
    ],
)
def test_four_working_hours_land_on_the_right_minute(
    filed: datetime, due: datetime, why: str
) -> None:
    assert CALENDAR.deadline(filed, FOUR_WORKING_HOURS) == due, why


def test_a_working_day_is_one_days_worth_of_working_time() -> None:
    assert CALENDAR.working_day_length == timedelta(hours=7, minutes=30)
    one_day = TimeLimit(1, LimitUnit.WORKING_DAYS)
    assert CALENDAR.deadline(local(2026, 11, 27, 15), one_day) == local(2026, 11, 30, 15)


def test_natural_limits_ignore_the_calendar() -> None:
    filed = local(2026, 9, 30, 15)
    assert CALENDAR.deadline(filed, TimeLimit(2, LimitUnit.HOURS)) == local(2026, 9, 30, 17)
    assert CALENDAR.deadline(filed, TimeLimit(7, LimitUnit.DAYS)) == local(2026, 10, 7, 15)
    assert CALENDAR.deadline(filed, TimeLimit(30, LimitUnit.MINUTES)) == local(2026, 9, 30, 15, 30)


def test_the_warning_point_counts_as_the_limit_counts() -> None:
    filed = local(2026, 11, 27, 16, 30)  # Friday
    warn = CALENDAR.point_in(filed, FOUR_WORKING_HOURS, 0.8)  # 3 h 12 min of working time
    assert warn == local(2026, 11, 30, 10, 42)
    natural = CALENDAR.point_in(filed, TimeLimit(10, LimitUnit.HOURS), 0.8)
    assert natural == filed + timedelta(hours=8)


def test_deadlines_come_back_in_the_moments_timezone() -> None:
    filed = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    due = CALENDAR.deadline(filed, FOUR_WORKING_HOURS)
    assert due.tzinfo is UTC and due == local(2026, 11, 30, 14, 30)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"periods": ()}, "at least one"),
        ({"periods": ((time(12), time(9)),)}, "ends before it starts"),
        ({"periods": ((time(8), time(12)), (time(11), time(13)))}, "must not overlap"),
        ({"holidays": frozenset({date(2026, 1, 4)}), "workdays": frozenset({date(2026, 1, 4)})},
         "both a holiday"),
    ],
)  # fmt: skip
def test_unusable_calendars_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        WorkingCalendar(**kwargs)  # type: ignore[arg-type]


def test_a_calendar_without_working_days_says_so() -> None:
    never = WorkingCalendar(weekend=frozenset(range(7)))
    with pytest.raises(CalendarError, match="no working time"):
        never.deadline(local(2026, 1, 5, 9), FOUR_WORKING_HOURS)


def test_limits_and_moments_are_checked() -> None:
    with pytest.raises(CalendarError, match="positive"):
        TimeLimit(0, LimitUnit.HOURS)
    with pytest.raises(CalendarError, match="timezone"):
        CALENDAR.deadline(datetime(2026, 1, 5, 9), FOUR_WORKING_HOURS)


moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)
durations = st.integers(min_value=0, max_value=60 * 24 * 30).map(lambda m: timedelta(minutes=m))


@settings(max_examples=300, deadline=None)
@given(start=moments, duration=durations)
def test_adding_working_time_adds_exactly_that_much(start: datetime, duration: timedelta) -> None:
    end = CALENDAR.add_working_time(start, duration)
    assert end >= start
    assert CALENDAR.working_time_between(start, end) == duration


@settings(max_examples=300, deadline=None)
@given(start=moments, first=durations, second=durations)
def test_working_time_adds_up(start: datetime, first: timedelta, second: timedelta) -> None:
    stepwise = CALENDAR.add_working_time(CALENDAR.add_working_time(start, first), second)
    at_once = CALENDAR.add_working_time(start, first + second)
    if first and second:
        assert stepwise == at_once
    assert at_once >= CALENDAR.add_working_time(start, first)


@settings(max_examples=300, deadline=None)
@given(start=moments, duration=durations.filter(bool))
def test_a_deadline_falls_inside_working_time(start: datetime, duration: timedelta) -> None:
    end = CALENDAR.add_working_time(start, duration).astimezone(SHANGHAI)
    assert CALENDAR.is_working_day(end.date())
    assert any(opens < end.time() <= closes for opens, closes in CALENDAR.periods)
