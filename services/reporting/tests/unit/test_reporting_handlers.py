"""Reporting use cases driven with an in-memory unit of work (no I/O)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from common.contracts.envelope import CloudEvent
from common.contracts.events import ReportSubmitted
from common.paging import SortKey
from gridloop_tools.testing.builders import apply, as_event, report_rejected, work_order_filed
from gridloop_tools.testing.service_fixtures import FakeUnitOfWorkBase, newest_first_page
from reporting.domain.reports import (
    IdempotencyConflict,
    Report,
    ReportStatus,
    SubmitReport,
    UnknownCategory,
)
from reporting.service_layer import handlers
from reporting.service_layer.unit_of_work import AbstractReportingUnitOfWork

FILED_AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


# --- fakes ----------------------------------------------------------------------------------


class FakeReports:
    def __init__(self) -> None:
        self.rows: dict[str, Report] = {}

    async def add(self, report: Report) -> None:
        self.rows[report.id] = dataclasses.replace(report)

    async def get(self, report_id: str, *, for_update: bool = False) -> Report | None:
        found = self.rows.get(report_id)
        return dataclasses.replace(found) if found else None

    async def save(self, report: Report) -> None:
        if report.id not in self.rows:
            raise LookupError(report.id)
        self.rows[report.id] = dataclasses.replace(report)

    async def list_by_reporter(
        self, reporter_id: str, *, limit: int, after: SortKey | None
    ) -> list[Report]:
        mine = [r for r in self.rows.values() if r.reporter_id == reporter_id]
        return newest_first_page(
            mine, lambda r: SortKey(r.submitted_at, r.id), after=after, limit=limit
        )


class FakeIdempotency:
    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], tuple[str, str]] = {}

    async def find(self, reporter_id: str, key: str) -> tuple[str, str] | None:
        return self.keys.get((reporter_id, key))

    async def remember(self, reporter_id: str, key: str, fingerprint: str, report_id: str) -> None:
        self.keys[(reporter_id, key)] = (fingerprint, report_id)


class FakeUnitOfWork(FakeUnitOfWorkBase):
    def __init__(self) -> None:
        super().__init__()
        self.reports = FakeReports()
        self.idempotency = FakeIdempotency()


def _typed(uow: FakeUnitOfWork) -> AbstractReportingUnitOfWork:
    return uow


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def submit_command(**changes: object) -> SubmitReport:
    values: dict[str, object] = {
        "reporter_id": "rider-1",
        "district": "370812",
        "category": "0301",
        "lat": 35.5531,
        "lon": 116.8287,
        "text": "小区门口暴露垃圾",
        "idempotency_key": "key-1",
    }
    values.update(changes)
    return SubmitReport(**values)  # type: ignore[arg-type]


def filed_event(report_id: str, *, sequence: int = 1, work_order_id: str = "wo-1") -> CloudEvent:
    data = work_order_filed(report_id=report_id, work_order_id=work_order_id, filed_at=FILED_AT)
    return as_event(data, sequence=sequence)


def rejected_event(report_id: str, *, sequence: int = 1) -> CloudEvent:
    data = report_rejected(
        report_id=report_id, reason="上报位置不在本区服务范围内", rejected_at=FILED_AT
    )
    return as_event(data, sequence=sequence)


async def submitted(uow: FakeUnitOfWork, report_id: str = "rep-1") -> Report:
    submission = await handlers.submit_report(
        submit_command(), _typed(uow), new_id=lambda: report_id
    )
    uow.outbox.events.clear()
    uow.committed = False
    return submission.report


# --- submit_report ----------------------------------------------------------------------------


async def test_submit_stores_the_report_and_queues_report_submitted(uow: FakeUnitOfWork) -> None:
    submission = await handlers.submit_report(submit_command(), _typed(uow), new_id=lambda: "rep-1")

    assert not submission.replayed
    assert submission.report.id == "rep-1"
    assert submission.report.status is ReportStatus.SUBMITTED
    assert uow.committed
    assert set(uow.reports.rows) == {"rep-1"}
    assert len(uow.outbox.events) == 1
    data, subject, sequence = uow.outbox.events[0]
    assert isinstance(data, ReportSubmitted)
    assert subject == "rep-1"
    assert sequence == 1
    assert (data.report_id, data.reporter_id, data.category) == ("rep-1", "rider-1", "0301")
    assert (data.lat, data.lon, data.text) == (35.5531, 116.8287, "小区门口暴露垃圾")
    assert data.submitted_at == submission.report.submitted_at
    assert uow.idempotency.keys[("rider-1", "key-1")] == (submit_command().fingerprint(), "rep-1")


async def test_submit_without_a_key_remembers_nothing(uow: FakeUnitOfWork) -> None:
    await handlers.submit_report(submit_command(idempotency_key=None), _typed(uow))
    await handlers.submit_report(submit_command(idempotency_key=None), _typed(uow))
    assert uow.idempotency.keys == {}
    assert len(uow.reports.rows) == 2
    assert len(uow.outbox.events) == 2


async def test_same_key_and_body_returns_the_original(uow: FakeUnitOfWork) -> None:
    first = await handlers.submit_report(submit_command(), _typed(uow), new_id=lambda: "rep-1")
    uow.outbox.events.clear()
    uow.committed = False

    again = await handlers.submit_report(submit_command(), _typed(uow), new_id=lambda: "rep-2")

    assert again.replayed
    assert again.report.id == "rep-1"
    assert again.report == first.report
    assert uow.outbox.events == []
    assert not uow.committed
    assert set(uow.reports.rows) == {"rep-1"}


async def test_same_key_with_a_different_body_conflicts(uow: FakeUnitOfWork) -> None:
    await handlers.submit_report(submit_command(), _typed(uow), new_id=lambda: "rep-1")
    uow.outbox.events.clear()
    uow.committed = False

    with pytest.raises(IdempotencyConflict):
        await handlers.submit_report(
            submit_command(text="另一个问题"), _typed(uow), new_id=lambda: "rep-2"
        )
    assert set(uow.reports.rows) == {"rep-1"}
    assert uow.outbox.events == []
    assert not uow.committed


async def test_the_same_key_of_another_reporter_is_a_new_report(uow: FakeUnitOfWork) -> None:
    await handlers.submit_report(submit_command(), _typed(uow), new_id=lambda: "rep-1")
    other = await handlers.submit_report(
        submit_command(reporter_id="rider-2", text="别的内容"), _typed(uow), new_id=lambda: "rep-2"
    )
    assert not other.replayed
    assert set(uow.reports.rows) == {"rep-1", "rep-2"}


async def test_unknown_category_raises_before_anything_is_stored(uow: FakeUnitOfWork) -> None:
    with pytest.raises(UnknownCategory):
        await handlers.submit_report(submit_command(category="0000"), _typed(uow))
    assert uow.reports.rows == {}
    assert uow.idempotency.keys == {}
    assert uow.outbox.events == []
    assert not uow.committed


# --- status projection ------------------------------------------------------------------------


async def test_work_order_filed_marks_the_report_filed(uow: FakeUnitOfWork) -> None:
    await submitted(uow)
    outcome = await apply(
        handlers.on_work_order_filed, filed_event("rep-1", work_order_id="wo-7"), _typed(uow)
    )
    assert outcome == "processed"
    stored = uow.reports.rows["rep-1"]
    assert stored.status is ReportStatus.FILED
    assert stored.work_order_id == "wo-7"
    assert stored.grid_name == "鼓楼街道第1社区第1网格"
    assert stored.updated_at == FILED_AT
    assert uow.outbox.events == []


async def test_report_rejected_marks_the_report_rejected(uow: FakeUnitOfWork) -> None:
    await submitted(uow)
    outcome = await apply(handlers.on_report_rejected, rejected_event("rep-1"), _typed(uow))
    assert outcome == "processed"
    stored = uow.reports.rows["rep-1"]
    assert stored.status is ReportStatus.REJECTED
    assert stored.rejection_code == "outside_service_area"
    assert stored.rejection_reason == "上报位置不在本区服务范围内"


async def test_an_older_rejection_after_filing_is_stale(uow: FakeUnitOfWork) -> None:
    await submitted(uow)
    assert (
        await apply(handlers.on_work_order_filed, filed_event("rep-1", sequence=2), _typed(uow))
        == "processed"
    )
    assert (
        await apply(handlers.on_report_rejected, rejected_event("rep-1", sequence=1), _typed(uow))
        == "stale"
    )
    assert uow.reports.rows["rep-1"].status is ReportStatus.FILED


async def test_an_older_filing_after_rejection_is_stale(uow: FakeUnitOfWork) -> None:
    await submitted(uow)
    assert (
        await apply(handlers.on_report_rejected, rejected_event("rep-1", sequence=3), _typed(uow))
        == "processed"
    )
    assert (
        await apply(handlers.on_work_order_filed, filed_event("rep-1", sequence=2), _typed(uow))
        == "stale"
    )
    stored = uow.reports.rows["rep-1"]
    assert stored.status is ReportStatus.REJECTED
    assert stored.work_order_id is None


async def test_events_for_an_unknown_report_are_ignored(uow: FakeUnitOfWork) -> None:
    assert await apply(handlers.on_work_order_filed, filed_event("nope"), _typed(uow)) == "ignored"
    assert (
        await apply(handlers.on_report_rejected, rejected_event("nope"), _typed(uow)) == "ignored"
    )
    assert uow.reports.rows == {}
