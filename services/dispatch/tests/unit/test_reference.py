"""A district's reference data: each document validated whole and refused whole with every
problem named by row, stored, made current, the catalogue published; a replica picks up what
another loaded (the service layer on an in-memory unit of work)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.contracts.district_events import DistrictCataloguePublished
from dispatch.domain.assignment import deadlines_for
from dispatch.domain.calendar import LimitUnit, TimeLimit
from dispatch.domain.grids import GridFileError
from dispatch.domain.reference import (
    OwnerKind,
    ReferenceDataError,
    parse_calendar,
    parse_catalogue,
    parse_roster,
)
from dispatch.service_layer import reference
from dispatch.service_layer.districts import CALENDAR, CATEGORIES, ROSTER, DistrictRegistry
from gridloop_tools.testing.dispatch import (
    GULOU,
    JIUXIAN,
    NAMES,
    RENCHENG,
    YANZHOU,
    FakeDispatchDatabase,
    calendar_document,
    categories_document,
    category,
    district_grids,
    load_district,
    roster_document,
    worker,
)


def problems_of(error: pytest.ExceptionInfo[ReferenceDataError]) -> list[str]:
    return error.value.problems


# --- parsing: every problem, by row ----------------------------------------------------------


def test_a_catalogue_parses_with_its_limits_owners_and_flags() -> None:
    catalogue = parse_catalogue(YANZHOU, categories_document(YANZHOU))
    fire = catalogue.categories["0501"]
    assert fire.handle_limit == TimeLimit(4, LimitUnit.WORKING_HOURS)
    assert (fire.merge_radius_m, fire.merge_window_days) == (50, 3)
    assert catalogue.categories["0202"].owner.kind is OwnerKind.DEPARTMENT
    assert catalogue.categories["0701"].needs_review
    assert not catalogue.categories["0801"].active


def test_a_catalogue_names_every_bad_row() -> None:
    rows = [
        category("0501", "飞线充电"),
        {**category("0502", "充电"), "name": ""},
        {**category("0101", "杂物"), "handle_limit": {"amount": 4, "unit": "fortnights"}},
        {**category("0102", "堵占"), "group_code": "05"},
        category("0501", "again"),
        {**category("0103", "x"), "owner": {"kind": "department"}},
        {**category("0104", "x"), "claim_limit": {"amount": 0, "unit": "hours"}},
        "not an object",
    ]
    with pytest.raises(ReferenceDataError) as refused:
        parse_catalogue(YANZHOU, {"categories": rows})
    assert problems_of(refused) == [
        "categories[1] (0502): name must be a non-empty string",
        "categories[2] (0101): handle_limit.unit must be one of minutes, hours, days, "
        "working_hours, working_days",
        "categories[3] (0102): code 0102 is not in group 05",
        "categories[4] (0501): code 0501 appears twice",
        "categories[5] (0103): a department owner names its department_id",
        "categories[6] (0104): a time limit must be positive, got 0.0 hours",
        "categories[7]: must be an object",
    ]


@pytest.mark.parametrize(
    ("limit", "problem"),
    [
        ({"amount": 1e12, "unit": "days"}, "handle_limit must not be longer than 365 days"),
        ({"amount": 3000, "unit": "working_days"}, "must not be longer than 365 days"),
        ({"amount": 366 * 24, "unit": "working_hours"}, "must not be longer than 365 days"),
        ({"amount": float("nan"), "unit": "hours"}, "must not be longer than 365 days"),
        ({"amount": float("inf"), "unit": "minutes"}, "must not be longer than 365 days"),
        ({"amount": "4", "unit": "hours"}, "handle_limit.amount must be a number"),
        ({"amount": True, "unit": "hours"}, "handle_limit.amount must be a number"),
        ({"amount": -1, "unit": "hours"}, "must be positive"),
        ([4, "hours"], "handle_limit must be like"),
    ],
)
def test_a_time_limit_no_deadline_could_follow_is_refused(limit: Any, problem: str) -> None:
    """Dispatching with such a limit would fail (an overflow, NaN, or no working time within
    the calendar's ten years) and the report would be lost to the dead-letter topic."""
    row = {**category("0501", "飞线充电"), "handle_limit": limit}
    with pytest.raises(ReferenceDataError) as refused:
        parse_catalogue(YANZHOU, {"categories": [row]})
    (found,) = problems_of(refused)
    assert problem in found


@pytest.mark.parametrize(
    "limit",
    [{"amount": 365, "unit": "working_days"}, {"amount": 365 * 24, "unit": "working_hours"}],
)
def test_the_longest_time_limits_still_have_a_deadline(limit: dict[str, Any]) -> None:
    row = {**category("0501", "飞线充电"), "handle_limit": limit}
    rule = parse_catalogue(YANZHOU, {"categories": [row]}).categories["0501"]
    calendar = parse_calendar(calendar_document(YANZHOU))
    start = datetime(2026, 4, 3, 7, 0, tzinfo=UTC)
    assert deadlines_for(rule, calendar, start).handle_due > start + timedelta(days=365)


@pytest.mark.parametrize(
    "document",
    [{"categories": []}, {}, [], {"categories": "0501"}],
    ids=["empty", "no list", "not an object", "a string"],
)
def test_a_catalogue_without_categories_is_refused(document: Any) -> None:
    with pytest.raises(ReferenceDataError):
        parse_catalogue(YANZHOU, document)


def test_a_roster_names_every_bad_row_and_unknown_grids() -> None:
    document = roster_document(YANZHOU)
    document["grid_workers"] += [worker("w-nowhere", "g-moon"), {"id": "w-x", "name": "x"}]
    document["grid_workers"].append(worker("w-west-1", "g-west"))
    document["supervisors"].append({"id": "s-x", "name": "x", "level": "street"})
    with pytest.raises(ReferenceDataError) as refused:
        parse_roster(YANZHOU, document, grid_ids=["g-west", "g-east", "g-south"])
    assert problems_of(refused) == [
        "grid_workers[4] (w-nowhere): unknown grid g-moon",
        "grid_workers[5]: grid_ids must be a list of ids",
        "grid_workers[6]: id w-west-1 is used twice in the roster",
        "supervisors[2]: a street supervisor names their street",
    ]


def test_a_roster_needs_a_district_supervisor() -> None:
    document = roster_document(YANZHOU)
    document["supervisors"] = [s for s in document["supervisors"] if s["level"] == "street"]
    with pytest.raises(ReferenceDataError) as refused:
        parse_roster(YANZHOU, document)
    assert problems_of(refused) == [
        "supervisors: a district needs at least one district-level supervisor"
    ]


def test_a_calendar_names_every_bad_entry() -> None:
    document = {
        "periods": [["08:30", "12:00"], ["13:30"], ["lunch", "18:00"]],
        "holidays": ["2026-10-01", "2026-13-01"],
        "workdays": "2026-10-10",
        "weekend": [5, 7],
    }
    with pytest.raises(ReferenceDataError) as refused:
        parse_calendar(document)
    assert problems_of(refused) == [
        'periods[1]: must be ["HH:MM", "HH:MM"]',
        'periods[2]: must be ["HH:MM", "HH:MM"]',
        "holidays[1]: '2026-13-01' is not a date (YYYY-MM-DD)",
        "workdays: must be a list of dates (YYYY-MM-DD)",
        "weekend: must list days of the week, 0 (Monday) to 6 (Sunday)",
    ]


@pytest.mark.parametrize(
    "document",
    [
        {"periods": 5},
        {"periods": "08:30-12:00"},
        {"periods": [["12:00", "08:30"]]},
        {"holidays": ["2026-10-10"], "workdays": ["2026-10-10"]},
        {"weekend": [0, 1, 2, 3, 4, 5, 6]},
        "2026",
    ],
    ids=[
        "periods a number",
        "periods a string",
        "backwards",
        "both",
        "no working day",
        "not an object",
    ],
)
def test_a_calendar_that_cannot_be_used_is_refused(document: Any) -> None:
    with pytest.raises(ReferenceDataError) as refused:
        parse_calendar(document)
    assert refused.value.problems


def test_the_demo_calendar_parses() -> None:
    calendar = parse_calendar(calendar_document(YANZHOU))
    assert len(calendar.holidays) > 20 and len(calendar.workdays) > 3


# --- loading through the service layer --------------------------------------------------------


@pytest.fixture
def database() -> FakeDispatchDatabase:
    return FakeDispatchDatabase()


@pytest.fixture
def registry() -> DistrictRegistry:
    return DistrictRegistry()


async def test_loading_a_catalogue_stores_it_makes_it_current_and_publishes_it(
    database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    document = categories_document(YANZHOU)
    revision = await reference.load_document(
        YANZHOU, CATEGORIES, document, database.unit_of_work(), registry
    )

    assert revision == 1
    assert sorted(registry.catalogue(YANZHOU).categories) == [
        "0101", "0202", "0501", "0502", "0701", "0801"
    ]  # fmt: skip
    assert registry.names[YANZHOU] == "兖州区"
    ((published, subject, sequence),) = database.events
    assert isinstance(published, DistrictCataloguePublished)
    assert (subject, sequence) == (YANZHOU, 1)
    assert (published.district, published.district_name, published.revision) == (
        YANZHOU,
        "兖州区",
        1,
    )
    by_code = {c.code: c for c in published.categories}
    assert by_code["0501"].handle_limit == "4 工作时"
    assert not by_code["0801"].active  # every category, active or not


async def test_a_category_may_require_a_photo_and_is_published_so(
    database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    document = categories_document(YANZHOU)
    document["categories"] = [
        {**row, "photo_required": True} if row["code"] == "0501" else row
        for row in document["categories"]
    ]
    await reference.load_document(YANZHOU, CATEGORIES, document, database.unit_of_work(), registry)
    assert registry.catalogue(YANZHOU).categories["0501"].photo_required
    assert not registry.catalogue(YANZHOU).categories["0101"].photo_required  # the default
    ((published, _, _),) = database.events
    assert isinstance(published, DistrictCataloguePublished)
    by_code = {c.code: c for c in published.categories}
    assert by_code["0501"].photo_required and not by_code["0101"].photo_required


def test_photo_required_is_a_flag() -> None:
    rows = [{**category("0501", "飞线充电"), "photo_required": "yes"}]
    with pytest.raises(ReferenceDataError) as refused:
        parse_catalogue(YANZHOU, {"categories": rows})
    assert problems_of(refused) == ["categories[0] (0501): photo_required must be true or false"]


async def test_loading_again_counts_the_revision_up(
    database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    document = categories_document(YANZHOU)
    await reference.load_document(YANZHOU, CATEGORIES, document, database.unit_of_work(), registry)
    document["categories"] = document["categories"][:1]
    revision = await reference.load_document(
        YANZHOU, CATEGORIES, document, database.unit_of_work(), registry
    )
    assert revision == 2
    assert list(registry.catalogue(YANZHOU).categories) == ["0501"]
    assert [sequence for _, _, sequence in database.events] == [1, 2]


@pytest.mark.parametrize("kind", [CATEGORIES, ROSTER, CALENDAR])
async def test_a_refused_document_changes_nothing(
    database: FakeDispatchDatabase, registry: DistrictRegistry, kind: str
) -> None:
    await load_district(database, registry, YANZHOU)
    before = (copy.deepcopy(database.state.documents), len(database.events))
    broken: dict[str, dict[str, Any]] = {
        CATEGORIES: {"categories": [{"code": "05"}]},
        ROSTER: {"grid_workers": [{"id": "w"}]},
        CALENDAR: {"periods": [["x", "y"]]},
    }

    with pytest.raises(ReferenceDataError):
        await reference.load_document(
            YANZHOU, kind, broken[kind], database.unit_of_work(), registry
        )

    assert (database.state.documents, len(database.events)) == before
    assert registry.catalogue(YANZHOU).find("0501") is not None
    assert registry.roster(YANZHOU) == parse_roster(YANZHOU, roster_document(YANZHOU))


async def test_a_roster_is_checked_against_the_district_grids_once_they_are_loaded(
    database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    document = roster_document(YANZHOU)
    document["grid_workers"].append(worker("w-r", "r-1"))
    await reference.load_document(YANZHOU, ROSTER, document, database.unit_of_work(), registry)
    await reference.load_grids(district_grids(YANZHOU), database.unit_of_work(), registry)
    with pytest.raises(ReferenceDataError, match="unknown grid r-1"):
        await reference.load_document(YANZHOU, ROSTER, document, database.unit_of_work(), registry)


async def test_grids_of_another_district_are_refused_for_this_one(
    database: FakeDispatchDatabase, registry: DistrictRegistry
) -> None:
    with pytest.raises(GridFileError, match="belong to district 370811"):
        await reference.load_grids(
            district_grids(RENCHENG), database.unit_of_work(), registry, district=YANZHOU
        )
    assert database.state.grids == {} and not registry.loaded


# --- replicas ---------------------------------------------------------------------------------


async def test_a_replica_picks_up_what_another_loaded(database: FakeDispatchDatabase) -> None:
    loader, replica = DistrictRegistry(), DistrictRegistry()
    for district in (YANZHOU, RENCHENG):
        await load_district(database, loader, district)

    assert await replica.refresh(database.unit_of_work())

    assert replica.districts == [RENCHENG, YANZHOU]
    assert replica.names == NAMES
    for district in (YANZHOU, RENCHENG):
        assert replica.catalogues[district] == loader.catalogues[district]
        assert replica.rosters[district] == loader.rosters[district]
        assert replica.calendars[district] == loader.calendars[district]
        assert [g.grid_id for g in replica.grids[district]] == [
            g.grid_id for g in loader.grids[district]
        ]
    assert not await replica.refresh(database.unit_of_work())  # nothing new since

    smaller = categories_document(RENCHENG)
    smaller["categories"] = smaller["categories"][1:]
    await reference.load_document(RENCHENG, CATEGORIES, smaller, database.unit_of_work(), loader)
    assert await replica.refresh(database.unit_of_work())
    assert list(replica.catalogue(RENCHENG).categories) == ["0101"]
    assert replica.catalogue_revisions[RENCHENG] == 2


async def test_a_stored_document_a_replica_cannot_read_leaves_its_current_one(
    database: FakeDispatchDatabase,
) -> None:
    loader, replica = DistrictRegistry(), DistrictRegistry()
    await load_district(database, loader, YANZHOU)
    await replica.refresh(database.unit_of_work())
    async with database.unit_of_work() as uow:  # e.g. stored before a rule tightened
        await uow.reference.put(YANZHOU, CATEGORIES, {"categories": []})
        await uow.commit()

    await replica.refresh(database.unit_of_work())

    assert replica.catalogue(YANZHOU) == loader.catalogue(YANZHOU)


def test_a_street_without_its_own_supervisor_is_supervised_by_the_district() -> None:
    roster = parse_roster(YANZHOU, roster_document(YANZHOU))
    assert [s.id for s in roster.supervising(GULOU)] == ["s-gulou"]
    assert [s.id for s in roster.supervising(JIUXIAN)] == ["s-yanzhou"]
