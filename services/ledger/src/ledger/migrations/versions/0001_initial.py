"""Accounts, transfers, outbox and processed events.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from common.migration_steps import create_messaging_tables_v1, drop_messaging_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
AMOUNT = sa.BigInteger()


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(160), primary_key=True),
        sa.Column("debits_posted", AMOUNT, nullable=False),
        sa.Column("credits_posted", AMOUNT, nullable=False),
        sa.Column("debits_pending", AMOUNT, nullable=False),
        sa.Column("credits_pending", AMOUNT, nullable=False),
        sa.Column("must_not_go_negative", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "NOT must_not_go_negative OR debits_posted + debits_pending <= credits_posted",
            name="ck_accounts_not_negative",
        ),
    )
    op.create_table(
        "transfers",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("debit_account_id", sa.String(160), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column(
            "credit_account_id", sa.String(160), sa.ForeignKey("accounts.id"), nullable=False
        ),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("rider_id", sa.String(128), nullable=False),
        sa.Column("report_id", sa.String(64), nullable=False),
        sa.Column("work_order_id", sa.String(64)),
        sa.Column("ledger_day", sa.Date(), nullable=False),
        sa.Column("caused_by_event_id", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_transfers_positive"),
    )
    op.create_index("ix_transfers_rider_day", "transfers", ["rider_id", "ledger_day"])
    create_messaging_tables_v1(op)


def downgrade() -> None:
    drop_messaging_tables_v1(op)
    op.drop_table("transfers")
    op.drop_table("accounts")
