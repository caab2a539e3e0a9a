"""The timeline's words for each step, which sequences follow,
and which district's catalogue a report's category is checked against."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reporting.domain.catalogues import Catalogue, CatalogueEntry, choose_category
from reporting.domain.errors import (
    DistrictNotServed,
    InactiveCategory,
    ReportError,
    UnknownCategory,
)
from reporting.domain.progress import STEP_LABELS, Progress, Step

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


# --- progress ---------------------------------------------------------------------------------


def test_every_step_but_the_assignees_warning_makes_a_timeline_row() -> None:
    assert set(Step) - set(STEP_LABELS) == {Step.SLA_WARNING}
    assert Progress(Step.SLA_WARNING, "wo-1", 3, T0).entry("rep-1") is None


def test_a_timeline_row_names_the_order_the_step_and_its_detail() -> None:
    entry = Progress(Step.DISPATCHED, "wo-1", 2, T0, detail="派往 张网格").entry("rep-1")
    assert entry is not None
    assert (entry.report_id, entry.step, entry.label) == ("rep-1", "dispatched", "已派遣")
    assert (entry.work_order_id, entry.detail, entry.at) == ("wo-1", "派往 张网格", T0)


def test_a_step_may_say_it_in_other_words() -> None:
    entry = Progress(Step.VERIFIED, "wo-1", 5, T0, label="核查未通过").entry("rep-1")
    assert entry is not None and entry.label == "核查未通过"


@pytest.mark.parametrize(
    ("sequence", "last_sequence", "follows"), [(3, 2, True), (2, 2, False), (1, 2, False)]
)
def test_a_step_follows_a_newer_sequence_only(
    sequence: int, last_sequence: int, follows: bool
) -> None:
    assert Progress(Step.RESOLVED, "wo-1", sequence, T0).follows(last_sequence) is follows


def test_the_state_after_a_merge_is_what_the_order_showed() -> None:
    assert Progress(Step.MERGED, "wo-1", 4, T0).state_after is None
    assert Progress(Step.MERGED, "wo-1", 4, T0, order_state="claimed").state_after == "claimed"
    assert Progress(Step.REWORK, "wo-1", 4, T0).state_after == "rework"


# --- catalogues -------------------------------------------------------------------------------


def catalogue(district: str, *entries: tuple[str, bool], revision: int = 1) -> Catalogue:
    return Catalogue(
        district=district,
        district_name=f"区{district}",
        revision=revision,
        published_at=T0,
        entries=tuple(
            CatalogueEntry(code, f"类别{code}", code[:2], "组", "normal", "4 工作时", active)
            for code, active in entries
        ),
    )


YANZHOU = catalogue("370812", ("0101", True), ("0105", False))
RENCHENG = catalogue("370811", ("0101", True), ("0105", True), ("0201", True))


def test_a_newer_revision_supersedes_an_older_one() -> None:
    newer = catalogue("370812", ("0101", True), revision=2)
    assert newer.supersedes(None)
    assert newer.supersedes(YANZHOU)
    assert not YANZHOU.supersedes(newer)
    assert not YANZHOU.supersedes(YANZHOU)


def test_an_active_code_of_the_home_district_is_chosen() -> None:
    chosen = choose_category("0101", ["370812"], {"370812": YANZHOU})
    assert (chosen.code, chosen.name) == ("0101", "类别0101")


def test_a_code_active_in_another_covered_district_is_accepted() -> None:
    both = {"370812": YANZHOU, "370811": RENCHENG}
    assert choose_category("0105", ["370812", "370811"], both).active
    assert choose_category("0201", ["370812", "370811"], both).code == "0201"


def test_a_district_without_a_catalogue_is_not_served() -> None:
    with pytest.raises(DistrictNotServed) as refused:
        choose_category("0101", ["370899"], {"370812": YANZHOU})
    assert str(refused.value).startswith("district 370899 is not served here")
    assert isinstance(refused.value, ReportError)
    with pytest.raises(DistrictNotServed) as several:
        choose_category("0101", ["370899", "370898", "370899"], {})
    assert str(several.value).startswith("districts 370899, 370898 are not served here")


def test_districts_without_a_catalogue_are_passed_over_when_another_is_served() -> None:
    assert choose_category("0101", ["370899", "370812"], {"370812": YANZHOU}).code == "0101"


@pytest.mark.parametrize("code", ["0000", "0201", "9999"])
def test_an_unknown_code_names_the_code_the_districts_and_the_list(code: str) -> None:
    with pytest.raises(UnknownCategory) as refused:
        choose_category(code, ["370812"], {"370812": YANZHOU})
    message = str(refused.value)
    assert f"'{code}'" in message and "district 370812" in message
    assert "GET /v1/categories?district=370812" in message


def test_an_inactive_code_is_refused_as_such() -> None:
    with pytest.raises(InactiveCategory) as refused:
        choose_category("0105", ["370812"], {"370812": YANZHOU})
    assert "'0105' (类别0105) is no longer reported in district 370812" in str(refused.value)
