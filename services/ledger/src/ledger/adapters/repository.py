from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import newest_first
from common.paging import SortKey
from ledger.adapters.tables import AccountRow, TransferRow
from ledger.domain.points import Account, Transfer, TransferCode, post_transfer


def _account(row: AccountRow) -> Account:
    return Account(
        id=row.id,
        debits_posted=row.debits_posted,
        credits_posted=row.credits_posted,
        debits_pending=row.debits_pending,
        credits_pending=row.credits_pending,
        must_not_go_negative=row.must_not_go_negative,
        version=row.version,
    )


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def open_account(self, account_id: str, *, must_not_go_negative: bool) -> None:
        """Create the account if it does not exist yet (idempotent, race-safe)."""
        dialect = self._session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        now = datetime.now(UTC)
        await self._session.exec(
            insert(AccountRow)
            .values(
                id=account_id,
                must_not_go_negative=must_not_go_negative,
                debits_posted=0,
                credits_posted=0,
                debits_pending=0,
                credits_pending=0,
                version=0,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )

    async def lock_account(self, account_id: str) -> Account | None:
        """Read an account and hold it until commit (serialises a rider's awards)."""
        row = (
            await self._session.exec(
                select(AccountRow).where(AccountRow.id == account_id).with_for_update()
            )
        ).first()
        return _account(row) if row else None

    async def get_account(self, account_id: str) -> Account | None:
        row = await self._session.get(AccountRow, account_id)
        return _account(row) if row else None

    async def get_transfer(self, transfer_id: str) -> Transfer | None:
        row = await self._session.get(TransferRow, transfer_id)
        return _transfer(row) if row else None

    async def awarded_on(self, rider_id: str, day: date) -> int:
        total = (
            await self._session.exec(
                select(sa.func.coalesce(sa.func.sum(TransferRow.amount), 0)).where(
                    TransferRow.rider_id == rider_id,
                    TransferRow.ledger_day == day,
                    TransferRow.code == TransferCode.REPORT_ACCEPTED.value,
                )
            )
        ).one()
        return int(total)

    async def post(self, transfer: Transfer) -> None:
        """Insert the immutable transfer and write both accounts' new balances, as the domain's
        posting rule computes them, in the open transaction. Both account rows are locked in id
        order first, so concurrent transfers between the same accounts never deadlock."""
        rows = (
            await self._session.exec(
                select(AccountRow)
                .where(
                    col(AccountRow.id).in_([transfer.debit_account_id, transfer.credit_account_id])
                )
                .order_by(col(AccountRow.id))
                .with_for_update()
            )
        ).all()
        accounts = {row.id: _account(row) for row in rows}
        missing = {transfer.debit_account_id, transfer.credit_account_id} - accounts.keys()
        if missing:
            raise LookupError(f"transfer {transfer.id}: no account {', '.join(sorted(missing))}")
        debited, credited = post_transfer(
            accounts[transfer.debit_account_id], accounts[transfer.credit_account_id], transfer
        )
        self._session.add(
            TransferRow(
                id=transfer.id,
                debit_account_id=transfer.debit_account_id,
                credit_account_id=transfer.credit_account_id,
                amount=transfer.amount,
                code=transfer.code.value,
                rider_id=transfer.rider_id,
                report_id=transfer.report_id,
                work_order_id=transfer.work_order_id,
                ledger_day=transfer.ledger_day,
                caused_by_event_id=transfer.caused_by_event_id,
                created_at=transfer.created_at,
            )
        )
        now = datetime.now(UTC)
        for row in rows:
            after = debited if row.id == debited.id else credited
            row.debits_posted = after.debits_posted
            row.credits_posted = after.credits_posted
            row.debits_pending = after.debits_pending
            row.credits_pending = after.credits_pending
            row.version = after.version
            row.updated_at = now
            self._session.add(row)
        await self._session.flush()

    async def transfers_of(
        self, rider_id: str, *, limit: int, after: SortKey | None
    ) -> list[Transfer]:
        statement = newest_first(
            select(TransferRow).where(TransferRow.rider_id == rider_id),
            at=col(TransferRow.created_at),
            id_=col(TransferRow.id),
            after=after,
            limit=limit,
        )
        return [_transfer(row) for row in (await self._session.exec(statement)).all()]


def _transfer(row: TransferRow) -> Transfer:
    return Transfer(
        id=row.id,
        debit_account_id=row.debit_account_id,
        credit_account_id=row.credit_account_id,
        amount=row.amount,
        code=TransferCode(row.code),
        rider_id=row.rider_id,
        report_id=row.report_id,
        work_order_id=row.work_order_id,
        ledger_day=row.ledger_day,
        caused_by_event_id=row.caused_by_event_id,
        created_at=row.created_at,
    )
