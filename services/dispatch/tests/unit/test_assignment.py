"""Who gets a work order (派遣) and by when, pure: the grid's on-duty worker with the fewest
open orders, else the department, the street supervisor, a district supervisor — never someone
who returned it; deadlines counted on the district's working calendar."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dispatch.domain.assignment import NobodyToAssign, choose_assignee, deadlines_for
from dispatch.domain.calendar import SHANGHAI
from dispatch.domain.reference import (
    Catalogue,
    CategoryRule,
    Roster,
    parse_calendar,
    parse_catalogue,
    parse_roster,
)
from dispatch.domain.work_orders import Assignee, AssigneeKind
from gridloop_tools.testing.dispatch import (
    GULOU,
    JIUXIAN,
    YANZHOU,
    calendar_document,
    categories_document,
    roster_document,
)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return parse_catalogue(YANZHOU, categories_document(YANZHOU))


@pytest.fixture(scope="module")
def roster() -> Roster:
    return parse_roster(YANZHOU, roster_document(YANZHOU))


def choose(
    roster: Roster,
    rule: CategoryRule,
    grid_id: str = "g-west",
    *,
    street: str = GULOU,
    open_orders: dict[str, int] | None = None,
    excluded: tuple[str, ...] = (),
) -> tuple[AssigneeKind, str]:
    chosen = choose_assignee(
        roster=roster,
        category=rule,
        grid_id=grid_id,
        street=street,
        open_orders=open_orders or {},
        excluded=excluded,
    )
    return chosen.kind, chosen.id


WORKER, DEPARTMENT, SUPERVISOR = (
    AssigneeKind.GRID_WORKER,
    AssigneeKind.DEPARTMENT,
    AssigneeKind.SUPERVISOR,
)


def test_the_on_duty_worker_with_the_fewest_open_orders_gets_it(
    roster: Roster, catalogue: Catalogue
) -> None:
    fire = catalogue.categories["0501"]
    assert choose(roster, fire) == (WORKER, "w-west-1")  # a tie goes by id
    assert choose(roster, fire, open_orders={"w-west-1": 3, "w-west-2": 2}) == (WORKER, "w-west-2")
    assert choose(roster, fire, open_orders={"w-west-1": 2, "w-west-2": 2}) == (WORKER, "w-west-1")


def test_an_off_duty_worker_is_skipped_even_with_nothing_to_do(
    roster: Roster, catalogue: Catalogue
) -> None:
    fire = catalogue.categories["0501"]
    busy = {"w-west-1": 9, "w-west-2": 9, "w-west-off": 0}
    assert choose(roster, fire, open_orders=busy) == (WORKER, "w-west-1")


def test_a_category_owned_by_a_department_always_goes_there(
    roster: Roster, catalogue: Catalogue
) -> None:
    flyers = catalogue.categories["0202"]
    assert choose(roster, flyers) == (DEPARTMENT, "370812-chengguan")


def test_without_an_on_duty_worker_the_street_supervisor_takes_it(
    roster: Roster, catalogue: Catalogue
) -> None:
    assert choose(roster, catalogue.categories["0501"], "g-east") == (SUPERVISOR, "s-gulou")


def test_without_a_street_supervisor_a_district_supervisor_takes_it(
    roster: Roster, catalogue: Catalogue
) -> None:
    rule = catalogue.categories["0501"]
    assert choose(roster, rule, "g-south", street=JIUXIAN) == (SUPERVISOR, "s-yanzhou")


def test_someone_who_returned_the_order_is_never_chosen_again(
    roster: Roster, catalogue: Catalogue
) -> None:
    fire, flyers = catalogue.categories["0501"], catalogue.categories["0202"]
    assert choose(roster, fire, excluded=("w-west-1",)) == (WORKER, "w-west-2")
    assert choose(roster, fire, excluded=("w-west-1", "w-west-2")) == (SUPERVISOR, "s-gulou")
    assert choose(roster, flyers, excluded=("370812-chengguan",)) == (SUPERVISOR, "s-gulou")
    everyone = ("w-west-1", "w-west-2", "s-gulou")
    assert choose(roster, fire, excluded=everyone) == (SUPERVISOR, "s-yanzhou")
    with pytest.raises(NobodyToAssign):
        choose(roster, fire, excluded=(*everyone, "s-yanzhou"))


def test_the_chosen_assignee_carries_the_roster_name(roster: Roster, catalogue: Catalogue) -> None:
    chosen = choose_assignee(
        roster=roster,
        category=catalogue.categories["0202"],
        grid_id="g-west",
        street=GULOU,
        open_orders={},
    )
    assert chosen == Assignee(DEPARTMENT, "370812-chengguan", "综合行政执法局")


# --- deadlines on the working calendar -------------------------------------------------------


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def test_four_working_hours_filed_on_the_friday_before_qingming_end_on_tuesday(
    catalogue: Catalogue,
) -> None:
    """2026-04-03 is a Friday; the weekend and Monday 04-06 (清明) are off: 2.5 working hours
    on Friday afternoon, the other 1.5 on Tuesday morning."""
    calendar = parse_calendar(calendar_document(YANZHOU))
    deadlines = deadlines_for(catalogue.categories["0501"], calendar, local("2026-04-03 15:00"))
    assert deadlines.claim_due == local("2026-04-03 15:30")  # 30 natural minutes
    assert deadlines.warning_at == local("2026-04-07 09:12")  # 80 %: 3.2 working hours
    assert deadlines.handle_due == local("2026-04-07 10:00")


def test_one_working_day_counts_over_the_national_day_holiday(catalogue: Catalogue) -> None:
    """Wednesday 2026-09-30 15:00 plus one working day (7.5 h): 10-01…10-07 are off, Thursday
    10-08 is the next working day."""
    calendar = parse_calendar(calendar_document(YANZHOU))
    deadlines = deadlines_for(catalogue.categories["0101"], calendar, local("2026-09-30 15:00"))
    assert deadlines.handle_due == local("2026-10-08 15:00")


def test_an_adjusted_working_saturday_is_worked(catalogue: Catalogue) -> None:
    """Saturday 2026-02-28 is worked (调休): Friday 16:00 + 4 working hours ends Saturday 11:00."""
    calendar = parse_calendar(calendar_document(YANZHOU))
    deadlines = deadlines_for(catalogue.categories["0501"], calendar, local("2026-02-27 16:00"))
    assert deadlines.handle_due == local("2026-02-28 11:00")


def test_a_natural_time_limit_ignores_the_calendar(catalogue: Catalogue) -> None:
    calendar = parse_calendar(calendar_document(YANZHOU))
    start = local("2026-09-30 15:00")
    deadlines = deadlines_for(catalogue.categories["0701"], calendar, start)
    assert deadlines.handle_due == start + timedelta(days=7)
    assert deadlines.warning_at == start + timedelta(days=7) * 0.8
