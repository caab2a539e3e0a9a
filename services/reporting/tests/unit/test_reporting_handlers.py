"""Reporting use cases driven with an in-memory unit of work (no I/O): submitting against the
districts' catalogues, keeping the newest catalogue, projecting every work-order event onto
the reports it concerns, and forwarding the reporter's rating and reopening."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from common.contracts.base import EventData
from common.contracts.envelope import CloudEvent
from common.contracts.events import ReportSubmitted
from common.contracts.workorder_events import ReportRated, ReportReopenRequested
from common.messaging.ports import HandlerOutcome
from common.paging import SortKey
from gridloop_tools.testing import builders
from gridloop_tools.testing.builders import apply, keyed_event, published_category
from gridloop_tools.testing.service_fixtures import FakeUnitOfWorkBase, newest_first_page
from reporting.domain.catalogues import Catalogue
from reporting.domain.errors import (
    DistrictNotServed,
    IdempotencyConflict,
    InactiveCategory,
    ReportNotFound,
    UnknownCategory,
)
from reporting.domain.limits import EarlierReport, SubmissionLimits
from reporting.domain.photos import Photo, Referrer
from reporting.domain.progress import TimelineEntry
from reporting.domain.reporter_requests import (
    AskAboutReport,
    ReporterRequest,
    RequestAction,
    RequestRefused,
)
from reporting.domain.reports import Report, ReportStatus, SubmitReport
from reporting.service_layer import handlers, projection
from reporting.service_layer.reporter_requests import ask_about_report
from reporting.service_layer.unit_of_work import AbstractReportingUnitOfWork

AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
WEEK = timedelta(days=7)


# --- fakes ----------------------------------------------------------------------------------


class FakeReports:
    def __init__(self) -> None:
        self.rows: dict[str, Report] = {}

    async def add(self, report: Report) -> None:
        self.rows[report.id] = dataclasses.replace(report)

    async def get(self, report_id: str, *, for_update: bool = False) -> Report | None:
        found = self.rows.get(report_id)
        return dataclasses.replace(found) if found else None

    async def following(
        self, work_order_id: str, or_report_id: str | None = None, *, for_update: bool = False
    ) -> list[Report]:
        return [
            dataclasses.replace(r)
            for r in sorted(self.rows.values(), key=lambda r: (r.submitted_at, r.id))
            if r.work_order_id == work_order_id or r.id == or_report_id
        ]

    async def save(self, report: Report) -> None:
        if report.id not in self.rows:
            raise LookupError(report.id)
        self.rows[report.id] = dataclasses.replace(report)

    async def recent_of(self, reporter_id: str, *, since: datetime) -> list[EarlierReport]:
        return [
            EarlierReport(r.id, r.category, r.lat, r.lon, r.submitted_at, r.status.value)
            for r in self.rows.values()
            if r.reporter_id == reporter_id and r.submitted_at > since
        ]

    async def list_by_reporter(
        self,
        reporter_id: str,
        *,
        limit: int,
        after: SortKey | None,
        statuses: Sequence[ReportStatus] = (),
    ) -> list[Report]:
        mine = [
            r
            for r in self.rows.values()
            if r.reporter_id == reporter_id and (not statuses or r.status in statuses)
        ]
        return newest_first_page(
            mine, lambda r: SortKey(r.submitted_at, r.id), after=after, limit=limit
        )


class FakeReporters:
    def __init__(self) -> None:
        self.held: list[str] = []

    async def hold(self, reporter_id: str, at: datetime) -> None:
        self.held.append(reporter_id)


class FakeIdempotency:
    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], tuple[str, str]] = {}

    async def find(self, reporter_id: str, key: str) -> tuple[str, str] | None:
        return self.keys.get((reporter_id, key))

    async def remember(self, reporter_id: str, key: str, fingerprint: str, report_id: str) -> None:
        self.keys[(reporter_id, key)] = (fingerprint, report_id)


class FakeTimeline:
    def __init__(self) -> None:
        self.entries: list[TimelineEntry] = []

    async def add(self, entry: TimelineEntry) -> None:
        self.entries.append(entry)

    async def add_once(self, entry: TimelineEntry) -> bool:
        told = {(e.report_id, e.key) for e in self.entries if e.key is not None}
        if (entry.report_id, entry.key) in told:
            return False
        self.entries.append(entry)
        return True

    async def of_report(self, report_id: str) -> list[TimelineEntry]:
        return [e for e in self.entries if e.report_id == report_id]

    def steps(self, report_id: str) -> list[str]:
        return [e.step for e in self.entries if e.report_id == report_id]


class FakeCatalogues:
    def __init__(self) -> None:
        self.stored: dict[str, Catalogue] = {}

    async def get(self, district: str, *, for_update: bool = False) -> Catalogue | None:
        return self.stored.get(district)

    async def of_districts(self, districts: Sequence[str] | None) -> dict[str, Catalogue]:
        return {d: c for d, c in self.stored.items() if districts is None or d in districts}

    async def put(self, catalogue: Catalogue) -> None:
        self.stored[catalogue.district] = catalogue


class FakeRequests:
    def __init__(self) -> None:
        self.rows: list[ReporterRequest] = []

    async def add(self, request: ReporterRequest) -> None:
        self.rows.append(request)

    async def of_report(self, report_id: str) -> list[ReporterRequest]:
        return [r for r in self.rows if r.report_id == report_id]

    async def by_key(self, reporter_id: str, key: str) -> ReporterRequest | None:
        return next(
            (r for r in self.rows if (r.reporter_id, r.idempotency_key) == (reporter_id, key)),
            None,
        )


class FakePhotos:
    def __init__(self) -> None:
        self.stored: dict[str, Photo] = {}
        self.attached: dict[str, list[str]] = {}

    async def add(self, photo: Photo) -> None:
        self.stored[photo.id] = photo

    async def get(self, photo_id: str) -> Photo | None:
        return self.stored.get(photo_id)

    async def get_many(self, photo_ids: Sequence[str]) -> dict[str, Photo]:
        return {i: self.stored[i] for i in photo_ids if i in self.stored}

    async def by_uploader_and_hash(self, uploader_id: str, content_hash: str) -> Photo | None:
        return next(
            (
                p
                for p in self.stored.values()
                if (p.uploader_id, p.content_hash) == (uploader_id, content_hash)
            ),
            None,
        )

    async def attach(self, report_id: str, photo_ids: Sequence[str]) -> None:
        self.attached[report_id] = list(photo_ids)

    async def referrers(self, photo_id: str) -> list[Referrer]:
        return []


class FakeUnitOfWork(FakeUnitOfWorkBase):
    def __init__(self) -> None:
        super().__init__()
        self.reports = FakeReports()
        self.idempotency = FakeIdempotency()
        self.reporters = FakeReporters()
        self.timeline = FakeTimeline()
        self.catalogues = FakeCatalogues()
        self.requests = FakeRequests()
        self.photos = FakePhotos()


def _typed(uow: FakeUnitOfWork) -> AbstractReportingUnitOfWork:
    return uow


@pytest.fixture
def uow() -> FakeUnitOfWork:
    fake = FakeUnitOfWork()
    fake.catalogues.stored["370812"] = handlers.catalogue_of(
        builders.district_catalogue_published(
            categories=[published_category("0301"), published_category("0104", active=False)]
        )
    )
    return fake


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


def fresh(uow: FakeUnitOfWork) -> None:
    uow.outbox.events.clear()
    uow.committed = False


async def submitted(
    uow: FakeUnitOfWork, report_id: str = "rep-1", reporter_id: str = "rider-1"
) -> Report:
    command = submit_command(reporter_id=reporter_id, idempotency_key=None)
    submission = await handlers.submit_report(command, _typed(uow), new_id=lambda: report_id)
    fresh(uow)
    return submission.report


async def feed(uow: FakeUnitOfWork, *events: tuple[EventData, int]) -> list[HandlerOutcome | None]:
    """Each event with its sequence, through the handler the consumer would pick."""
    outcomes = []
    for data, sequence in events:
        handler = (
            projection.on_report_rejected
            if data.event_type.endswith("rejected")
            else (projection.on_work_order_event)
        )
        outcomes.append(await apply(handler, keyed_event(data, sequence=sequence), _typed(uow)))
    return outcomes


def status(uow: FakeUnitOfWork, report_id: str = "rep-1") -> ReportStatus:
    return uow.reports.rows[report_id].status


# --- submit_report ----------------------------------------------------------------------------


async def test_submit_stores_the_report_and_queues_report_submitted(uow: FakeUnitOfWork) -> None:
    command = submit_command(districts=("370812", "370811"))
    submission = await handlers.submit_report(command, _typed(uow), new_id=lambda: "rep-1")

    assert not submission.replayed
    assert submission.report.id == "rep-1"
    assert submission.report.status is ReportStatus.SUBMITTED
    assert submission.report.category_name == "暴露垃圾"
    assert uow.committed
    assert set(uow.reports.rows) == {"rep-1"}
    assert uow.timeline.steps("rep-1") == ["submitted"]
    assert len(uow.outbox.events) == 1
    data, subject, sequence = uow.outbox.events[0]
    assert isinstance(data, ReportSubmitted)
    assert subject == "rep-1"
    assert sequence == 1
    assert (data.report_id, data.reporter_id, data.category) == ("rep-1", "rider-1", "0301")
    assert (data.lat, data.lon, data.text) == (35.5531, 116.8287, "小区门口暴露垃圾")
    assert data.submitted_at == submission.report.submitted_at
    assert data.reporter_districts == ["370812", "370811"]
    assert uow.outbox.districts == [submission.report.district]
    assert uow.idempotency.keys[("rider-1", "key-1")] == (command.fingerprint(), "rep-1")


async def test_submit_without_a_key_remembers_nothing(uow: FakeUnitOfWork) -> None:
    await handlers.submit_report(submit_command(idempotency_key=None), _typed(uow))
    await handlers.submit_report(submit_command(idempotency_key=None), _typed(uow))
    assert uow.idempotency.keys == {}
    assert len(uow.reports.rows) == 2
    assert len(uow.outbox.events) == 2


async def test_with_limits_the_reporter_is_held_and_a_repeat_answers_the_earlier_report(
    uow: FakeUnitOfWork,
) -> None:
    limits = SubmissionLimits()
    first = await handlers.submit_report(
        submit_command(idempotency_key=None, limits=limits), _typed(uow), new_id=lambda: "rep-1"
    )
    fresh(uow)
    again = await handlers.submit_report(
        submit_command(idempotency_key=None, limits=limits), _typed(uow), new_id=lambda: "rep-2"
    )
    assert uow.reporters.held == ["rider-1", "rider-1"]
    assert again.duplicate and not again.replayed
    assert again.report.id == first.report.id == "rep-1"
    assert set(uow.reports.rows) == {"rep-1"}
    assert uow.outbox.events == []


async def test_same_key_and_body_returns_the_original(uow: FakeUnitOfWork) -> None:
    first = await handlers.submit_report(submit_command(), _typed(uow), new_id=lambda: "rep-1")
    fresh(uow)

    again = await handlers.submit_report(submit_command(), _typed(uow), new_id=lambda: "rep-2")

    assert again.replayed
    assert again.report == first.report
    assert uow.outbox.events == []
    assert not uow.committed
    assert set(uow.reports.rows) == {"rep-1"}


async def test_a_retry_is_answered_even_after_the_category_was_withdrawn(
    uow: FakeUnitOfWork,
) -> None:
    await handlers.submit_report(submit_command(), _typed(uow), new_id=lambda: "rep-1")
    uow.catalogues.stored.clear()
    again = await handlers.submit_report(submit_command(), _typed(uow), new_id=lambda: "rep-2")
    assert again.replayed and again.report.id == "rep-1"


async def test_same_key_with_a_different_body_conflicts(uow: FakeUnitOfWork) -> None:
    await handlers.submit_report(submit_command(), _typed(uow), new_id=lambda: "rep-1")
    fresh(uow)

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


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"category": "0000"}, UnknownCategory),
        ({"category": "0104"}, InactiveCategory),
        ({"district": "370899"}, DistrictNotServed),
        ({"districts": ("370899", "370898")}, DistrictNotServed),
    ],
)
async def test_a_refused_submission_stores_nothing(
    uow: FakeUnitOfWork, change: dict[str, object], refusal: type[Exception]
) -> None:
    with pytest.raises(refusal):
        await handlers.submit_report(submit_command(**change), _typed(uow))
    assert uow.reports.rows == {}
    assert uow.idempotency.keys == {}
    assert uow.timeline.entries == []
    assert uow.outbox.events == []
    assert not uow.committed


async def test_a_category_of_another_covered_district_is_accepted(uow: FakeUnitOfWork) -> None:
    uow.catalogues.stored["370811"] = handlers.catalogue_of(
        builders.district_catalogue_published(
            district="370811", categories=[published_category("0104")]
        )
    )
    command = submit_command(category="0104", districts=("370812", "370811"))
    submission = await handlers.submit_report(command, _typed(uow))
    assert submission.report.category_name == "废弃家具/大件垃圾"


# --- the districts' catalogues ------------------------------------------------------------------


async def test_the_newest_catalogue_revision_is_kept(uow: FakeUnitOfWork) -> None:
    def published(revision: int, *codes: str) -> CloudEvent:
        data = builders.district_catalogue_published(
            district="370811", revision=revision, categories=[published_category(c) for c in codes]
        )
        return keyed_event(data)

    on_published = handlers.on_catalogue_published
    assert await apply(on_published, published(2, "0101", "0102"), _typed(uow)) == "processed"
    assert await apply(on_published, published(1, "0101"), _typed(uow)) == "stale"
    assert await apply(on_published, published(2, "0101"), _typed(uow)) == "stale"
    kept = uow.catalogues.stored["370811"]
    assert (kept.revision, [e.code for e in kept.entries]) == (2, ["0101", "0102"])
    assert await apply(on_published, published(3, "0201"), _typed(uow)) == "processed"
    assert [e.code for e in uow.catalogues.stored["370811"].entries] == ["0201"]
    assert uow.outbox.events == []


# --- the status projection ----------------------------------------------------------------------


async def test_work_order_filed_marks_the_report_filed(uow: FakeUnitOfWork) -> None:
    await submitted(uow)
    filed = builders.work_order_filed(report_id="rep-1", work_order_id="wo-7", filed_at=AT)
    assert await feed(uow, (filed, 1)) == ["processed"]
    stored = uow.reports.rows["rep-1"]
    assert stored.status is ReportStatus.FILED
    assert (stored.work_order_id, stored.work_order_state) == ("wo-7", "filed")
    assert stored.grid_name == "鼓楼街道第1社区第1网格"
    assert stored.updated_at == AT
    assert uow.timeline.steps("rep-1") == ["submitted", "filed"]
    assert uow.outbox.events == []


async def test_the_reporter_follows_every_step_with_a_timeline_row(uow: FakeUnitOfWork) -> None:
    await submitted(uow)
    outcomes = await feed(
        uow,
        (builders.work_order_filed(), 1),
        (builders.work_order_dispatched(assignee_name="李网格"), 2),
        (builders.work_order_claimed(), 3),
        (builders.work_order_sla_warning(), 4),
        (builders.work_order_resolved(note="已清理"), 5),
        (builders.work_order_verified(passed=False, note="仍有杂物"), 6),
        (builders.work_order_rework(), 7),
        (builders.work_order_claimed(), 8),
        (builders.work_order_resolved(), 9),
        (builders.work_order_verified(), 10),
        (builders.work_order_closed(on_time=False), 11),
    )
    assert outcomes == ["processed"] * 11
    assert uow.timeline.steps("rep-1") == [
        "submitted", "filed", "dispatched", "claimed", "resolved", "verified", "rework",
        "claimed", "resolved", "verified", "closed",
    ]  # fmt: skip
    details = {e.step: e.detail for e in uow.timeline.entries}
    assert details["dispatched"] == "派往 李网格"
    assert details["rework"] == "仍有杂物"
    assert details["closed"] == "超期结案"
    labels = [e.label for e in uow.timeline.entries if e.step == "verified"]
    assert labels == ["核查未通过", "核查通过"]
    stored = uow.reports.rows["rep-1"]
    assert (stored.status, stored.work_order_state, stored.closed_at) == (
        ReportStatus.CLOSED,
        "closed",
        AT,
    )
    assert stored.deadline == AT + timedelta(hours=4)


async def test_an_older_event_of_the_order_is_stale(uow: FakeUnitOfWork) -> None:
    await submitted(uow)
    outcomes = await feed(
        uow,
        (builders.work_order_filed(), 1),
        (builders.work_order_claimed(), 3),
        (builders.work_order_dispatched(), 2),
        (builders.work_order_claimed(), 3),
    )
    assert outcomes == ["processed", "processed", "stale", "stale"]
    assert status(uow) is ReportStatus.CLAIMED
    assert uow.timeline.steps("rep-1") == ["submitted", "filed", "claimed"]


async def test_an_older_rejection_after_filing_is_stale(uow: FakeUnitOfWork) -> None:
    await submitted(uow)
    outcomes = await feed(uow, (builders.work_order_filed(), 2), (builders.report_rejected(), 1))
    assert outcomes == ["processed", "stale"]
    assert status(uow) is ReportStatus.FILED


async def test_a_rejection_after_review_is_final(uow: FakeUnitOfWork) -> None:
    await submitted(uow)
    rejected = builders.report_rejected(reason="核实不属实")
    outcomes = await feed(
        uow,
        (builders.work_order_review_requested(), 1),
        (rejected, 1),
        (builders.work_order_filed(), 2),
    )
    assert outcomes == ["processed", "processed", "stale"]
    stored = uow.reports.rows["rep-1"]
    assert (stored.status, stored.work_order_state) == (ReportStatus.REJECTED, "rejected")
    assert uow.timeline.steps("rep-1") == ["submitted", "pending_review", "rejected"]
    assert uow.timeline.entries[-1].detail == "核实不属实"


async def test_a_merged_report_joins_the_order_and_follows_it(uow: FakeUnitOfWork) -> None:
    await submitted(uow, "rep-1", "rider-1")
    await submitted(uow, "rep-2", "rider-2")
    both = ["rider-1", "rider-2"]
    outcomes = await feed(
        uow,
        (builders.work_order_filed(), 1),
        (builders.work_order_dispatched(), 2),
        (builders.work_order_merged(merged_report_id="rep-2", merged_reporter_id="rider-2"), 3),
        (builders.work_order_claimed(reporter_ids=both), 4),
        (builders.work_order_voided(reporter_ids=both, report_ids=["rep-1", "rep-2"]), 5),
    )
    assert outcomes == ["processed"] * 5
    assert uow.timeline.steps("rep-2") == ["submitted", "merged", "claimed", "voided"]
    assert uow.timeline.steps("rep-1") == ["submitted", "filed", "dispatched", "claimed", "voided"]
    merged = uow.reports.rows["rep-2"]
    assert (merged.status, merged.work_order_id) == (ReportStatus.VOIDED, "wo-rep-1")
    assert merged.grid_id == "370812-01-001-1"
    assert status(uow, "rep-1") is ReportStatus.VOIDED


async def test_a_merged_report_shows_what_the_order_showed(uow: FakeUnitOfWork) -> None:
    await submitted(uow, "rep-1")
    await submitted(uow, "rep-2", "rider-2")
    await feed(
        uow,
        (builders.work_order_filed(), 1),
        (builders.work_order_dispatched(), 2),
        (builders.work_order_claimed(), 3),
        (builders.work_order_merged(merged_report_id="rep-2"), 4),
    )
    merged = uow.reports.rows["rep-2"]
    assert (merged.status, merged.status_label) == (
        ReportStatus.MERGED,
        "已并单，与已受理的工单合并处理",
    )
    assert (merged.work_order_state, merged.deadline) == ("claimed", AT + timedelta(hours=4))
    assert status(uow, "rep-1") is ReportStatus.CLAIMED  # the merge changes nothing there


async def test_a_merge_replayed_after_the_order_moved_on_is_stale(uow: FakeUnitOfWork) -> None:
    await submitted(uow, "rep-1")
    await submitted(uow, "rep-2", "rider-2")
    merged = builders.work_order_merged(merged_report_id="rep-2")
    outcomes = await feed(
        uow,
        (builders.work_order_filed(), 1),
        (merged, 2),
        (builders.work_order_claimed(reporter_ids=["rider-1", "rider-2"]), 3),
        (merged, 2),
    )
    assert outcomes == ["processed", "processed", "processed", "stale"]
    assert status(uow, "rep-2") is ReportStatus.CLAIMED


async def test_events_for_an_unknown_report_are_ignored(uow: FakeUnitOfWork) -> None:
    outcomes = await feed(
        uow,
        (builders.work_order_filed(report_id="nope"), 1),
        (builders.report_rejected(report_id="nope"), 1),
        (builders.work_order_claimed(report_id="nope"), 2),
        (builders.work_order_merged(merged_report_id="nope-2"), 3),
    )
    assert outcomes == ["ignored"] * 4
    assert uow.reports.rows == {}
    assert uow.timeline.entries == []


# --- rating and reopening -----------------------------------------------------------------------


async def closed(uow: FakeUnitOfWork, report_id: str = "rep-1", reporter: str = "rider-1") -> None:
    await submitted(uow, report_id, reporter)
    await feed(
        uow,
        (builders.work_order_filed(report_id=report_id, reporter_id=reporter), 1),
        (builders.work_order_closed(report_id=report_id, closed_at=AT), 2),
    )


def ask(action: RequestAction, key: str | None = "k-1", **changes: object) -> AskAboutReport:
    values: dict[str, object] = {
        "report_id": "rep-1",
        "reporter_id": "rider-1",
        "action": action,
        "text": "很及时" if action is RequestAction.RATE else "杂物又回来了",
        "score": 5 if action is RequestAction.RATE else None,
        "idempotency_key": key,
    }
    values.update(changes)
    return AskAboutReport(**values)  # type: ignore[arg-type]


async def asking(
    uow: FakeUnitOfWork, command: AskAboutReport, *, at: datetime = AT + timedelta(hours=1)
) -> tuple[str, bool]:
    asked = await ask_about_report(
        command, _typed(uow), reopen_window=WEEK, now=lambda: at, new_id=lambda: "q-1"
    )
    return asked.request.id, asked.replayed


async def test_a_rating_is_forwarded_to_the_work_order(uow: FakeUnitOfWork) -> None:
    await closed(uow)
    assert await asking(uow, ask(RequestAction.RATE)) == ("q-1", False)
    assert uow.committed
    [(data, subject, sequence)] = uow.outbox.events
    assert isinstance(data, ReportRated)
    assert (subject, sequence) == ("rep-1", 2)
    assert (data.report_id, data.reporter_id, data.work_order_id) == (
        "rep-1",
        "rider-1",
        "wo-rep-1",
    )
    assert (data.score, data.comment, data.rated_at) == (5, "很及时", AT + timedelta(hours=1))


async def test_a_reopening_is_forwarded_to_the_work_order(uow: FakeUnitOfWork) -> None:
    await closed(uow)
    await asking(uow, ask(RequestAction.REOPEN))
    [(data, subject, _)] = uow.outbox.events
    assert isinstance(data, ReportReopenRequested)
    assert (subject, data.work_order_id, data.reason) == ("rep-1", "wo-rep-1", "杂物又回来了")


async def test_a_retry_with_the_same_key_answers_the_same_and_forwards_nothing(
    uow: FakeUnitOfWork,
) -> None:
    await closed(uow)
    await asking(uow, ask(RequestAction.RATE))
    fresh(uow)
    assert await asking(uow, ask(RequestAction.RATE)) == ("q-1", True)
    assert uow.outbox.events == []
    assert not uow.committed
    with pytest.raises(IdempotencyConflict):
        await asking(uow, ask(RequestAction.RATE, score=3))
    with pytest.raises(IdempotencyConflict):
        await asking(uow, ask(RequestAction.REOPEN))


async def test_a_second_rating_with_another_key_is_refused(uow: FakeUnitOfWork) -> None:
    await closed(uow)
    await asking(uow, ask(RequestAction.RATE))
    fresh(uow)
    with pytest.raises(RequestRefused):
        await asking(uow, ask(RequestAction.RATE, key="k-2"))
    assert uow.outbox.events == []


async def test_an_open_order_is_neither_rated_nor_reopened(uow: FakeUnitOfWork) -> None:
    await submitted(uow)
    await feed(uow, (builders.work_order_filed(), 1))
    for action in RequestAction:
        with pytest.raises(RequestRefused) as refused:
            await asking(uow, ask(action))
        assert refused.value.status is ReportStatus.FILED
    assert uow.requests.rows == [] and uow.outbox.events == []


async def test_only_the_reporter_asks_about_their_report(uow: FakeUnitOfWork) -> None:
    await closed(uow)
    for command in (
        ask(RequestAction.RATE, reporter_id="rider-2"),
        ask(RequestAction.RATE, report_id="nope"),
    ):
        with pytest.raises(ReportNotFound):
            await asking(uow, command)
    assert uow.outbox.events == []


async def test_a_merged_reporter_rates_through_their_own_report(uow: FakeUnitOfWork) -> None:
    await submitted(uow, "rep-1", "rider-1")
    await submitted(uow, "rep-2", "rider-2")
    both = ["rider-1", "rider-2"]
    await feed(
        uow,
        (builders.work_order_filed(), 1),
        (builders.work_order_merged(merged_report_id="rep-2"), 2),
        (builders.work_order_verified(reporter_ids=both), 3),
        (builders.work_order_closed(report_ids=["rep-1", "rep-2"], reporter_ids=both), 4),
    )
    assert status(uow, "rep-2") is ReportStatus.CLOSED
    await asking(uow, ask(RequestAction.RATE, report_id="rep-2", reporter_id="rider-2"))
    [(data, subject, _)] = uow.outbox.events
    assert isinstance(data, ReportRated)
    assert (subject, data.reporter_id, data.work_order_id) == ("rep-2", "rider-2", "wo-rep-1")
    assert uow.outbox.districts[-1] == uow.reports.rows["rep-2"].district
