"""The reports of a benchmark run, decided up front: inside the demo districts' grids, in
categories that are filed at once, and far enough apart that dispatch merges none of them.

A report in a category that needs a supervisor's review is not filed (no ``report_filed``
message until someone accepts it), and a report within its category's merge radius of an open
order of the same category group (大类: ``0401`` and ``0402`` are both ``04``) is merged (并单)
into it: either would change the loop this run times. So the planner takes only categories
without review, goes round the grids of each district, and draws a point again when it lies
within :data:`SPACING_M` of an earlier report of the same category group. Orders left from
earlier runs on a long-lived stack can still attract a merge; the run counts those loops as
merged.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import TypeVar

from dispatch.domain.geometry import distance_m
from dispatch.domain.reference import CategoryRule, ReferenceDataError, parse_catalogue
from gridloop_tools.bench.config import BenchError
from gridloop_tools.cli.simulate.config import SimulationError
from gridloop_tools.cli.simulate.geometry import GridGeometry, random_point_in, read_district_grids
from gridloop_tools.cli.simulate.planning import (
    CATEGORY_TEXTS,
    PlannedReport,
    rider_districts,
    rider_ids,
)
from gridloop_tools.staff import StaffError, districts_root, read_district_file

__all__ = ["SPACING_M", "BenchPlan", "filed_at_once", "plan_bench"]

SPACING_M = 120.0
"""Two reports of one category group are planned at least this far apart: more than any demo
category's merge radius (30–50 m)."""

_CELL_DEGREES = 0.002
"""Side of the cells the spacing check hashes points into (about 220 m by 180 m here)."""


class BenchPlan:
    """The planned reports and the riders who send them (rider → home district)."""

    def __init__(self, reports: list[PlannedReport], riders: dict[str, str]) -> None:
        self.reports = reports
        self.riders = riders

    def __len__(self) -> int:
        return len(self.reports)


def filed_at_once(district: str) -> dict[str, str]:
    """The codes of ``district``'s demo catalogue that are active and filed without review,
    among those the simulator has texts for, each with its category group (what 并单 goes
    by)."""
    try:
        document = read_district_file(districts_root(), district, "categories.json")
        catalogue = parse_catalogue(district, document)
    except (StaffError, ReferenceDataError) as error:
        raise BenchError(f"cannot read the categories of district {district}: {error}") from error
    rules: Mapping[str, CategoryRule] = catalogue.categories
    return {
        code: rules[code].group_code
        for code in CATEGORY_TEXTS
        if code in rules and rules[code].active and not rules[code].needs_review
    }


def plan_bench(count: int, *, riders: int, seed: int) -> BenchPlan:
    """``count`` reports from ``riders`` riders spread over every demo district: each rider
    reports in their own district, in turn over its grids (shuffled) and its categories."""
    try:
        grids = read_district_grids(None)
    except SimulationError as error:
        raise BenchError(str(error)) from error
    rng = random.Random(f"gridloop-bench/{seed}")
    homes = rider_districts(rider_ids(riders), sorted(grids))
    places = {code: _round_robin(list(pool), rng) for code, pool in grids.items()}
    groups = {code: filed_at_once(code) for code in grids}
    categories = {code: _round_robin(list(groups[code]), rng) for code in grids}
    spacing = _Spacing()
    riders_in_turn = list(homes)
    reports: list[PlannedReport] = []
    for index in range(count):
        rider = riders_in_turn[index % len(riders_in_turn)]
        district = homes[rider]
        category = next(categories[district])
        lon, lat = spacing.place(groups[district][category], next(places[district]), rng)
        reports.append(
            PlannedReport(
                index=index,
                rider_id=rider,
                category=category,
                lat=round(lat, 6),
                lon=round(lon, 6),
                text=rng.choice(CATEGORY_TEXTS[category]),
                outside=False,
                district=district,
            )
        )
    return BenchPlan(reports, homes)


T = TypeVar("T")


def _round_robin(items: Sequence[T], rng: random.Random) -> Iterator[T]:
    if not items:
        raise BenchError("nothing to plan with: a district has no grids or no usable category")
    order = list(items)
    rng.shuffle(order)
    while True:
        yield from order


class _Spacing:
    """Points already planned, by category group, hashed into small cells."""

    def __init__(self) -> None:
        self._cells: dict[tuple[str, int, int], list[tuple[float, float]]] = defaultdict(list)

    def place(
        self, group: str, grid: GridGeometry, rng: random.Random, tries: int = 50
    ) -> tuple[float, float]:
        """A point inside ``grid`` at least :data:`SPACING_M` from every earlier one of the
        category group ``group`` (after ``tries`` draws, the last one: a crowded grid
        merges)."""
        for _ in range(tries):
            lon, lat = random_point_in(grid, rng)
            if not self._near(group, lon, lat):
                break
        cell = self._cell(lon, lat)
        self._cells[(group, *cell)].append((lon, lat))
        return lon, lat

    def _near(self, group: str, lon: float, lat: float) -> bool:
        x, y = self._cell(lon, lat)
        return any(
            distance_m(lat, lon, other_lat, other_lon) < SPACING_M
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
            for other_lon, other_lat in self._cells.get((group, x + dx, y + dy), ())
        )

    @staticmethod
    def _cell(lon: float, lat: float) -> tuple[int, int]:
        return math.floor(lon / _CELL_DEGREES), math.floor(lat / _CELL_DEGREES)
