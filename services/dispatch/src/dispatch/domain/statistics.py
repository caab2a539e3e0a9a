"""综合评价: the figures a district's handling of reports is judged by, pure.

The database counts (``Tally``: one row per district, from SQL aggregates); this module fixes
the statistics period, adds tallies up and turns them into figures (``Figures``): counts, the
rates over 应结案数 and the average durations. The definitions, after the 数字城管 evaluation
practice (结案率 = 结案数 / 应结案数, 按期结案率 = 按期结案数 / 应结案数, 返工率 = 返工数 /
应结案数), are stated in full in docs/workflow.md ("综合评价") and in ``GET /v1/stats``.

The period is a run of whole Asia/Shanghai days, ``from`` and ``to`` both included; the
cut-off of an order's life is the end of the period or now, whichever comes first, so a past
month's figures do not change as later events happen.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatch.domain.calendar import SHANGHAI
from dispatch.domain.work_orders import OPEN_STATES, WorkOrderState

MAX_SPAN_DAYS = 366
"""The longest period one request may ask for (a leap year)."""

SATISFIED_FROM = 4
"""A rating (1–5) of at least this counts as satisfied (满意)."""

CLOSED_STATES = frozenset({WorkOrderState.CLOSED, WorkOrderState.RATED})
"""结案: verified and closed, rated or not (a reopened order is open again until it closes)."""

TIMED_STATES = OPEN_STATES - {WorkOrderState.PENDING_REVIEW, WorkOrderState.RESOLVED}
"""Open states whose handling clock runs — what the escalation scanner announces overdue; an
order waiting for review has no clock, a resolved one waits for the supervisor's check."""


class PeriodError(ValueError):
    """A period that cannot be used; ``field`` names the query parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_day(text: str | None, field: str) -> date | None:
    """A day written ``YYYY-MM-DD`` (nothing else: no timestamps, no week dates)."""
    if text is None:
        return None
    try:
        if len(text) != 10:  # strptime takes 2025-3-1 too
            raise ValueError(text)
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise PeriodError(field, f"{text!r} is not a day (YYYY-MM-DD)") from None


@dataclass(frozen=True)
class Period:
    """Whole days ``first_day`` to ``last_day`` (both included) in ``timezone``; as moments,
    ``start`` (included) to ``end`` (excluded)."""

    first_day: date
    last_day: date
    timezone: ZoneInfo = SHANGHAI

    def __post_init__(self) -> None:
        if self.first_day > self.last_day:
            raise PeriodError("from", "from must not be after to")
        if self.days > MAX_SPAN_DAYS:
            raise PeriodError(
                "to", f"a period spans at most {MAX_SPAN_DAYS} days, this one {self.days}"
            )

    @classmethod
    def of(cls, first_day: date | None, last_day: date | None, *, now: datetime) -> Period:
        """The period asked for; ``to`` defaults to today, ``from`` to the first day of
        ``to``'s month (the month so far)."""
        last = last_day or now.astimezone(SHANGHAI).date()
        return cls(first_day or last.replace(day=1), last)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(), self.timezone)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time(), self.timezone)

    def cutoff(self, now: datetime) -> datetime:
        """Where the period's orders are looked at: its end, or now if it has not ended."""
        return min(self.end, now)


