from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from common.db import UtcDateTime, messaging_tables, new_registry

TIMESTAMP = UtcDateTime()


class LedgerTable(SQLModel, registry=new_registry()):
    pass


class AccountRow(LedgerTable, table=True):
    __tablename__ = "accounts"
    __table_args__ = (
        sa.CheckConstraint(
            "NOT must_not_go_negative OR debits_posted + debits_pending <= credits_posted",
            name="ck_accounts_not_negative",
        ),
    )

    id: str = Field(primary_key=True, max_length=160)
    debits_posted: int = Field(default=0, sa_type=sa.BigInteger)
    credits_posted: int = Field(default=0, sa_type=sa.BigInteger)
    debits_pending: int = Field(default=0, sa_type=sa.BigInteger)
    credits_pending: int = Field(default=0, sa_type=sa.BigInteger)
    must_not_go_negative: bool = False
    version: int = 0
    created_at: datetime = Field(sa_type=TIMESTAMP)
    updated_at: datetime = Field(sa_type=TIMESTAMP)


class TransferRow(LedgerTable, table=True):
    __tablename__ = "transfers"
    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="ck_transfers_positive"),
        sa.Index("ix_transfers_rider_day", "rider_id", "ledger_day"),
        # A rider's statement newest first, a page at a time, without sorting it all.
        sa.Index("ix_transfers_rider_newest", "rider_id", "created_at", "id"),
        sa.Index("ix_transfers_work_order", "work_order_id"),
        sa.Index("ix_transfers_district_day", "district", "ledger_day"),
        sa.Index("ix_transfers_redemption", "redemption_id"),
    )

    id: str = Field(primary_key=True, max_length=200)
    debit_account_id: str = Field(max_length=160, foreign_key="accounts.id")
    credit_account_id: str = Field(max_length=160, foreign_key="accounts.id")
    amount: int = Field(sa_type=sa.BigInteger)
    code: str = Field(max_length=40)
    rider_id: str = Field(max_length=128)
    report_id: str | None = Field(default=None, max_length=64)
    work_order_id: str | None = Field(default=None, max_length=64)
    ledger_day: date
    caused_by_event_id: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=TIMESTAMP)
    district: str | None = Field(default=None, max_length=16)
    fingerprint: str | None = Field(default=None, max_length=64)
    redemption_id: str | None = Field(default=None, max_length=64)


class WithheldRow(LedgerTable, table=True):
    """Points a transfer id promised but did not move (capped by the daily cap, or a
    reversal's shortfall), under that same id."""

    __tablename__ = "withheld"
    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="ck_withheld_positive"),
        sa.Index("ix_withheld_rider_newest", "rider_id", "created_at", "id"),
        sa.Index("ix_withheld_work_order", "work_order_id"),
    )

    id: str = Field(primary_key=True, max_length=200)
    kind: str = Field(max_length=20)
    code: str = Field(max_length=40)
    rider_id: str = Field(max_length=128)
    report_id: str = Field(max_length=64)
    work_order_id: str | None = Field(default=None, max_length=64)
    district: str | None = Field(default=None, max_length=16)
    amount: int = Field(sa_type=sa.BigInteger)
    fingerprint: str = Field(max_length=64)
    ledger_day: date
    caused_by_event_id: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=TIMESTAMP)


class PointRuleRow(LedgerTable, table=True):
    """A district's rule set, in force from ``effective_from`` (insert-only history)."""

    __tablename__ = "point_rules"

    district: str = Field(primary_key=True, max_length=16)
    effective_from: datetime = Field(primary_key=True, sa_type=TIMESTAMP)
    report_accepted: int
    corroboration: int
    closure_bonus: int
    rating: int
    daily_cap: int
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=TIMESTAMP)


class GiftRow(LedgerTable, table=True):
    __tablename__ = "gifts"
    __table_args__ = (
        sa.CheckConstraint("cost > 0", name="ck_gifts_cost_positive"),
        sa.CheckConstraint("stock >= 0", name="ck_gifts_stock_not_negative"),
        sa.Index("ix_gifts_district", "district"),
    )

    id: str = Field(primary_key=True, max_length=64)
    district: str = Field(max_length=16)
    name: str = Field(max_length=120)
    cost: int
    stock: int
    collection_point_kind: str = Field(max_length=20)
    collection_point_name: str = Field(max_length=120)
    active_from: datetime = Field(sa_type=TIMESTAMP)
    active_until: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    updated_at: datetime = Field(sa_type=TIMESTAMP)


class RedemptionRow(LedgerTable, table=True):
    __tablename__ = "redemptions"
    __table_args__ = (
        sa.UniqueConstraint("rider_id", "idempotency_key", name="uq_redemptions_rider_key"),
        sa.Index("ix_redemptions_due", "state", "expires_at"),
        # A rider's redemptions, and a district's, newest first a page at a time.
        sa.Index("ix_redemptions_rider_newest", "rider_id", "reserved_at", "id"),
        sa.Index("ix_redemptions_district_newest", "district", "reserved_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=64)
    rider_id: str = Field(max_length=128)
    gift_id: str = Field(max_length=64, foreign_key="gifts.id")
    gift_name: str = Field(max_length=120)
    district: str = Field(max_length=16)
    cost: int
    collection_point: str = Field(max_length=160)
    collection_code: str = Field(max_length=16)
    idempotency_key: str = Field(max_length=128)
    state: str = Field(max_length=20)
    reserved_at: datetime = Field(sa_type=TIMESTAMP)
    expires_at: datetime = Field(sa_type=TIMESTAMP)
    resolved_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    resolved_by: str | None = Field(default=None, max_length=128)


MESSAGING = messaging_tables(LedgerTable.metadata)
