from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import newest_first
from common.paging import SortKey
from ledger.adapters.read_model import (
    Participant,
    StatementEntry,
    statement_of,
    top_participants,
)
from ledger.adapters.tables import (
    AccountRow,
    GiftRow,
    PointRuleRow,
    RedemptionRow,
    TransferRow,
    WithheldRow,
)
from ledger.adapters.verify import LedgerVerification, verify_ledger
from ledger.domain.points import (
    EARNING_CODES,
    Account,
    Transfer,
    TransferCode,
    Withheld,
    WithheldKind,
    is_derived,
)
from ledger.domain.redemption import (
    CollectionPointKind,
    Gift,
    Redemption,
    RedemptionState,
)
from ledger.domain.rules import RuleSet
from ledger.service_layer.unit_of_work import RedemptionFilter

ACCOUNTS: sa.Table = AccountRow.__table__  # type: ignore[attr-defined]
TRANSFERS: sa.Table = TransferRow.__table__  # type: ignore[attr-defined]
GIFTS: sa.Table = GiftRow.__table__  # type: ignore[attr-defined]
REDEMPTIONS: sa.Table = RedemptionRow.__table__  # type: ignore[attr-defined]
WITHHELD: sa.Table = WithheldRow.__table__  # type: ignore[attr-defined]
POINT_RULES: sa.Table = PointRuleRow.__table__  # type: ignore[attr-defined]
# The statements of every award, built once: their values go with each execution (a statement
# built with literal values costs several times more CPU to run).
_UPDATE_BALANCES = ACCOUNTS.update().where(ACCOUNTS.c.id == sa.bindparam("account_id"))
_TRANSFER = sa.select(TRANSFERS).where(TRANSFERS.c.id == sa.bindparam("transfer_id"))
_WITHHELD = sa.select(WITHHELD).where(WITHHELD.c.id == sa.bindparam("withheld_id"))
_RULE_SETS = sa.select(POINT_RULES).where(POINT_RULES.c.district == sa.bindparam("district"))
_AWARDED_ON = sa.select(sa.func.coalesce(sa.func.sum(TRANSFERS.c.amount), 0)).where(
    TRANSFERS.c.rider_id == sa.bindparam("rider_id"),
    TRANSFERS.c.ledger_day == sa.bindparam("day"),
    TRANSFERS.c.code.in_(sorted(code.value for code in EARNING_CODES)),
)


