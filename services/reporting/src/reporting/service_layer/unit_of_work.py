"""What the handlers need from a unit of work; the SQL one lives in adapters, fakes in tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from common.messaging.ports import AbstractUnitOfWork
from common.paging import SortKey
from reporting.domain.catalogues import Catalogue
from reporting.domain.limits import EarlierReport
from reporting.domain.photos import Photo, Referrer
from reporting.domain.progress import TimelineEntry
from reporting.domain.reporter_requests import ReporterRequest
from reporting.domain.reports import Report, ReportStatus


class ReportStore(Protocol):
    async def add(self, report: Report) -> None: ...
    async def get(self, report_id: str, *, for_update: bool = False) -> Report | None: ...
    async def save(self, report: Report) -> None: ...
    async def following(
        self, work_order_id: str, or_report_id: str | None = None, *, for_update: bool = False
    ) -> list[Report]:
        """Every report that follows the work order (the filed one and those merged in), and
        the report ``or_report_id`` even if it does not follow it yet; in submission order."""
        ...

    async def recent_of(self, reporter_id: str, *, since: datetime) -> list[EarlierReport]:
        """The reporter's reports submitted after ``since``."""
        ...

    async def list_by_reporter(
        self,
        reporter_id: str,
        *,
        limit: int,
        after: SortKey | None,
        statuses: Sequence[ReportStatus] = (),
    ) -> list[Report]:
        """Newest first (ties by id, descending), below ``after``; at most ``limit``; only
        those in one of ``statuses`` if any are given."""
        ...


class ReporterStore(Protocol):
    async def hold(self, reporter_id: str, at: datetime) -> None:
        """Hold the reporter until the transaction ends: another transaction holding them
        waits (their submissions are checked against the limits one at a time)."""
        ...


class IdempotencyStore(Protocol):
    async def find(self, reporter_id: str, key: str) -> tuple[str, str] | None: ...
    async def remember(
        self, reporter_id: str, key: str, fingerprint: str, report_id: str
    ) -> None: ...


class TimelineStore(Protocol):
    async def add(self, entry: TimelineEntry) -> None: ...
    async def add_once(self, entry: TimelineEntry) -> bool:
        """Add ``entry`` unless the report has a row of the same ``key``; whether it did."""
        ...

    async def of_report(self, report_id: str) -> list[TimelineEntry]:
        """Oldest first: in the order the steps were applied (the order's sequence), whatever
        clock stamped them."""
        ...


class CatalogueStore(Protocol):
    async def get(self, district: str, *, for_update: bool = False) -> Catalogue | None: ...
    async def of_districts(self, districts: Sequence[str] | None) -> dict[str, Catalogue]:
        """The stored catalogues of ``districts`` (every district's if None)."""
        ...

    async def put(self, catalogue: Catalogue) -> None:
        """Store ``catalogue`` in place of the district's current one."""
        ...


class RequestStore(Protocol):
    async def add(self, request: ReporterRequest) -> None: ...
    async def of_report(self, report_id: str) -> list[ReporterRequest]: ...
    async def by_key(self, reporter_id: str, key: str) -> ReporterRequest | None: ...


class PhotoStore(Protocol):
    async def add(self, photo: Photo) -> None: ...
    async def get(self, photo_id: str) -> Photo | None: ...
    async def get_many(self, photo_ids: Sequence[str]) -> dict[str, Photo]: ...
    async def by_uploader_and_hash(self, uploader_id: str, content_hash: str) -> Photo | None: ...
    async def attach(self, report_id: str, photo_ids: Sequence[str]) -> None:
        """Record that the report references the photos (in this order); those it references
        already stay as they are."""
        ...

    async def referrers(self, photo_id: str) -> list[Referrer]:
        """The reports that reference the photo: their reporters and districts."""
        ...


class AbstractReportingUnitOfWork(AbstractUnitOfWork, Protocol):
    @property
    def reports(self) -> ReportStore: ...
    @property
    def reporters(self) -> ReporterStore: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
    @property
    def timeline(self) -> TimelineStore: ...
    @property
    def catalogues(self) -> CatalogueStore: ...
    @property
    def requests(self) -> RequestStore: ...
    @property
    def photos(self) -> PhotoStore: ...
