"""Recipients' channel preferences and quiet hours; the newest version of each work order.

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
    op.create_table(
        "preferences",
        sa.Column("recipient_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(20), primary_key=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "quiet_hours",
        sa.Column("recipient_id", sa.String(128), primary_key=True),
        sa.Column("start", sa.String(5), nullable=False),
        sa.Column("end", sa.String(5), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "work_order_versions",
        sa.Column("work_order_id", sa.String(64), primary_key=True),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("work_order_versions")
    op.drop_table("quiet_hours")
    op.drop_table("preferences")
