"""Point rules per district, withheld points (capped rewards, reversal shortfalls), and the
district and content fingerprint of each transfer.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("transfers", sa.Column("district", sa.String(16), nullable=True))
    op.add_column("transfers", sa.Column("fingerprint", sa.String(64), nullable=True))
    op.create_index("ix_transfers_work_order", "transfers", ["work_order_id"])
    op.create_index("ix_transfers_district_day", "transfers", ["district", "ledger_day"])
    op.create_table(
        "withheld",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("rider_id", sa.String(128), nullable=False),
        sa.Column("report_id", sa.String(64), nullable=False),
        sa.Column("work_order_id", sa.String(64), nullable=True),
        sa.Column("district", sa.String(16), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("ledger_day", sa.Date(), nullable=False),
        sa.Column("caused_by_event_id", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_withheld_positive"),
    )
    op.create_index("ix_withheld_rider_newest", "withheld", ["rider_id", "created_at", "id"])
    op.create_index("ix_withheld_work_order", "withheld", ["work_order_id"])
    op.create_table(
        "point_rules",
        sa.Column("district", sa.String(16), primary_key=True),
        sa.Column("effective_from", TIMESTAMP, primary_key=True),
        sa.Column("report_accepted", sa.Integer(), nullable=False),
        sa.Column("corroboration", sa.Integer(), nullable=False),
        sa.Column("closure_bonus", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("daily_cap", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("point_rules")
    op.drop_index("ix_withheld_work_order", table_name="withheld")
    op.drop_index("ix_withheld_rider_newest", table_name="withheld")
    op.drop_table("withheld")
    op.drop_index("ix_transfers_district_day", table_name="transfers")
    op.drop_index("ix_transfers_work_order", table_name="transfers")
    op.drop_column("transfers", "fingerprint")
    op.drop_column("transfers", "district")
