"""Queries of the read side: a rider's statement (transfers and withheld points, one keyset
list) and a district's top participants of a month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import newest_first
from common.paging import SortKey
from ledger.adapters.tables import RedemptionRow, TransferRow, WithheldRow
from ledger.domain.points import EARNING_CODES, TransferCode, WithheldKind, rider_account

TRANSFERS: sa.Table = TransferRow.__table__  # type: ignore[attr-defined]
WITHHELD: sa.Table = WithheldRow.__table__  # type: ignore[attr-defined]
REDEMPTIONS: sa.Table = RedemptionRow.__table__  # type: ignore[attr-defined]
WITHHELD_PREFIX = "withheld:"


@dataclass(frozen=True)
class StatementEntry:
    """One line of a rider's statement: a transfer that moved their points, or points a
    transfer id promised but withheld (capped, or a reversal's shortfall)."""

    id: str
    transfer_id: str
    kind: str
    """``transfer``, ``capped`` or ``shortfall``."""
    code: TransferCode
    amount: int
    credit: bool
    """The rider's account is the credit side (points in) rather than the debit side."""
    report_id: str | None
    work_order_id: str | None
    ledger_day: date
    created_at: datetime
    redemption_id: str | None = None
    gift_name: str | None = None

    @property
    def withheld(self) -> WithheldKind | None:
        return None if self.kind == "transfer" else WithheldKind(self.kind)


@dataclass(frozen=True)
class Participant:
    rider_id: str
    points: int
    reports: int


async def statement_of(
    session: AsyncSession, rider_id: str, *, limit: int, after: SortKey | None
) -> list[StatementEntry]:
    transfers = (
        sa.select(
            TRANSFERS.c.id.label("entry_id"),
            TRANSFERS.c.id.label("transfer_id"),
            sa.literal("transfer").label("kind"),
            TRANSFERS.c.code,
            TRANSFERS.c.amount,
            (TRANSFERS.c.credit_account_id == rider_account(rider_id)).label("credit"),
            TRANSFERS.c.report_id,
            TRANSFERS.c.work_order_id,
            TRANSFERS.c.ledger_day,
            TRANSFERS.c.created_at,
            TRANSFERS.c.redemption_id,
            REDEMPTIONS.c.gift_name,
        )
        .select_from(
            TRANSFERS.outerjoin(REDEMPTIONS, REDEMPTIONS.c.id == TRANSFERS.c.redemption_id)
        )
        .where(TRANSFERS.c.rider_id == rider_id)
    )
    withheld = sa.select(
        (sa.literal(WITHHELD_PREFIX) + WITHHELD.c.id).label("entry_id"),
        WITHHELD.c.id,
        WITHHELD.c.kind,
        WITHHELD.c.code,
        WITHHELD.c.amount,
        sa.literal(False).label("credit"),
        WITHHELD.c.report_id,
        WITHHELD.c.work_order_id,
        WITHHELD.c.ledger_day,
        WITHHELD.c.created_at,
        sa.null().label("redemption_id"),
        sa.null().label("gift_name"),
    ).where(WITHHELD.c.rider_id == rider_id)
    lines = sa.union_all(transfers, withheld).subquery()
    statement = newest_first(
        sa.select(lines), at=lines.c.created_at, id_=lines.c.entry_id, after=after, limit=limit
    )
    connection = await session.connection()
    return [
        StatementEntry(
            id=row.entry_id,
            transfer_id=row.transfer_id,
            kind=row.kind,
            code=TransferCode(row.code),
            amount=int(row.amount),
            credit=bool(row.credit),
            report_id=row.report_id or None,
            work_order_id=row.work_order_id,
            ledger_day=row.ledger_day,
            created_at=row.created_at,
            redemption_id=row.redemption_id,
            gift_name=row.gift_name,
        )
        for row in (await connection.execute(statement)).all()
    ]


async def top_participants(
    session: AsyncSession, district: str, first: date, last: date, limit: int
) -> list[Participant]:
    """Riders by points earned in the district between two Asia/Shanghai days (inclusive), net
    of reversals, most first (ties by rider id); with how many of their reports were paid."""
    earning = sorted(code.value for code in EARNING_CODES)
    net = sa.func.sum(
        sa.case(
            (TRANSFERS.c.code.in_(earning), TRANSFERS.c.amount),
            (TRANSFERS.c.code == TransferCode.REVERSAL.value, -TRANSFERS.c.amount),
            else_=0,
        )
    )
    reports = sa.func.count(
        sa.distinct(sa.case((TRANSFERS.c.code.in_(earning), TRANSFERS.c.report_id), else_=None))
    )
    statement = (
        sa.select(TRANSFERS.c.rider_id, net.label("points"), reports.label("reports"))
        .where(
            TRANSFERS.c.district == district,
            TRANSFERS.c.ledger_day >= first,
            TRANSFERS.c.ledger_day <= last,
        )
        .group_by(TRANSFERS.c.rider_id)
        .having(net > 0)
        .order_by(net.desc(), TRANSFERS.c.rider_id)
        .limit(limit)
    )
    connection = await session.connection()
    return [
        Participant(row.rider_id, int(row.points), int(row.reports))
        for row in (await connection.execute(statement)).all()
    ]