@functools.cache
def _open_account(dialect: str) -> sa.Insert:
    """Insert the account unless it exists; either way lock it and return it."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(ACCOUNTS)
    return statement.on_conflict_do_update(
        index_elements=["id"], set_={"id": statement.excluded.id}
    ).returning(*ACCOUNTS.c)


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
        self._rule_sets: dict[str, list[RuleSet]] = {}
        """A district's rule sets, read once per unit of work (every award of a batch asks)."""

    async def open_account(self, account_id: str, *, must_not_go_negative: bool) -> Account:
        """The account as it stands, created if it did not exist, and held until commit (the
        upsert locks the row on PostgreSQL; SQLite's writer holds the database) — so one
        rider's awards are decided one after another. One statement."""
        now = datetime.now(UTC)
        connection = await self._session.connection()
        row = (
            await connection.execute(
                _open_account(connection.dialect.name),
                {
                    "id": account_id,
                    "must_not_go_negative": must_not_go_negative,
                    "debits_posted": 0,
                    "credits_posted": 0,
                    "debits_pending": 0,
                    "credits_pending": 0,
                    "version": 0,
                    "created_at": now,
                    "updated_at": now,
                },
            )
        ).one()
        return Account(
            id=row.id,
            debits_posted=row.debits_posted,
            credits_posted=row.credits_posted,
            debits_pending=row.debits_pending,
            credits_pending=row.credits_pending,
            must_not_go_negative=row.must_not_go_negative,
            version=row.version,
        )

    async def get_account(self, account_id: str) -> Account | None:
        row = await self._session.get(AccountRow, account_id)
        if row is None:
            return None
        if is_derived(account_id):
            return await self._derived(row)
        return _account(row)

    async def _derived(self, row: AccountRow) -> Account:
        """A system account's balance, folded from its transfers."""
        transfers = TransferRow.__table__  # type: ignore[attr-defined]
        debits, credits = (
            await self._session.exec(
                select(
                    sa.func.coalesce(
                        sa.func.sum(
                            sa.case((transfers.c.debit_account_id == row.id, transfers.c.amount))
                        ),
                        0,
                    ),
                    sa.func.coalesce(
                        sa.func.sum(
                            sa.case((transfers.c.credit_account_id == row.id, transfers.c.amount))
                        ),
                        0,
                    ),
                ).where(
                    sa.or_(
                        transfers.c.debit_account_id == row.id,
                        transfers.c.credit_account_id == row.id,
                    )
                )
            )
        ).one()
        return Account(
            id=row.id,
            debits_posted=int(debits),
            credits_posted=int(credits),
            must_not_go_negative=row.must_not_go_negative,
        )

    async def get_transfer(self, transfer_id: str) -> Transfer | None:
        connection = await self._session.connection()
        row = (await connection.execute(_TRANSFER, {"transfer_id": transfer_id})).first()
        return _transfer(row) if row else None

    async def awarded_on(self, rider_id: str, day: date) -> int:
        connection = await self._session.connection()
        total = await connection.execute(_AWARDED_ON, {"rider_id": rider_id, "day": day})
        return int(total.scalar_one())

    async def record(self, transfer: Transfer, accounts: Sequence[Account]) -> None:
        """Insert the immutable transfer and store the balances the posting rule computed for
        the accounts it moved (a system account's balance is derived, never stored)."""
        now = datetime.now(UTC)
        # The values go with the execution, not into the statements (several times cheaper).
        connection = await self._session.connection()
        await connection.execute(
            TRANSFERS.insert(),
            {
                "id": transfer.id,
                "debit_account_id": transfer.debit_account_id,
                "credit_account_id": transfer.credit_account_id,
                "amount": transfer.amount,
                "code": transfer.code.value,
                "rider_id": transfer.rider_id,
                "report_id": transfer.report_id,
                "work_order_id": transfer.work_order_id,
                "ledger_day": transfer.ledger_day,
                "caused_by_event_id": transfer.caused_by_event_id,
                "created_at": transfer.created_at,
                "district": transfer.district,
                "fingerprint": transfer.fingerprint,
                "redemption_id": transfer.redemption_id,
            },
        )
        for account in accounts:
            if is_derived(account.id):
                continue
            await connection.execute(
                _UPDATE_BALANCES,
                {
                    "account_id": account.id,
                    "debits_posted": account.debits_posted,
                    "credits_posted": account.credits_posted,
                    "debits_pending": account.debits_pending,
                    "credits_pending": account.credits_pending,
                    "version": account.version,
                    "updated_at": now,
                },
            )

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

    async def advance(self, account: Account) -> None:
        connection = await self._session.connection()
        await connection.execute(
            ACCOUNTS.update()
            .where(ACCOUNTS.c.id == account.id)
            .values(version=account.version, updated_at=datetime.now(UTC))
        )

    async def get_withheld(self, withheld_id: str) -> Withheld | None:
        connection = await self._session.connection()
        row = (await connection.execute(_WITHHELD, {"withheld_id": withheld_id})).first()
        return _withheld(row) if row else None

    async def record_withheld(self, withheld: Withheld) -> None:
        self._session.add(
            WithheldRow(
                id=withheld.id,
                kind=withheld.kind.value,
                code=withheld.code.value,
                rider_id=withheld.rider_id,
                report_id=withheld.report_id,
                work_order_id=withheld.work_order_id,
                district=withheld.district,
                amount=withheld.amount,
                fingerprint=withheld.fingerprint,
                ledger_day=withheld.ledger_day,
                caused_by_event_id=withheld.caused_by_event_id,
                created_at=withheld.created_at,
            )
        )
        await self._session.flush()

    async def earnings_of_order(self, work_order_id: str) -> list[Transfer]:
        statement = (
            select(TransferRow)
            .where(
                TransferRow.work_order_id == work_order_id,
                col(TransferRow.code).in_(sorted(code.value for code in EARNING_CODES)),
            )
            .order_by(col(TransferRow.id))
        )
        return [_transfer(row) for row in (await self._session.exec(statement)).all()]

    async def withheld_of_order(self, work_order_id: str) -> list[Withheld]:
        statement = (
            select(WithheldRow)
            .where(WithheldRow.work_order_id == work_order_id)
            .order_by(col(WithheldRow.id))
        )
        return [_withheld(row) for row in (await self._session.exec(statement)).all()]

    async def statement_of(
        self, rider_id: str, *, limit: int, after: SortKey | None
    ) -> list[StatementEntry]:
        return await statement_of(self._session, rider_id, limit=limit, after=after)

    async def top_participants(
        self, district: str, first: date, last: date, limit: int
    ) -> list[Participant]:
        return await top_participants(self._session, district, first, last, limit)

    # --- gifts and redemptions ---------------------------------------------------------------

    async def get_gift(self, gift_id: str) -> Gift | None:
        row = await self._session.get(GiftRow, gift_id, populate_existing=True)
        return _gift(row) if row else None

    async def gifts_of(self, district: str) -> list[Gift]:
        statement = select(GiftRow).where(GiftRow.district == district).order_by(col(GiftRow.id))
        return [_gift(row) for row in (await self._session.exec(statement)).all()]

    async def put_gift(self, gift: Gift) -> None:
        row = await self._session.get(GiftRow, gift.id)
        values: dict[str, Any] = {
            "district": gift.district,
            "name": gift.name,
            "cost": gift.cost,
            "stock": gift.stock,
            "collection_point_kind": gift.collection_point_kind.value,
            "collection_point_name": gift.collection_point_name,
            "active_from": gift.active_from,
            "active_until": gift.active_until,
            "updated_at": datetime.now(UTC),
        }
        if row is None:
            self._session.add(GiftRow(id=gift.id, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)
        await self._session.flush()

    async def take_stock(self, gift_id: str) -> bool:
        connection = await self._session.connection()
        taken = await connection.execute(
            GIFTS.update()
            .where(GIFTS.c.id == gift_id, GIFTS.c.stock > 0)
            .values(stock=GIFTS.c.stock - 1)
        )
        return bool(taken.rowcount)

    async def return_stock(self, gift_id: str) -> None:
        connection = await self._session.connection()
        await connection.execute(
            GIFTS.update().where(GIFTS.c.id == gift_id).values(stock=GIFTS.c.stock + 1)
        )

    async def add_redemption(self, redemption: Redemption) -> None:
        connection = await self._session.connection()
        await connection.execute(
            REDEMPTIONS.insert(),
            {
                "id": redemption.id,
                "rider_id": redemption.rider_id,
                "gift_id": redemption.gift_id,
                "gift_name": redemption.gift_name,
                "district": redemption.district,
                "cost": redemption.cost,
                "collection_point": redemption.collection_point,
                "collection_code": redemption.collection_code,
                "idempotency_key": redemption.idempotency_key,
                "state": redemption.state.value,
                "reserved_at": redemption.reserved_at,
                "expires_at": redemption.expires_at,
                "resolved_at": None,
                "resolved_by": None,
            },
        )

    async def get_redemption(self, redemption_id: str) -> Redemption | None:
        connection = await self._session.connection()
        row = (
            await connection.execute(
                sa.select(REDEMPTIONS).where(REDEMPTIONS.c.id == redemption_id)
            )
        ).first()
        return _redemption(row) if row else None

    async def redemption_by_key(self, rider_id: str, key: str) -> Redemption | None:
        connection = await self._session.connection()
        row = (
            await connection.execute(
                sa.select(REDEMPTIONS).where(
                    REDEMPTIONS.c.rider_id == rider_id, REDEMPTIONS.c.idempotency_key == key
                )
            )
        ).first()
        return _redemption(row) if row else None

    async def redemptions(
        self, where: RedemptionFilter, *, after: SortKey | None, limit: int
    ) -> list[Redemption]:
        connection = await self._session.connection()
        rows = await connection.execute(redemptions_listing(where, after=after, limit=limit))
        return [_redemption(row) for row in rows]

    async def end_redemption(
        self, redemption_id: str, state: RedemptionState, *, by: str, at: datetime
    ) -> bool:
        connection = await self._session.connection()
        ended = await connection.execute(
            REDEMPTIONS.update()
            .where(
                REDEMPTIONS.c.id == redemption_id,
                REDEMPTIONS.c.state == RedemptionState.RESERVED.value,
            )
            .values(state=state.value, resolved_at=at, resolved_by=by)
        )
        return bool(ended.rowcount)

    async def due_redemptions(self, now: datetime, *, limit: int) -> list[str]:
        connection = await self._session.connection()
        rows = await connection.execute(
            sa.select(REDEMPTIONS.c.id)
            .where(
                REDEMPTIONS.c.state == RedemptionState.RESERVED.value,
                REDEMPTIONS.c.expires_at <= now,
            )
            .order_by(REDEMPTIONS.c.expires_at, REDEMPTIONS.c.id)
            .limit(limit)
        )
        return [row.id for row in rows]

    async def verify(self) -> LedgerVerification:
        return await verify_ledger(await self._session.connection())

    async def rule_sets(self, district: str) -> list[RuleSet]:
        rule_sets = self._rule_sets.get(district)
        if rule_sets is None:
            connection = await self._session.connection()
            rows = await connection.execute(_RULE_SETS, {"district": district})
            rule_sets = self._rule_sets[district] = [_rule_set(row) for row in rows]
        return list(rule_sets)

    async def add_rule_set(self, district: str, rules: RuleSet, created_by: str) -> RuleSet:
        """Add a rule set to the district's history; the one stored already when a set with the
        same ``effective_from`` exists (the caller compares)."""
        existing = await self._session.get(PointRuleRow, (district, rules.effective_from))
        if existing is not None:
            return _rule_set(existing)
        self._rule_sets.pop(district, None)
        self._session.add(
            PointRuleRow(
                district=district,
                effective_from=rules.effective_from,
                report_accepted=rules.report_accepted,
                corroboration=rules.corroboration,
                closure_bonus=rules.closure_bonus,
                rating=rules.rating,
                daily_cap=rules.daily_cap,
                created_by=created_by,
                created_at=datetime.now(UTC),
            )
        )
        await self._session.flush()
        return rules


def redemptions_listing(
    where: RedemptionFilter, *, after: SortKey | None, limit: int
) -> sa.Select[Any]:
    """The page's query: a rider's list reads ``ix_redemptions_rider_newest``, a district's
    ``ix_redemptions_district_newest``, each as a range scan in the page's order."""
    statement = sa.select(REDEMPTIONS)
    if where.rider_id is not None:
        statement = statement.where(REDEMPTIONS.c.rider_id == where.rider_id)
    if where.districts is not None:
        districts = sorted(set(where.districts))
        statement = statement.where(
            REDEMPTIONS.c.district == districts[0]
            if len(districts) == 1
            else REDEMPTIONS.c.district.in_(districts)
        )
    if where.states:
        statement = statement.where(
            REDEMPTIONS.c.state.in_(sorted({state.value for state in where.states}))
        )
    return newest_first(
        statement,
        at=REDEMPTIONS.c.reserved_at,
        id_=REDEMPTIONS.c.id,
        after=after,
        limit=limit,
    )


def _transfer(row: TransferRow | sa.Row[Any]) -> Transfer:
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
        district=row.district,
        fingerprint=row.fingerprint,
        redemption_id=row.redemption_id,
    )


