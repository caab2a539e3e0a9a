"""Use cases of the reporting service: a rider submits a report; the catalogues it is checked
against arrive from dispatch. (The status projection is in :mod:`.projection`, the
reporter's rating and reopening in :mod:`.reporter_requests`.)"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TypeVar

import structlog

from common.contracts.district_events import DistrictCataloguePublished
from common.contracts.events import PhotoReference as PublishedPhoto
from common.contracts.events import ReportSubmitted
from common.messaging.ports import EventMeta, HandlerOutcome, WriteConflict
from reporting.domain.catalogues import Catalogue, CatalogueEntry, choose_category
from reporting.domain.limits import SubmissionLimits, check_rate, same_problem
from reporting.domain.photos import (
    DEFAULT_CAPTURE_WINDOW,
    CaptureWindow,
    InvalidReportField,
    usable_photos,
)
from reporting.domain.progress import TimelineEntry
from reporting.domain.reports import IdempotencyConflict, Report, SubmitReport
from reporting.service_layer.unit_of_work import AbstractReportingUnitOfWork

_log = structlog.get_logger("gridloop.reporting")

ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class Submission:
    report: Report
    timeline: list[TimelineEntry]
    """The report's steps as of the answer (a new report: submitted)."""
    replayed: bool
    duplicate: bool = False
    """The answer is the reporter's earlier report of the same problem (nothing was filed)."""


async def once_per_key(attempt: Callable[[], Awaitable[ResultT]], key: str | None) -> ResultT:
    """Run ``attempt``; if another request with the same Idempotency-Key stored its result
    first (a write conflict on the key), run it again: it then finds and replays that one."""
    try:
        return await attempt()
    except WriteConflict:
        if not key:
            raise
        return await attempt()


async def submit_report(
    command: SubmitReport,
    uow: AbstractReportingUnitOfWork,
    *,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    capture_window: CaptureWindow = DEFAULT_CAPTURE_WINDOW,
    alongside: Callable[[Report], Awaitable[None]] | None = None,
) -> Submission:
    """Check the category against the catalogues of the districts the rider's token covers,
    the photos (the rider's own; at least one if the category requires it), the capture time
    and the reporter's limits, store the report and queue ``report.submitted``; a retried
    request with the same Idempotency-Key returns the original report instead of filing a
    second one, and the reporter's report of the same problem moments ago answers for this one.
    ``alongside`` stores what a caller keeps with a new report, in the same transaction."""
    return await once_per_key(
        lambda: _submit_once(command, uow, new_id, capture_window, alongside),
        command.idempotency_key,
    )


async def _submit_once(
    command: SubmitReport,
    uow: AbstractReportingUnitOfWork,
    new_id: Callable[[], str],
    capture_window: CaptureWindow,
    alongside: Callable[[Report], Awaitable[None]] | None = None,
) -> Submission:
    fingerprint = command.fingerprint()
    async with uow:
        if command.idempotency_key:
            seen = await uow.idempotency.find(command.reporter_id, command.idempotency_key)
            if seen is not None:
                earlier_fingerprint, report_id = seen
                if earlier_fingerprint != fingerprint:
                    raise IdempotencyConflict(
                        "this Idempotency-Key was already used for a different report"
                    )
                original = await uow.reports.get(report_id)
                if original is None:
                    raise LookupError(report_id)
                timeline = await uow.timeline.of_report(report_id)
                return Submission(original, timeline, replayed=True)
        catalogues = await uow.catalogues.of_districts(command.covered)
        category = choose_category(command.category, command.covered, catalogues)
        now = datetime.now(UTC)
        capture_window.check(command.captured_at, now)
        photos = (
            usable_photos(
                command.photo_ids,
                await uow.photos.get_many(command.photo_ids),
                command.reporter_id,
            )
            if command.photo_ids
            else ()
        )
        if category.photo_required and not photos:
            raise InvalidReportField(
                "photo_ids",
                f"a report of category '{category.code}' ({category.name}) needs at least "
                "one photo",
            )
        if command.limits is not None:
            earlier = await _within_limits(command, command.limits, uow, now)
            if earlier is not None:
                return earlier
        report = Report(
            id=new_id(),
            reporter_id=command.reporter_id,
            district=command.district,
            category=command.category,
            category_name=category.name,
            lat=command.lat,
            lon=command.lon,
            text=command.text,
            submitted_at=now,
            updated_at=now,
            captured_at=command.captured_at,
            photos=photos,
        )
        submitted = report.submitted_entry()
        await uow.reports.add(report)
        if photos:
            await uow.photos.attach(report.id, [photo.id for photo in photos])
        await uow.timeline.add(submitted)
        if alongside is not None:
            await alongside(report)
        if command.idempotency_key:
            await uow.idempotency.remember(
                command.reporter_id, command.idempotency_key, fingerprint, report.id
            )
        await uow.outbox.add(
            ReportSubmitted(
                report_id=report.id,
                reporter_id=report.reporter_id,
                category=report.category,
                lat=report.lat,
                lon=report.lon,
                text=report.text,
                submitted_at=report.submitted_at,
                reporter_districts=list(command.covered),
                photos=[PublishedPhoto.model_validate(asdict(photo)) for photo in photos],
                captured_at=report.captured_at,
            ),
            subject=report.id,
            sequence=1,
            district=report.district,
        )
        await uow.commit()
    _log.info("report.submitted", report_id=report.id, category=report.category)
    return Submission(report, [submitted], replayed=False)


async def _within_limits(
    command: SubmitReport,
    limits: SubmissionLimits,
    uow: AbstractReportingUnitOfWork,
    now: datetime,
) -> Submission | None:
    """The reporter's earlier report of the same problem, if there is one; else raise
    ``TooManyReports`` if one more report would exceed the reporter's limits. The reporter is
    held first, so their concurrent submissions are counted one after another."""
    await uow.reporters.hold(command.reporter_id, now)
    earlier = await uow.reports.recent_of(command.reporter_id, since=now - limits.lookback)
    duplicate = same_problem(
        limits, earlier, category=command.category, lat=command.lat, lon=command.lon, now=now
    )
    if duplicate is None:
        check_rate(limits, earlier, now=now)
        return None
    original = await uow.reports.get(duplicate.id)
    if original is None:
        raise LookupError(duplicate.id)
    timeline = await uow.timeline.of_report(original.id)
    if command.idempotency_key:
        await uow.idempotency.remember(
            command.reporter_id, command.idempotency_key, command.fingerprint(), original.id
        )
    await uow.commit()
    _log.info("report.duplicate", report_id=original.id, category=original.category)
    return Submission(original, timeline, replayed=False, duplicate=True)


def catalogue_of(published: DistrictCataloguePublished) -> Catalogue:
    return Catalogue(
        district=published.district,
        district_name=published.district_name,
        revision=published.revision,
        published_at=published.published_at,
        entries=tuple(CatalogueEntry.of(c.model_dump()) for c in published.categories),
    )


async def on_catalogue_published(
    published: DistrictCataloguePublished, meta: EventMeta, uow: AbstractReportingUnitOfWork
) -> HandlerOutcome:
    """Keep the district's newest catalogue; an older revision arriving late is stale."""
    catalogue = catalogue_of(published)
    current = await uow.catalogues.get(catalogue.district, for_update=True)
    if not catalogue.supersedes(current):
        return "stale"
    await uow.catalogues.put(catalogue)
    _log.info(
        "catalogue.stored",
        district=catalogue.district,
        revision=catalogue.revision,
        categories=len(catalogue.entries),
    )
    return "processed"
