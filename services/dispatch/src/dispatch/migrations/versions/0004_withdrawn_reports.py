"""A reporter may withdraw a report merged into another's case (撤回): the merged report row
keeps when it was detached, and its reporter no longer follows the order.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_order_reports") as reports:
        reports.add_column(sa.Column("detached_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("work_order_reports") as reports:
        reports.drop_column("detached_at")
