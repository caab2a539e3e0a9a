from __future__ import annotations

from common.messaging.unit_of_work import SqlUnitOfWork
from reporting.adapters.photo_repository import PhotoRepository
from reporting.adapters.repository import (
    CatalogueRepository,
    IdempotencyRepository,
    ReporterRepository,
    ReporterRequestRepository,
    ReportRepository,
    TimelineRepository,
)


class SqlReportingUnitOfWork(SqlUnitOfWork):
    reports: ReportRepository
    reporters: ReporterRepository
    idempotency: IdempotencyRepository
    timeline: TimelineRepository
    catalogues: CatalogueRepository
    requests: ReporterRequestRepository
    photos: PhotoRepository

    def _open(self) -> None:
        self.reports = ReportRepository(self.session)
        self.reporters = ReporterRepository(self.session)
        self.idempotency = IdempotencyRepository(self.session)
        self.timeline = TimelineRepository(self.session)
        self.catalogues = CatalogueRepository(self.session)
        self.requests = ReporterRequestRepository(self.session)
        self.photos = PhotoRepository(self.session)
