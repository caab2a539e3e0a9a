"""Per-reporter limits on submitting: how many reports an hour and a day, and the same problem
reported twice — the same category within a few metres and minutes — answered with the
earlier report instead of filing a second one."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from reporting.domain.errors import ReportError

EARTH_RADIUS_M = 6_371_008.8
WITHDRAWN = "withdrawn"
"""The status of a report its reporter took back: it counts against the limits, but a new
report of the same problem is not answered with it."""
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class SubmissionLimits:
    """A district's limits for one reporter; the windows are rolling (the last hour, the last
    24 hours), not calendar hours or days."""

    per_hour: int = 30
    per_day: int = 100
    duplicate_radius_m: float = 30.0
    duplicate_window: timedelta = timedelta(minutes=10)

    @property
    def lookback(self) -> timedelta:
        """How far back a reporter's earlier reports matter to either rule."""
        return max(DAY, self.duplicate_window)


@dataclass(frozen=True)
class EarlierReport:
    """What the limits need to know of one of the reporter's recent reports."""

    id: str
    category: str
    lat: float
    lon: float
    submitted_at: datetime
    status: str = "submitted"

    @property
    def withdrawn(self) -> bool:
        return self.status == WITHDRAWN


class TooManyReports(ReportError):
    """The reporter reached a limit; ``retry_after`` is when the oldest report counted in it
    leaves the window."""

    def __init__(self, *, limit: int, window: str, retry_after: timedelta) -> None:
        self.limit = limit
        self.window = window
        self.retry_after = retry_after
        super().__init__(
            f"at most {limit} reports {window} may be submitted; the next one can be "
            f"submitted in {math.ceil(retry_after.total_seconds())} s"
        )


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine; ample for tens of metres)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def same_problem(
    limits: SubmissionLimits,
    earlier: Sequence[EarlierReport],
    *,
    category: str,
    lat: float,
    lon: float,
    now: datetime,
) -> EarlierReport | None:
    """The newest earlier report of the same category within the radius and the window (not
    one the reporter withdrew)."""
    since = now - limits.duplicate_window
    candidates = [
        report
        for report in earlier
        if report.category == category
        and not report.withdrawn
        and report.submitted_at >= since
        and distance_m(report.lat, report.lon, lat, lon) <= limits.duplicate_radius_m
    ]
    return max(candidates, key=lambda r: (r.submitted_at, r.id), default=None)


def check_rate(
    limits: SubmissionLimits, earlier: Sequence[EarlierReport], *, now: datetime
) -> None:
    """Raise :class:`TooManyReports` if one more report would exceed a limit."""
    for limit, window, words in (
        (limits.per_hour, HOUR, "an hour"),
        (limits.per_day, DAY, "a day"),
    ):
        counted = sorted(r.submitted_at for r in earlier if r.submitted_at > now - window)
        if len(counted) >= limit:
            # The report that frees a place is the one the window loses first.
            frees_at = counted[len(counted) - limit] + window
            raise TooManyReports(
                limit=limit, window=words, retry_after=max(frees_at - now, timedelta(seconds=1))
            )
