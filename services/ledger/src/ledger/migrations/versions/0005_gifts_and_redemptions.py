"""Gifts and their redemptions; a transfer may belong to a redemption instead of a report.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("transfers") as batch:
        batch.alter_column("report_id", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("redemption_id", sa.String(64), nullable=True))
    op.create_index("ix_transfers_redemption", "transfers", ["redemption_id"])
    op.create_table(
        "gifts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("district", sa.String(16), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("collection_point_kind", sa.String(20), nullable=False),
        sa.Column("collection_point_name", sa.String(120), nullable=False),
        sa.Column("active_from", TIMESTAMP, nullable=False),
        sa.Column("active_until", TIMESTAMP, nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("cost > 0", name="ck_gifts_cost_positive"),
        sa.CheckConstraint("stock >= 0", name="ck_gifts_stock_not_negative"),
    )
    op.create_index("ix_gifts_district", "gifts", ["district"])
    op.create_table(
        "redemptions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("rider_id", sa.String(128), nullable=False),
        sa.Column("gift_id", sa.String(64), sa.ForeignKey("gifts.id"), nullable=False),
        sa.Column("gift_name", sa.String(120), nullable=False),
        sa.Column("district", sa.String(16), nullable=False),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("collection_point", sa.String(160), nullable=False),
        sa.Column("collection_code", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reserved_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("resolved_by", sa.String(128), nullable=True),
        sa.UniqueConstraint("rider_id", "idempotency_key", name="uq_redemptions_rider_key"),
    )
    op.create_index("ix_redemptions_due", "redemptions", ["state", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_redemptions_due", table_name="redemptions")
    op.drop_table("redemptions")
    op.drop_index("ix_gifts_district", table_name="gifts")
    op.drop_table("gifts")
    op.drop_index("ix_transfers_redemption", table_name="transfers")
    with op.batch_alter_table("transfers") as batch:
        batch.drop_column("redemption_id")
        batch.alter_column("report_id", existing_type=sa.String(64), nullable=False)
