"""Grids, work orders and their history, rejected reports, outbox and processed events.

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


def upgrade() -> None:
    op.create_table(
        "grids",
        sa.Column("grid_id", sa.String(64), primary_key=True),
        sa.Column("district_code", sa.String(6), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("community", sa.String(200), nullable=False),
        sa.Column("street", sa.String(200), nullable=False),
        sa.Column("geometry", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("loaded_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "work_orders",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("report_id", sa.String(64), nullable=False, unique=True),
        sa.Column("reporter_id", sa.String(128), nullable=False),
        sa.Column("district", sa.String(6), nullable=False),
        sa.Column("category", sa.String(8), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("grid_id", sa.String(64), nullable=False, index=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("filed_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "work_order_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("work_order_id", sa.String(64), nullable=False, index=True),
        sa.Column("from_status", sa.String(20)),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "rejected_reports",
        sa.Column("report_id", sa.String(64), primary_key=True),
        sa.Column("reporter_id", sa.String(128), nullable=False),
        sa.Column("category", sa.String(8), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("reason_code", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("rejected_at", TIMESTAMP, nullable=False),
    )
    create_messaging_tables_v1(op)


def downgrade() -> None:
    drop_messaging_tables_v1(op)
    for table in ("rejected_reports", "work_order_history", "work_orders", "grids"):
        op.drop_table(table)
