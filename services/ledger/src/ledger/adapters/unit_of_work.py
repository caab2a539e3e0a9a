from __future__ import annotations

from common.messaging.unit_of_work import SqlUnitOfWork
from ledger.adapters.repository import LedgerRepository


class SqlLedgerUnitOfWork(SqlUnitOfWork):
    ledger: LedgerRepository

    def _open(self) -> None:
        self.ledger = LedgerRepository(self.session)
