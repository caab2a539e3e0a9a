"""Triage of a submitted report against a tiny two-grid district, and the work order it files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.contracts.catalogue import Priority
from dispatch.domain.grids import GridIndex
from dispatch.domain.triage import Accepted, Rejected, RejectionCode, triage
from dispatch.domain.work_orders import WorkOrder, WorkOrderStatus
from gridloop_tools.testing.grids import two_grids


@pytest.fixture(scope="module")
def grids() -> GridIndex:
    """West square [116.80, 116.81] and east square [116.81, 116.82] x lat [35.50, 35.51]."""
    return GridIndex.from_feature_collection(two_grids())


def test_a_point_in_a_grid_with_a_known_category_is_accepted(grids: GridIndex) -> None:
    decision = triage(category_code="0102", lat=35.505, lon=116.815, grids=grids)
    assert isinstance(decision, Accepted)
    assert decision.grid.grid_id == "g-east"
    assert decision.category.code == "0102"
    assert decision.category.priority is Priority.URGENT


def test_the_west_square_is_told_apart(grids: GridIndex) -> None:
    decision = triage(category_code="0301", lat=35.505, lon=116.805, grids=grids)
    assert isinstance(decision, Accepted)
    assert decision.grid.grid_id == "g-west"
    assert decision.category.priority is Priority.NORMAL


def test_the_shared_border_goes_to_the_smallest_grid_id(grids: GridIndex) -> None:
    decision = triage(category_code="0301", lat=35.505, lon=116.81, grids=grids)
    assert isinstance(decision, Accepted)
    assert decision.grid.grid_id == "g-east"  # "g-east" < "g-west"


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(35.515, 116.805), (35.495, 116.815), (35.505, 116.825), (35.505, 116.795), (0.0, 0.0)],
)
def test_a_point_outside_every_grid_is_rejected(grids: GridIndex, lat: float, lon: float) -> None:
    decision = triage(category_code="0101", lat=lat, lon=lon, grids=grids)
    assert isinstance(decision, Rejected)
    assert decision.code is RejectionCode.OUTSIDE_SERVICE_AREA
    assert "370812" in decision.reason


def test_an_unknown_category_is_rejected_before_looking_at_the_place(grids: GridIndex) -> None:
    inside = triage(category_code="0000", lat=35.505, lon=116.805, grids=grids)
    outside = triage(category_code="0000", lat=0.0, lon=0.0, grids=grids)
    for decision in (inside, outside):
        assert isinstance(decision, Rejected)
        assert decision.code is RejectionCode.UNKNOWN_CATEGORY
        assert "0000" in decision.reason


def test_filing_a_work_order_records_the_first_history_row() -> None:
    at = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    order = WorkOrder.file(
        work_order_id="wo-1",
        report_id="rep-1",
        reporter_id="rider-1",
        district="370812",
        category="0102",
        priority="urgent",
        grid_id="g-east",
        lat=35.505,
        lon=116.815,
        text="消防通道被堵",
        at=at,
    )
    assert order.status is WorkOrderStatus.FILED
    assert order.version == 1
    assert len(order.history) == 1
    step = order.history[0]
    assert (step.from_status, step.to_status, step.actor, step.at) == (None, "filed", "system", at)
