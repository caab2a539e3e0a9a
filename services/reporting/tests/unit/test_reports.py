"""The report's domain rules: the status projection of its work order's steps (stale events,
a verification's two events, merging, rejection), and the submit command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from reporting.domain.progress import Progress, Step
from reporting.domain.reports import STATUS_LABELS, Report, ReportStatus, SubmitReport

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
DUE = T0 + timedelta(hours=4)


def report(**changes: object) -> Report:
    values: dict[str, object] = {
        "id": "rep-1",
        "reporter_id": "rider-1",
        "district": "370812",
        "category": "0101",
        "lat": 35.55,
        "lon": 116.83,
        "text": "楼道堆放杂物",
        "submitted_at": T0,
        "updated_at": T0,
    }
    values.update(changes)
    return Report(**values)  # type: ignore[arg-type]


def command(**changes: object) -> SubmitReport:
    values: dict[str, object] = {
        "reporter_id": "rider-1",
        "district": "370812",
        "category": "0101",
        "lat": 35.5531,
        "lon": 116.8287,
        "text": "3号楼2单元楼道堆放杂物",
        "idempotency_key": "key-1",
    }
    values.update(changes)
    return SubmitReport(**values)  # type: ignore[arg-type]


def step(kind: Step, sequence: int, *, order: str = "wo-1", **fields: object) -> Progress:
    return Progress(kind, order, sequence, fields.pop("at", T0), **fields)  # type: ignore[arg-type]


def follow_all(target: Report, *steps: Progress) -> list[bool]:
    return [target.follow(s) for s in steps]


def reject(target: Report, *, at: datetime = T0) -> bool:
    return target.mark_rejected(code="outside_service_area", reason="不在服务范围", at=at)


# --- following the work order -----------------------------------------------------------------


def test_a_new_report_is_submitted_and_follows_no_order() -> None:
    fresh = report()
    assert fresh.status is ReportStatus.SUBMITTED
    assert (fresh.work_order_id, fresh.last_sequence, fresh.work_order_state) == (None, 0, None)
    assert STATUS_LABELS[fresh.status] == fresh.status_label == "已上报，待受理"


def test_every_status_has_a_label() -> None:
    assert set(STATUS_LABELS) == set(ReportStatus)


def test_filing_attaches_the_order_with_its_grid_and_category_name() -> None:
    target = report()
    later = T0 + timedelta(minutes=5)
    filed = step(
        Step.FILED, 1, at=later, grid_id="g-7", grid_name="鼓楼第7网格", category_name="楼道杂物"
    )
    assert target.follow(filed)
    assert target.status is ReportStatus.FILED
    assert (target.work_order_id, target.grid_id, target.grid_name) == (
        "wo-1",
        "g-7",
        "鼓楼第7网格",
    )
    assert (target.category_name, target.work_order_state) == ("楼道杂物", "filed")
    assert (target.last_sequence, target.last_step) == (1, "filed")
    assert target.updated_at == later
    assert target.submitted_at == T0


def test_the_whole_life_of_an_order() -> None:
    target = report()
    applied = follow_all(
        target,
        step(Step.FILED, 1),
        step(Step.DISPATCHED, 2, deadline=DUE),
        step(Step.CLAIMED, 3),
        step(Step.RESOLVED, 4),
        step(Step.VERIFIED, 5),
        step(Step.CLOSED, 6, at=T0 + timedelta(hours=2)),
    )
    assert applied == [True] * 6
    assert target.status is ReportStatus.CLOSED
    assert (target.work_order_state, target.deadline) == ("closed", DUE)
    assert target.closed_at == T0 + timedelta(hours=2)


@pytest.mark.parametrize(
    ("kind", "status", "state"),
    [
        (Step.PENDING_REVIEW, ReportStatus.PENDING_REVIEW, "pending_review"),
        (Step.DISPATCHED, ReportStatus.DISPATCHED, "dispatched"),
        (Step.CLAIMED, ReportStatus.CLAIMED, "claimed"),
        (Step.RESOLVED, ReportStatus.RESOLVED, "resolved"),
        (Step.REWORK, ReportStatus.REWORK, "rework"),
        (Step.CLOSED, ReportStatus.CLOSED, "closed"),
        (Step.REOPENED, ReportStatus.REOPENED, "reopened"),
        (Step.RATED, ReportStatus.RATED, "rated"),
        (Step.VOIDED, ReportStatus.VOIDED, "voided"),
        (Step.MERGED, ReportStatus.MERGED, None),
        (Step.RETURNED, ReportStatus.FILED, "returned"),
        (Step.VERIFIED, ReportStatus.FILED, "filed"),
        (Step.SLA_WARNING, ReportStatus.FILED, "filed"),
        (Step.OVERDUE, ReportStatus.FILED, "filed"),
        (Step.ESCALATED, ReportStatus.FILED, "filed"),
    ],
)
def test_each_step_sets_the_status_it_names_and_the_others_keep_it(
    kind: Step, status: ReportStatus, state: str | None
) -> None:
    target = report()
    if kind is not Step.MERGED:
        assert target.follow(step(Step.FILED, 1))
    assert target.follow(step(kind, 2))
    assert (target.status, target.work_order_state) == (status, state)


def test_an_older_or_equal_step_of_the_same_order_is_stale() -> None:
    target = report()
    assert follow_all(target, step(Step.FILED, 1), step(Step.CLAIMED, 3)) == [True, True]
    before = (target.status, target.last_sequence, target.updated_at)
    late = T0 + timedelta(hours=1)
    assert not target.follow(step(Step.DISPATCHED, 2, at=late))
    assert not target.follow(step(Step.RESOLVED, 3, at=late))
    assert (target.status, target.last_sequence, target.updated_at) == before


def test_a_verification_is_the_verdict_then_the_closing_or_rework_each_once() -> None:
    closing = report()
    assert follow_all(closing, step(Step.FILED, 1), step(Step.VERIFIED, 2), step(Step.CLOSED, 3))
    assert closing.status is ReportStatus.CLOSED
    assert not closing.follow(step(Step.CLOSED, 3))  # closed once
    assert not closing.follow(step(Step.VERIFIED, 2))  # an old verdict changes nothing
    reworked = report()
    assert follow_all(reworked, step(Step.FILED, 1), step(Step.VERIFIED, 2), step(Step.REWORK, 3))
    assert reworked.status is ReportStatus.REWORK


def test_a_step_of_another_order_does_not_concern_the_report() -> None:
    target = report()
    assert target.follow(step(Step.FILED, 1))
    assert not target.follow(step(Step.CLOSED, 9, order="wo-2"))
    assert (target.work_order_id, target.status) == ("wo-1", ReportStatus.FILED)


def test_a_submitted_report_takes_the_first_step_of_any_sequence_even_zero() -> None:
    target = report()
    assert target.follow(step(Step.FILED, 0))
    assert target.status is ReportStatus.FILED


def test_a_merged_report_then_follows_its_order() -> None:
    target = report()
    merged = step(Step.MERGED, 4, order_state="claimed", deadline=DUE)
    assert target.follow(merged)
    assert (target.status, target.work_order_id) == (ReportStatus.MERGED, "wo-1")
    assert (target.work_order_state, target.deadline) == ("claimed", DUE)
    assert not target.follow(step(Step.CLAIMED, 3))
    assert target.follow(step(Step.RESOLVED, 5))
    assert target.status is ReportStatus.RESOLVED


def test_a_deadline_stays_until_a_step_names_another() -> None:
    target = report()
    later = DUE + timedelta(days=1)
    follow_all(target, step(Step.FILED, 1), step(Step.DISPATCHED, 2, deadline=DUE))
    assert target.follow(step(Step.CLAIMED, 3))
    assert target.deadline == DUE
    assert target.follow(step(Step.REWORK, 4, deadline=later))
    assert target.deadline == later


def test_event_times_keep_their_instant() -> None:
    # Storage normalises to UTC (common.db.UtcDateTime); the domain keeps the instant.
    shanghai = datetime(2026, 11, 24, 0, 0, tzinfo=timezone(timedelta(hours=8)))
    followed, rejected = report(), report()
    assert followed.follow(step(Step.FILED, 1, at=shanghai))
    assert reject(rejected, at=shanghai)
    assert followed.updated_at == rejected.updated_at == shanghai


# --- rejection ------------------------------------------------------------------------------


def test_mark_rejected_records_code_and_reason() -> None:
    target = report()
    assert target.mark_rejected(code="unknown_category", reason="类别无效", at=T0)
    assert target.status is ReportStatus.REJECTED
    assert (target.rejection_code, target.rejection_reason) == ("unknown_category", "类别无效")
    assert target.work_order_state is None
    entry = target.rejected_entry()
    assert (entry.step, entry.label, entry.detail, entry.at) == (
        "rejected",
        "不予立案",
        "类别无效",
        T0,
    )


def test_a_report_under_review_may_be_rejected() -> None:
    target = report()
    assert target.follow(step(Step.PENDING_REVIEW, 1))
    assert reject(target)
    assert (target.status, target.work_order_state) == (ReportStatus.REJECTED, "rejected")
    assert target.rejected_entry().work_order_id == "wo-1"


@pytest.mark.parametrize("kind", [Step.FILED, Step.MERGED])
def test_a_filed_or_merged_report_ignores_a_rejection(kind: Step) -> None:
    target = report()
    assert target.follow(step(kind, 2))
    assert not reject(target, at=T0 + timedelta(hours=1))
    assert target.status is not ReportStatus.REJECTED
    assert target.rejection_code is None


def test_a_rejection_is_final() -> None:
    target = report()
    assert reject(target)
    assert not target.follow(step(Step.FILED, 2))
    assert not target.follow(step(Step.PENDING_REVIEW, 1))
    assert not reject(target)
    assert (target.status, target.work_order_id) == (ReportStatus.REJECTED, None)


# --- submit command -------------------------------------------------------------------------


def test_fingerprint_is_stable_for_the_same_content() -> None:
    assert command().fingerprint() == command().fingerprint()
    assert len(command().fingerprint()) == 64


def test_fingerprint_ignores_who_which_key_and_which_districts() -> None:
    # The key and the reporter are the lookup, not the content.
    assert (
        command().fingerprint()
        == command(idempotency_key="other", reporter_id="x", districts=("370811",)).fingerprint()
    )


@pytest.mark.parametrize(
    "change",
    [
        {"category": "0102"},
        {"lat": 35.5532},
        {"lon": 116.8288},
        {"text": "3号楼2单元楼道堆放杂物!"},
    ],
)
def test_fingerprint_changes_with_the_content(change: dict[str, object]) -> None:
    assert command(**change).fingerprint() != command().fingerprint()


def test_fingerprint_rounds_coordinates_to_seven_decimals() -> None:
    assert command(lat=35.12345671).fingerprint() == command(lat=35.123456705).fingerprint()
    assert command(lat=35.1234567).fingerprint() != command(lat=35.1234568).fingerprint()


def test_the_covered_districts_default_to_the_home_district() -> None:
    assert command().covered == ("370812",)
    assert command(districts=("370812", "370811")).covered == ("370812", "370811")
