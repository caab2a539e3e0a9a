from __future__ import annotations

from common.messaging.unit_of_work import SqlUnitOfWork
from reporting.adapters.repository import IdempotencyRepository, ReportRepository


class SqlReportingUnitOfWork(SqlUnitOfWork):
    reports: ReportRepository
    idempotency: IdempotencyRepository

    def _open(self) -> None:
        self.reports = ReportRepository(self.session)
        self.idempotency = IdempotencyRepository(self.session)
