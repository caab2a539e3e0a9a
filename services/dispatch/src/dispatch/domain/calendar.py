"""Working time (工作时) and time limits (处置时限) on a district's working calendar, pure.

A district works in periods each day (e.g. 08:30–12:00 and 13:30–17:30, Asia/Shanghai), on
weekdays that are not public holidays, plus the adjusted working days (调休上班) that fall on a
weekend. A limit in working hours counts only the minutes inside those periods; a working day is
one day's worth of working time (7.5 h on the default calendar), so "1 working day" filed at 15:00
on a Friday ends at 15:00 on Monday. A limit in natural time is plain elapsed time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_PERIODS: tuple[tuple[time, time], ...] = (
    (time(8, 30), time(12, 0)),
    (time(13, 30), time(17, 30)),
)
_SEARCH_DAYS = 3660
"""How far ahead a deadline may fall (ten years): a calendar with no working day is an error."""


class CalendarError(ValueError):
    """A calendar that cannot be used, or a limit it cannot meet."""


class LimitUnit(StrEnum):
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"
    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"

    @property
    def counts_working_time(self) -> bool:
        return self in {LimitUnit.WORKING_HOURS, LimitUnit.WORKING_DAYS}


@dataclass(frozen=True)
class TimeLimit:
    """A time limit as a category states it: ``4 working_hours``, ``7 days``…"""

    amount: float
    unit: LimitUnit

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise CalendarError(f"a time limit must be positive, got {self.amount} {self.unit}")

    def describe(self) -> str:
        names = {
            LimitUnit.MINUTES: "分钟",
            LimitUnit.HOURS: "小时",
            LimitUnit.DAYS: "自然日",
            LimitUnit.WORKING_HOURS: "工作时",
            LimitUnit.WORKING_DAYS: "工作日",
        }
        amount = int(self.amount) if float(self.amount).is_integer() else self.amount
        return f"{amount} {names[self.unit]}"


@dataclass(frozen=True)
class WorkingCalendar:
    periods: tuple[tuple[time, time], ...] = DEFAULT_PERIODS
    """Working periods of a working day, in local time, ordered and not overlapping."""
    weekend: frozenset[int] = frozenset({5, 6})
    """Days of the week off (Monday is 0)."""
    holidays: frozenset[date] = frozenset()
    """Days off although they are weekdays (法定节假日)."""
    workdays: frozenset[date] = frozenset()
    """Days worked although they are weekend days (调休上班)."""
    timezone: ZoneInfo = field(default=SHANGHAI)

    def __post_init__(self) -> None:
        if not self.periods:
            raise CalendarError("a working calendar needs at least one working period a day")
        previous_end: time | None = None
        for start, end in self.periods:
            if not start < end:
                raise CalendarError(
                    f"working period {start:%H:%M}–{end:%H:%M} ends before it starts"
                )
            if previous_end is not None and start < previous_end:
                raise CalendarError("working periods must be in order and must not overlap")
            previous_end = end
        both = self.holidays & self.workdays
        if both:
            raise CalendarError(
                f"{min(both).isoformat()} is both a holiday and an adjusted working day"
            )

    @property
    def working_day_length(self) -> timedelta:
        return sum((_between(start, end) for start, end in self.periods), start=timedelta())

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() not in self.weekend and day not in self.holidays

    def deadline(self, start: datetime, limit: TimeLimit) -> datetime:
        """When a limit that starts at ``start`` runs out (in UTC)."""
        _require_aware(start)
        if not limit.unit.counts_working_time:
            return start + _natural(limit)
        return self.add_working_time(start, self._working(limit))

    def point_in(self, start: datetime, limit: TimeLimit, share: float) -> datetime:
        """The moment ``share`` (e.g. 0.8 for the warning) of the limit has run, counted the
        way the limit counts."""
        if not 0 < share <= 1:
            raise CalendarError("a share of a time limit lies in (0, 1]")
        _require_aware(start)
        if not limit.unit.counts_working_time:
            return start + _natural(limit) * share
        return self.add_working_time(start, self._working(limit) * share)

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """``start`` plus ``duration`` of working time (in UTC). A zero duration that starts
        outside working time still ends at ``start``."""
        _require_aware(start)
        if duration < timedelta(0):
            raise CalendarError("working time to add must not be negative")
        remaining = duration
        if remaining == timedelta(0):
            return start
        for period_start, period_end in self._periods_from(start):
            usable = period_end - period_start
            if remaining <= usable:
                return (period_start + remaining).astimezone(start.tzinfo)
            remaining -= usable
        raise CalendarError("no working time in the next ten years: check the calendar")

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """How much working time lies between two moments (zero if ``end`` is not later)."""
        _require_aware(start)
        _require_aware(end)
        total = timedelta(0)
        if end <= start:
            return total
        for period_start, period_end in self._periods_from(start):
            if period_start >= end:
                break
            total += min(period_end, end) - period_start
        return total

    def _working(self, limit: TimeLimit) -> timedelta:
        if limit.unit is LimitUnit.WORKING_DAYS:
            return self.working_day_length * limit.amount
        return timedelta(hours=limit.amount)

    def _periods_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working periods (aware local datetimes) from ``start`` on, the first clipped."""
        local = start.astimezone(self.timezone)
        day = local.date()
        for _ in range(_SEARCH_DAYS):
            if self.is_working_day(day):
                for period_start, period_end in self.periods:
                    opens = datetime.combine(day, period_start, self.timezone)
                    closes = datetime.combine(day, period_end, self.timezone)
                    if closes <= local:
                        continue
                    yield max(opens, local), closes
            day += timedelta(days=1)


def calendar_for_year(
    *,
    holidays: Iterable[date] = (),
    workdays: Iterable[date] = (),
    periods: tuple[tuple[time, time], ...] = DEFAULT_PERIODS,
) -> WorkingCalendar:
    return WorkingCalendar(
        periods=periods, holidays=frozenset(holidays), workdays=frozenset(workdays)
    )


def _between(start: time, end: time) -> timedelta:
    return datetime.combine(date.min, end) - datetime.combine(date.min, start)


def _natural(limit: TimeLimit) -> timedelta:
    if limit.unit is LimitUnit.MINUTES:
        return timedelta(minutes=limit.amount)
    if limit.unit is LimitUnit.HOURS:
        return timedelta(hours=limit.amount)
    return timedelta(days=limit.amount)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise CalendarError("a moment on the calendar needs a timezone")
