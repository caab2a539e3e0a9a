"""综合评价 and the open-order levels: what ``GET /v1/stats`` answers, what the work-order
gauges show and the open and overdue orders of each grid of a district (``GET
/v1/districts/{district}/grid-load``), from the aggregates a :class:`StatisticsStore` and a
:class:`GridWorkloadStore` compute in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dispatch.domain.grids import GridIndex
from dispatch.domain.statistics import Figures, GridWorkload, OpenOrders, Period, Tally


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


class GridWorkloadStore(Protocol):
    async def grid_workload(
        self, district: str, grid_ids: Sequence[str] | None, now: datetime
    ) -> dict[str, GridWorkload]:
        """Per grid of the district (of ``grid_ids`` only, if given) that has open orders: how
        many, and how many of them are overdue at ``now`` — one grouped query."""
        ...


class StreetUnknown(LookupError):
    """No grid of the district lies in the street asked for."""


async def grid_workload(
    grids: GridIndex, store: GridWorkloadStore, *, street: str | None, now: datetime
) -> list[GridWorkload]:
    """Every grid of the district (of ``street`` if given), in the order of its grid file,
    with its open and overdue orders now; a grid without open orders has zeros.

    Raises :class:`StreetUnknown` when ``street`` names no street of the district's grids."""
    chosen = [grid for grid in grids if street is None or grid.street == street]
    if not chosen:
        raise StreetUnknown(f"no grid of district {grids.district_code} lies in street {street}")
    ids = [grid.grid_id for grid in chosen]
    found = await store.grid_workload(grids.district_code, None if street is None else ids, now)
    return [found.get(grid_id, GridWorkload(grid_id)) for grid_id in ids]
