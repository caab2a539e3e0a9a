"""综合评价 and the open-order levels: what ``GET /v1/stats`` answers and what the work-order
gauges show, from the aggregates a :class:`StatisticsStore` computes in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dispatch.domain.statistics import Figures, OpenOrders, Period, Tally


@dataclass(frozen=True)
class StatsScope:
    """Which orders count: those of ``districts`` (what the caller's token covers, or the one
    district asked for), narrowed to a street, a grid or the orders now assigned to a
    department."""

    districts: Sequence[str]
    street: str | None = None
    grid_id: str | None = None
    department: str | None = None

    @property
    def narrowed(self) -> bool:
        """Narrowed below the district: reports refused at triage have no street, grid or
        assignee, so they count only when the scope is whole districts."""
        return any(v is not None for v in (self.street, self.grid_id, self.department))


class StatisticsStore(Protocol):
    async def tallies(
        self, scope: StatsScope, period: Period, cutoff: datetime
    ) -> dict[str, Tally]:
        """Per district of the scope (absent when it has nothing): every count of
        :class:`~dispatch.domain.statistics.Tally` but ``open_now`` and ``overdue_now``."""
        ...

    async def open_orders(self, scope: StatsScope | None, now: datetime) -> list[OpenOrders]:
        """Open orders now per district, category group and state (of the scope, or of every
        district), with how many are overdue."""
        ...


@dataclass(frozen=True)
class Statistics:
    period: Period
    cutoff: datetime
    scope: StatsScope
    total: Figures
    districts: list[tuple[str, Figures]]
    """Each district of the scope, in code order, with its figures (zeros when it has none)."""


async def statistics(
    scope: StatsScope, period: Period, store: StatisticsStore, *, now: datetime
) -> Statistics:
    cutoff = period.cutoff(now)
    tallies = await store.tallies(scope, period, cutoff)
    for row in await store.open_orders(scope, now):
        now_open = Tally(open_now=row.count, overdue_now=row.overdue)
        tallies[row.district] = tallies.get(row.district, Tally()) + now_open
    districts = sorted(set(scope.districts))
    per_district = [tallies.get(district, Tally()) for district in districts]
    total = sum(per_district, Tally())
    return Statistics(
        period=period,
        cutoff=cutoff,
        scope=scope,
        total=Figures.of(total),
        districts=[
            (district, Figures.of(tally))
            for district, tally in zip(districts, per_district, strict=True)
        ],
    )
