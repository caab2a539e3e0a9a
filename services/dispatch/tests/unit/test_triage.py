"""Triage of a submitted report, exactly once, for two districts at once: rejected with a
reason, filed and dispatched, left for review, or merged into an open order nearby (并单) —
the service layer on an in-memory unit of work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.contracts.events import (
    RejectionReason,
    ReportRejected,
    WorkOrderFiled,
)
from common.contracts.workorder_events import (
    WorkOrderDispatched,
    WorkOrderMerged,
    WorkOrderReviewRequested,
)
from dispatch.domain.geometry import distance_m
from dispatch.domain.work_orders import WorkOrderState
from dispatch.service_layer.districts import DistrictRegistry
from dispatch.service_layer.triage import GridRegistryEmpty
from gridloop_tools.testing.dispatch import (
    EAST,
    NOWHERE,
    RENCHENG,
    RENCHENG_POINT,
    SOUTH,
    WEST,
    YANZHOU,
    FakeDispatchDatabase,
    Point,
    Triage,
    load_district,
    north_of,
)


def rejection(database: FakeDispatchDatabase) -> tuple[RejectionReason, str]:
    ((event, subject, sequence),) = database.events
    assert isinstance(event, ReportRejected) and (subject, sequence) == (event.report_id, 1)
    return event.reason_code, event.reason


# --- rejections ------------------------------------------------------------------------------


async def test_a_point_outside_every_grid_is_rejected(
    triage: Triage, database: FakeDispatchDatabase
) -> None:
    assert await triage(at=NOWHERE) == "processed"
    code, reason = rejection(database)
    assert code is RejectionReason.OUTSIDE_SERVICE_AREA
    assert "370811、370812" in reason
    recorded = database.state.rejections["rep-1"]
    assert (recorded.district, recorded.reporter_id) == (None, "rider-1")
    assert database.state.orders == {}
    assert triage.counted == [(YANZHOU, "rejected", "outside_service_area")]


async def test_a_report_in_a_district_the_token_does_not_cover_is_rejected(
    triage: Triage, database: FakeDispatchDatabase
) -> None:
    await triage(at=RENCHENG_POINT, districts=[YANZHOU])
    code, reason = rejection(database)
    assert code is RejectionReason.DISTRICT_MISMATCH
    assert "370811" in reason and "370812" in reason
    assert database.state.rejections["rep-1"].district == RENCHENG
    assert triage.counted == [(RENCHENG, "rejected", "district_mismatch")]


async def test_without_reporter_districts_the_envelope_district_is_the_reporters(
    triage: Triage, database: FakeDispatchDatabase
) -> None:
    await triage("rep-1", at=WEST, districts=[], envelope_district=RENCHENG)
    await triage("rep-2", at=RENCHENG_POINT, districts=[], envelope_district=RENCHENG)
    assert database.events_of(ReportRejected)[0].reason_code is RejectionReason.DISTRICT_MISMATCH
    assert [o.district for o in database.state.orders.values()] == [RENCHENG]


async def test_a_reporter_covering_both_districts_reports_in_either(
    triage: Triage, database: FakeDispatchDatabase
) -> None:
    await triage("rep-1", at=WEST, districts=[YANZHOU, RENCHENG])
    await triage("rep-2", at=RENCHENG_POINT, districts=[YANZHOU, RENCHENG])
    orders = database.state.orders
    assert [(o.district, o.grid_id, o.assignee and o.assignee.id) for o in orders.values()] == [
        (YANZHOU, "g-west", "w-west-1"),
        (RENCHENG, "r-1", "r-w-1"),
    ]
    assert triage.counted == [(YANZHOU, "filed", ""), (RENCHENG, "filed", "")]


@pytest.mark.parametrize(
    ("at", "category", "district", "code"),
    [
        (WEST, "9999", YANZHOU, RejectionReason.UNKNOWN_CATEGORY),
        (RENCHENG_POINT, "0202", RENCHENG, RejectionReason.UNKNOWN_CATEGORY),
        (WEST, "0801", YANZHOU, RejectionReason.INACTIVE_CATEGORY),
    ],
    ids=["unknown everywhere", "known only in the other district", "switched off"],
)
async def test_a_category_the_district_does_not_take_is_rejected(
    triage: Triage,
    database: FakeDispatchDatabase,
    at: Point,
    category: str,
    district: str,
    code: RejectionReason,
) -> None:
    await triage(at=at, category=category, districts=[YANZHOU, RENCHENG])
    assert rejection(database)[0] is code
    assert database.state.rejections["rep-1"].district == district
    assert triage.counted == [(district, "rejected", code.value)]


# --- filing -----------------------------------------------------------------------------------


async def test_a_report_is_filed_and_dispatched_at_once(
    triage: Triage, database: FakeDispatchDatabase
) -> None:
    assert await triage(at=EAST, category="0202") == "processed"

    order = database.only_order()
    assert (order.id, order.state, order.version) == ("wo-1", WorkOrderState.DISPATCHED, 2)
    assert (order.grid_id, order.street, order.category_group) == ("g-east", "鼓楼街道", "02")
    assert order.assignee is not None and order.assignee.id == "370812-chengguan"
    assert [(s.from_state, s.to_state) for s in order.history] == [
        (None, WorkOrderState.FILED),
        (WorkOrderState.FILED, WorkOrderState.DISPATCHED),
    ]
    (filed, _, first), (dispatched, _, second) = database.events
    assert isinstance(filed, WorkOrderFiled) and isinstance(dispatched, WorkOrderDispatched)
    assert (first, second) == (1, 2)
    assert (filed.category_name, filed.grid_name, filed.priority) == (
        "街头散发广告",
        "g-east 网格",
        "normal",
    )
    assert (dispatched.assignee_kind.value, dispatched.redispatch) == ("department", False)
    assert order.deadlines is not None
    assert dispatched.handle_due == order.deadlines.handle_due
    assert triage.counted == [(YANZHOU, "filed", "")]


async def test_a_category_that_needs_review_waits_for_the_street_supervisors(
    triage: Triage, database: FakeDispatchDatabase
) -> None:
    await triage(category="0701")
    order = database.only_order()
    assert (order.state, order.assignee, order.deadlines) == (
        WorkOrderState.PENDING_REVIEW,
        None,
        None,
    )
    ((requested, subject, sequence),) = database.events
    assert isinstance(requested, WorkOrderReviewRequested)
    assert (subject, sequence, requested.supervisor_ids) == ("wo-1", 1, ["s-gulou"])
    assert triage.counted == [(YANZHOU, "filed", "")]


async def test_a_review_in_a_street_without_a_supervisor_goes_to_the_district(
    triage: Triage, database: FakeDispatchDatabase
) -> None:
    await triage(at=SOUTH, category="0701")
    (requested,) = database.events_of(WorkOrderReviewRequested)
    assert requested.supervisor_ids == ["s-yanzhou"]


async def test_an_order_of_a_district_without_a_roster_waits_filed(
    database: FakeDispatchDatabase,
) -> None:
    registry = DistrictRegistry()
    await load_district(database, registry, YANZHOU, kinds=["categories"])
    await Triage(database, registry)()
    order = database.only_order()
    assert (order.state, order.assignee) == (WorkOrderState.FILED, None)
    assert database.event_types("wo-1") == ["filed"]


# --- 并单 ---------------------------------------------------------------------------------------


def merged_into(database: FakeDispatchDatabase) -> list[tuple[str, str, int]]:
    return [
        (event.merged_report_id, subject, sequence)
        for event, subject, sequence in database.events
        if isinstance(event, WorkOrderMerged)
    ]


async def test_a_report_just_inside_the_radius_joins_the_open_order(
    triage: Triage, database: FakeDispatchDatabase
) -> None:
    await triage("rep-1")
    near = north_of(WEST, 49)
    assert 48.9 < distance_m(*WEST, *near) < 49.1
    await triage("rep-2", at=near, reporter="rider-2")

    order = database.only_order()
    assert order.report_ids == ["rep-1", "rep-2"] and order.reporters == ["rider-1", "rider-2"]
    assert order.version == 3
    assert merged_into(database) == [("rep-2", "wo-1", 3)]
    (merged,) = database.events_of(WorkOrderMerged)
    assert merged.reporter_ids == ["rider-1", "rider-2"] and 48.9 < merged.distance_m < 49.1
    assert triage.counted == [(YANZHOU, "filed", ""), (YANZHOU, "merged", "")]


async def test_a_report_just_outside_the_radius_is_a_new_order(
    triage: Triage, database: FakeDispatchDatabase
) -> None:
    await triage("rep-1")
    await triage("rep-2", at=north_of(WEST, 51))
    assert sorted(database.state.orders) == ["wo-1", "wo-2"]
    assert merged_into(database) == []


@pytest.mark.parametrize(("category", "merges"), [("0502", True), ("0101", False)])
async def test_only_the_same_category_group_merges(
    triage: Triage, database: FakeDispatchDatabase, category: str, merges: bool
) -> None:
    await triage("rep-1", category="0501")
    await triage("rep-2", category=category, at=north_of(WEST, 10))
    assert len(database.state.orders) == (1 if merges else 2)


@pytest.mark.parametrize(
    ("age", "merges"), [(timedelta(minutes=-1), True), (timedelta(minutes=1), False)]
)
async def test_the_merge_window_counts_from_the_filing(
    triage: Triage, database: FakeDispatchDatabase, age: timedelta, merges: bool
) -> None:
    """0501 merges within 3 days: an order filed a minute less (more) ago takes (does not
    take) the report."""
    await triage("rep-1")
    database.state.orders["wo-1"].filed_at = datetime.now(UTC) - timedelta(days=3) - age
    await triage("rep-2", at=north_of(WEST, 10))
    assert len(database.state.orders) == (1 if merges else 2)


@pytest.mark.parametrize(
    "state", [WorkOrderState.CLOSED, WorkOrderState.RATED, WorkOrderState.VOIDED]
)
async def test_a_finished_order_takes_no_report(
    triage: Triage, database: FakeDispatchDatabase, state: WorkOrderState
) -> None:
    await triage("rep-1")
    database.state.orders["wo-1"].state = state
    await triage("rep-2", at=north_of(WEST, 10))
    assert sorted(database.state.orders) == ["wo-1", "wo-2"]


async def test_the_nearest_open_order_takes_the_report(
    triage: Triage, database: FakeDispatchDatabase
) -> None:
    await triage("rep-1", at=north_of(WEST, 0))
    await triage("rep-2", at=north_of(WEST, 80))
    await triage("rep-3", at=north_of(WEST, 50), reporter="rider-3")
    assert database.order("wo-1").report_ids == ["rep-1"]
    assert database.order("wo-2").report_ids == ["rep-2", "rep-3"]


async def test_an_order_waiting_for_review_takes_duplicates_too(
    triage: Triage, database: FakeDispatchDatabase
) -> None:
    await triage("rep-1", category="0701")
    await triage("rep-2", category="0701", at=north_of(WEST, 5), reporter="rider-2")
    order = database.only_order()
    assert (order.state, order.reporters) == (WorkOrderState.PENDING_REVIEW, ["rider-1", "rider-2"])


# --- exactly once -----------------------------------------------------------------------------


@pytest.mark.parametrize("at", [WEST, NOWHERE], ids=["filed", "rejected"])
async def test_a_report_seen_again_under_a_new_event_is_ignored(
    triage: Triage, database: FakeDispatchDatabase, at: Point
) -> None:
    await triage(at=at)
    events, state = list(database.events), database.state
    assert await triage(at=at) == "ignored"
    assert (database.events, database.state) == (events, state)
    assert len(triage.counted) == 1


async def test_a_merged_report_seen_again_is_ignored(
    triage: Triage, database: FakeDispatchDatabase
) -> None:
    await triage("rep-1")
    await triage("rep-2", at=north_of(WEST, 10))
    assert await triage("rep-2", at=north_of(WEST, 10)) == "ignored"
    assert database.order("wo-1").report_ids == ["rep-1", "rep-2"]


async def test_a_decision_is_counted_only_once_it_commits(triage: Triage) -> None:
    await triage(commit=False)
    assert triage.counted == []
    await triage()
    assert triage.counted == [(YANZHOU, "filed", "")]


async def test_before_any_grid_is_loaded_a_report_is_retried_not_rejected(
    database: FakeDispatchDatabase,
) -> None:
    with pytest.raises(GridRegistryEmpty):
        await Triage(database, DistrictRegistry())()
    assert database.state.rejections == {} and database.events == []