def _withheld(row: WithheldRow | sa.Row[Any]) -> Withheld:
    return Withheld(
        id=row.id,
        kind=WithheldKind(row.kind),
        code=TransferCode(row.code),
        rider_id=row.rider_id,
        report_id=row.report_id,
        work_order_id=row.work_order_id,
        district=row.district,
        amount=row.amount,
        fingerprint=row.fingerprint,
        ledger_day=row.ledger_day,
        caused_by_event_id=row.caused_by_event_id,
        created_at=row.created_at,
    )


def _gift(row: GiftRow) -> Gift:
    return Gift(
        id=row.id,
        district=row.district,
        name=row.name,
        cost=row.cost,
        stock=row.stock,
        collection_point_kind=CollectionPointKind(row.collection_point_kind),
        collection_point_name=row.collection_point_name,
        active_from=row.active_from,
        active_until=row.active_until,
    )


def _redemption(row: sa.Row[Any]) -> Redemption:
    return Redemption(
        id=row.id,
        rider_id=row.rider_id,
        gift_id=row.gift_id,
        gift_name=row.gift_name,
        district=row.district,
        cost=row.cost,
        collection_point=row.collection_point,
        collection_code=row.collection_code,
        idempotency_key=row.idempotency_key,
        state=RedemptionState(row.state),
        reserved_at=row.reserved_at,
        expires_at=row.expires_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
    )


def _rule_set(row: PointRuleRow | sa.Row[Any]) -> RuleSet:
    return RuleSet(
        report_accepted=row.report_accepted,
        corroboration=row.corroboration,
        closure_bonus=row.closure_bonus,
        rating=row.rating,
        daily_cap=row.daily_cap,
        effective_from=row.effective_from,
    )
