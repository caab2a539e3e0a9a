"""The report's domain rules: the status projection with stale events, and the submit command."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from reporting.domain.reports import (
    STATUS_LABELS,
    Report,
    ReportError,
    ReportStatus,
    SubmitReport,
    UnknownCategory,
)

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


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


def file(target: Report, sequence: int, *, at: datetime = T0) -> bool:
    return target.mark_filed(
        work_order_id=f"wo-{sequence}", grid_id="g-1", grid_name="第1网格", sequence=sequence, at=at
    )


def reject(target: Report, sequence: int, *, at: datetime = T0) -> bool:
    return target.mark_rejected(
        code="outside_service_area", reason="不在服务范围", sequence=sequence, at=at
    )


# --- status projection ----------------------------------------------------------------------


def test_a_new_report_is_submitted_with_sequence_zero() -> None:
    fresh = report()
    assert fresh.status is ReportStatus.SUBMITTED
    assert fresh.last_sequence == 0
    assert STATUS_LABELS[fresh.status] == "已上报，待受理"


def test_mark_filed_applies_the_work_order() -> None:
    target = report()
    later = T0 + timedelta(minutes=5)
    assert target.mark_filed(
        work_order_id="wo-9", grid_id="g-7", grid_name="鼓楼第7网格", sequence=1, at=later
    )
    assert target.status is ReportStatus.FILED
    assert (target.work_order_id, target.grid_id, target.grid_name) == (
        "wo-9",
        "g-7",
        "鼓楼第7网格",
    )
    assert target.last_sequence == 1
    assert target.updated_at == later
    assert target.submitted_at == T0


def test_mark_rejected_records_code_and_reason() -> None:
    target = report()
    assert target.mark_rejected(code="unknown_category", reason="类别无效", sequence=1, at=T0)
    assert target.status is ReportStatus.REJECTED
    assert (target.rejection_code, target.rejection_reason) == ("unknown_category", "类别无效")
    assert target.last_sequence == 1


def test_a_submitted_report_accepts_any_sequence_even_zero() -> None:
    target = report()
    assert not target.is_stale(0)
    assert file(target, 0)
    assert target.status is ReportStatus.FILED


@pytest.mark.parametrize("apply", [file, reject])
def test_event_times_keep_their_instant(apply: Callable[..., bool]) -> None:
    # Storage normalises to UTC (common.db.UtcDateTime); the domain keeps the instant.
    target = report()
    shanghai = datetime(2026, 11, 24, 0, 0, tzinfo=timezone(timedelta(hours=8)))
    assert apply(target, 1, at=shanghai)
    assert target.updated_at == shanghai


@pytest.mark.parametrize("sequence", [1, 2])
def test_filed_report_ignores_an_older_or_equal_rejection(sequence: int) -> None:
    target = report()
    assert file(target, 2)
    before = (target.status, target.rejection_code, target.last_sequence, target.updated_at)
    assert not reject(target, sequence, at=T0 + timedelta(hours=1))
    assert (target.status, target.rejection_code, target.last_sequence, target.updated_at) == before


def test_filed_report_ignores_an_older_filing() -> None:
    target = report()
    assert file(target, 3)
    assert not file(target, 2)
    assert target.work_order_id == "wo-3"
    assert target.last_sequence == 3


def test_rejected_report_ignores_a_stale_filing_but_takes_a_newer_one() -> None:
    target = report()
    assert reject(target, 1)
    assert not file(target, 1)
    assert target.status is ReportStatus.REJECTED
    assert file(target, 2)
    assert target.status is ReportStatus.FILED
    assert target.last_sequence == 2


# --- submit command -------------------------------------------------------------------------


def test_fingerprint_is_stable_for_the_same_content() -> None:
    assert command().fingerprint() == command().fingerprint()
    assert len(command().fingerprint()) == 64


def test_fingerprint_ignores_who_and_which_key() -> None:
    # The key and the reporter are the lookup, not the content.
    assert (
        command().fingerprint() == command(idempotency_key="other", reporter_id="x").fingerprint()
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


def test_known_category_is_returned() -> None:
    category = command(category="0102").category_or_error()
    assert category.code == "0102"
    assert category.name == "消防/疏散通道堵占"


@pytest.mark.parametrize("code", ["0000", "0105", "9999", "abcd"])
def test_unknown_category_raises_with_the_code(code: str) -> None:
    with pytest.raises(UnknownCategory) as info:
        command(category=code).category_or_error()
    assert code in str(info.value)
    assert "/v1/categories" in str(info.value)
    assert isinstance(info.value, ReportError)
