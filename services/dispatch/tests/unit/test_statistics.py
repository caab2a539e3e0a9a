"""综合评价, pure: the statistics period, adding tallies up, and the figures made of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest

from dispatch.domain.grids import GridIndex
from dispatch.domain.statistics import (
    CLOSED_STATES,
    MAX_SPAN_DAYS,
    TIMED_STATES,
    Figures,
    GridWorkload,
    OpenOrders,
    Period,
    PeriodError,
    Tally,
    average,
    parse_day,
    ratio,
)
from dispatch.domain.work_orders import WorkOrderState
from dispatch.service_layer.statistics import (
    StatsScope,
    StreetUnknown,
    grid_workload,
    statistics,
)
from gridloop_tools.testing.dispatch import GULOU, JIUXIAN, YANZHOU, district_grids

# --- the period ---------------------------------------------------------------------------------


def test_a_period_is_whole_shanghai_days_both_included() -> None:
    period = Period(date(2025, 3, 1), date(2025, 3, 31))
    assert period.days == 31
    assert period.start == datetime(2025, 2, 28, 16, tzinfo=UTC)
    assert period.end == datetime(2025, 3, 31, 16, tzinfo=UTC)


def test_the_default_period_is_the_month_so_far_in_shanghai() -> None:
    # 20:00 UTC on 31 March is already 1 April in Shanghai
    period = Period.of(None, None, now=datetime(2025, 3, 31, 20, tzinfo=UTC))
    assert (period.first_day, period.last_day) == (date(2025, 4, 1), date(2025, 4, 1))
    period = Period.of(None, date(2025, 2, 14), now=datetime(2025, 3, 31, tzinfo=UTC))
    assert (period.first_day, period.last_day) == (date(2025, 2, 1), date(2025, 2, 14))
    period = Period.of(date(2025, 1, 5), None, now=datetime(2025, 3, 10, tzinfo=UTC))
    assert (period.first_day, period.last_day) == (date(2025, 1, 5), date(2025, 3, 10))


def test_from_after_to_is_refused_naming_from() -> None:
    with pytest.raises(PeriodError) as refused:
        Period(date(2025, 3, 2), date(2025, 3, 1))
    assert refused.value.field == "from"


def test_a_period_spans_at_most_a_leap_year() -> None:
    assert Period(date(2024, 1, 1), date(2024, 12, 31)).days == MAX_SPAN_DAYS == 366
    with pytest.raises(PeriodError) as refused:
        Period(date(2024, 1, 1), date(2025, 1, 1))
    assert refused.value.field == "to"
    assert "367" in str(refused.value)


def test_a_day_is_written_yyyy_mm_dd_and_nothing_else() -> None:
    assert parse_day("2025-03-01", "from") == date(2025, 3, 1)
    assert parse_day(None, "from") is None
    for text in ("2025-02-30", "0", "20250301", "2025-W10-1", "2025-03-01T00:00"):
        with pytest.raises(PeriodError) as refused:
            parse_day(text, "to")
        assert refused.value.field == "to"


def test_the_cutoff_is_the_end_or_now_whichever_comes_first() -> None:
    period = Period(date(2025, 3, 1), date(2025, 3, 31))
    assert period.cutoff(datetime(2026, 1, 1, tzinfo=UTC)) == period.end
    midway = datetime(2025, 3, 10, 3, tzinfo=UTC)
    assert period.cutoff(midway) == midway


# --- the states behind the figures --------------------------------------------------------------


def test_closed_means_verified_rated_or_not() -> None:
    assert {WorkOrderState.CLOSED, WorkOrderState.RATED} == CLOSED_STATES


def test_overdue_counts_only_states_whose_clock_runs() -> None:
    assert WorkOrderState.PENDING_REVIEW not in TIMED_STATES
    assert WorkOrderState.RESOLVED not in TIMED_STATES
    assert {
        WorkOrderState.FILED,
        WorkOrderState.DISPATCHED,
        WorkOrderState.CLAIMED,
        WorkOrderState.REWORK,
        WorkOrderState.RETURNED,
        WorkOrderState.REOPENED,
    } == TIMED_STATES


# --- figures ------------------------------------------------------------------------------------


def test_rates_are_over_what_was_due_and_none_over_nothing() -> None:
    assert ratio(2, 3) == 0.6667
    assert ratio(0, 5) == 0.0
    assert ratio(0, 0) is None
    assert average(10.0, 4) == 2.5
    assert average(0.0, 0) is None


def test_figures_of_a_tally() -> None:
    tally = Tally(
        created=11,
        merged=1,
        rejected_at_triage=1,
        rejected_on_review=1,
        filed=9,
        due=5,
        closed=3,
        closed_on_time=2,
        reworked=1,
        claimed=5,
        claim_seconds=17100.0,
        handling_seconds=154800.0,
        rated=2,
        satisfied=1,
        open_now=7,
        overdue_now=3,
    )
    figures = Figures.of(tally)
    assert figures.reports == 13  # 上报数 = became an order + merged + refused at triage
    assert figures.rejected == 2  # 不予立案数 = refused at triage + refused after review
    assert (figures.filed, figures.merged, figures.due, figures.closed) == (9, 1, 5, 3)
    assert figures.closing_rate == 0.6  # 结案率 = 结案数 / 应结案数
    assert figures.on_time_closing_rate == 0.4  # 按期结案率 = 按期结案数 / 应结案数
    assert figures.rework_rate == 0.2  # 返工率 = 返工数 / 应结案数
    assert figures.average_claim_seconds == 3420.0  # over the claimed orders
    assert figures.average_handling_seconds == 51600.0  # over the closed orders
    assert figures.satisfaction_rate == 0.5
    assert (figures.open_now, figures.overdue_now) == (7, 3)


def test_nothing_due_gives_no_rates_rather_than_zero() -> None:
    figures = Figures.of(Tally(created=2, filed=2))
    assert figures.closing_rate is None
    assert figures.on_time_closing_rate is None
    assert figures.rework_rate is None
    assert figures.average_claim_seconds is None
    assert figures.satisfaction_rate is None


def test_tallies_add_up_field_by_field() -> None:
    total = Tally(created=1, claim_seconds=1.5, overdue_now=2) + Tally(created=2, claimed=1)
    assert total == Tally(created=3, claimed=1, claim_seconds=1.5, overdue_now=2)


def test_a_total_rate_is_computed_from_the_summed_counts_not_averaged() -> None:
    small = Tally(due=1, closed=1)
    large = Tally(due=9, closed=0)
    assert Figures.of(small + large).closing_rate == 0.1  # not (1.0 + 0.0) / 2


# --- the service: per district, in total -------------------------------------------------------


class FakeStore:
    def __init__(self, tallies: dict[str, Tally], open_orders: list[OpenOrders]) -> None:
        self._tallies = tallies
        self._open = open_orders
        self.asked: list[Any] = []

    async def tallies(
        self, scope: StatsScope, period: Period, cutoff: datetime
    ) -> dict[str, Tally]:
        self.asked.append((scope, period, cutoff))
        return dict(self._tallies)

    async def open_orders(self, scope: StatsScope | None, now: datetime) -> list[OpenOrders]:
        return list(self._open)


async def test_every_district_of_the_scope_is_listed_and_the_total_adds_them_up() -> None:
    store = FakeStore(
        {"370812": Tally(created=2, filed=2, due=2, closed=1)},
        [
            OpenOrders("370812", "05", "dispatched", 1, 1),
            OpenOrders("370811", "01", "claimed", 2, 0),
            OpenOrders("370811", "03", "claimed", 1, 1),
        ],
    )
    period = Period(date(2025, 3, 1), date(2025, 3, 31))
    now = datetime(2025, 3, 20, tzinfo=UTC)
    found = await statistics(StatsScope(["370812", "370811", "370899"]), period, store, now=now)
    assert [code for code, _ in found.districts] == ["370811", "370812", "370899"]
    by_code = dict(found.districts)
    assert (by_code["370811"].open_now, by_code["370811"].overdue_now) == (3, 1)
    assert by_code["370812"].closing_rate == 0.5
    assert by_code["370899"] == Figures.of(Tally())
    assert found.total.reports == 2
    assert (found.total.open_now, found.total.overdue_now) == (4, 2)
    assert found.cutoff == now
    assert store.asked[0][2] == now


async def test_a_scope_narrowed_below_the_district_is_marked_so() -> None:
    assert not StatsScope(["370812"]).narrowed
    assert StatsScope(["370812"], street="鼓楼街道").narrowed
    assert StatsScope(["370812"], grid_id="g-1").narrowed
    assert StatsScope(["370812"], department="d-1").narrowed


# --- each grid's open and overdue orders ------------------------------------------------------


class FakeWorkloadStore:
    def __init__(self, *found: GridWorkload) -> None:
        self._found = {row.grid_id: row for row in found}
        self.asked: list[tuple[str, list[str] | None, datetime]] = []

    async def grid_workload(
        self, district: str, grid_ids: Sequence[str] | None, now: datetime
    ) -> dict[str, GridWorkload]:
        self.asked.append((district, None if grid_ids is None else list(grid_ids), now))
        return {k: v for k, v in self._found.items() if grid_ids is None or k in grid_ids}


NOW = datetime(2025, 3, 20, tzinfo=UTC)
YANZHOU_GRIDS = GridIndex.from_feature_collection(district_grids(YANZHOU))


async def test_every_grid_is_listed_in_file_order_with_zeros_when_idle() -> None:
    store = FakeWorkloadStore(GridWorkload("g-east", 3, 1), GridWorkload("g-gone", 2, 2))
    found = await grid_workload(YANZHOU_GRIDS, store, street=None, now=NOW)
    assert found == [
        GridWorkload("g-west", 0, 0),
        GridWorkload("g-east", 3, 1),
        GridWorkload("g-south", 0, 0),
    ]
    assert store.asked == [(YANZHOU, None, NOW)]


async def test_a_street_asks_for_its_grids_only() -> None:
    store = FakeWorkloadStore(GridWorkload("g-south", 1, 0), GridWorkload("g-west", 2, 0))
    found = await grid_workload(YANZHOU_GRIDS, store, street=GULOU, now=NOW)
    assert found == [GridWorkload("g-west", 2, 0), GridWorkload("g-east", 0, 0)]
    assert store.asked == [(YANZHOU, ["g-west", "g-east"], NOW)]
    assert await grid_workload(YANZHOU_GRIDS, store, street=JIUXIAN, now=NOW) == [
        GridWorkload("g-south", 1, 0)
    ]


async def test_a_street_without_grids_is_unknown() -> None:
    store = FakeWorkloadStore()
    with pytest.raises(StreetUnknown, match="新驿镇"):
        await grid_workload(YANZHOU_GRIDS, store, street="新驿镇", now=NOW)
    assert store.asked == []