@dataclass(frozen=True)
class Tally:
    """What the database counts for one district (or, added up, for several)."""

    created: int = 0
    """Reports that became a work order in the period (filed, or sent to review)."""
    merged: int = 0
    """并单: reports attached to an open order in the period."""
    rejected_at_triage: int = 0
    """Reports refused at triage in the period (outside the district's grids, wrong district,
    unknown or inactive category)."""
    rejected_on_review: int = 0
    """Orders a supervisor refused after review (不予立案) in the period."""
    filed: int = 0
    """立案数: orders that entered ``filed`` in the period — the cohort the rates judge."""
    due: int = 0
    """应结案数: orders of the cohort, not voided, closed by the cut-off or past their deadline."""
    closed: int = 0
    """结案数: orders of the cohort closed (or rated) by the cut-off."""
    closed_on_time: int = 0
    """按期结案数: of those, closed no later than their handling deadline."""
    reworked: int = 0
    """返工数: orders among the due that failed verification at least once."""
    claimed: int = 0
    """Orders of the cohort claimed by the cut-off (签收)."""
    claim_seconds: float = 0.0
    """Their first claim minus their first dispatch, summed."""
    handling_seconds: float = 0.0
    """The closed orders' closing minus their first dispatch, summed."""
    rated: int = 0
    """Orders of the cohort rated by the cut-off."""
    satisfied: int = 0
    """Of those, rated ``SATISFIED_FROM`` or better."""
    open_now: int = 0
    """Orders in an open state now, whenever filed."""
    overdue_now: int = 0
    """Orders in a timed open state whose handling deadline has passed now."""

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


def ratio(part: int, whole: int) -> float | None:
    """``part / whole`` to four decimals; None when there is nothing to judge (``whole`` 0)."""
    return round(part / whole, 4) if whole else None


def average(total: float, count: int) -> float | None:
    """A mean to a tenth; None over nothing."""
    return round(total / count, 1) if count else None


@dataclass(frozen=True)
class Figures:
    """The figures of one district or of the whole scope."""

    reports: int
    """上报数: reports triaged in the period — created + merged + rejected at triage."""
    filed: int
    """立案数."""
    merged: int
    """并单数."""
    rejected: int
    """不予立案数: rejected at triage + rejected on review, in the period."""
    due: int
    """应结案数."""
    closed: int
    """结案数."""
    closed_on_time: int
    """按期结案数."""
    reworked: int
    """返工数."""
    closing_rate: float | None
    """结案率 = 结案数 / 应结案数."""
    on_time_closing_rate: float | None
    """按期结案率 = 按期结案数 / 应结案数."""
    rework_rate: float | None
    """返工率 = 返工数 / 应结案数."""
    claimed: int
    average_claim_seconds: float | None
    """平均签收时长."""
    average_handling_seconds: float | None
    """平均处置时长 (over the closed orders)."""
    rated: int
    satisfied: int
    satisfaction_rate: float | None
    """满意率 = satisfied / rated."""
    open_now: int
    overdue_now: int

    @classmethod
    def of(cls, tally: Tally) -> Figures:
        return cls(
            reports=tally.created + tally.merged + tally.rejected_at_triage,
            filed=tally.filed,
            merged=tally.merged,
            rejected=tally.rejected_at_triage + tally.rejected_on_review,
            due=tally.due,
            closed=tally.closed,
            closed_on_time=tally.closed_on_time,
            reworked=tally.reworked,
            closing_rate=ratio(tally.closed, tally.due),
            on_time_closing_rate=ratio(tally.closed_on_time, tally.due),
            rework_rate=ratio(tally.reworked, tally.due),
            claimed=tally.claimed,
            average_claim_seconds=average(tally.claim_seconds, tally.claimed),
            average_handling_seconds=average(tally.handling_seconds, tally.closed),
            rated=tally.rated,
            satisfied=tally.satisfied,
            satisfaction_rate=ratio(tally.satisfied, tally.rated),
            open_now=tally.open_now,
            overdue_now=tally.overdue_now,
        )


@dataclass(frozen=True)
class OpenOrders:
    """How many orders of a district and category group are in an open ``state`` now, and how
    many of them are past their handling deadline."""

    district: str
    category_group: str
    state: str
    count: int
    overdue: int


@dataclass(frozen=True)
class GridWorkload:
    """How many orders of a grid are open now (在办), and how many of those are overdue (超期):
    in a state whose clock runs (:data:`TIMED_STATES`) and past their handling deadline — as
    ``open_now`` and ``overdue_now`` count them for a district."""

    grid_id: str
    open: int = 0
    overdue: int = 0
