"""Webhooks per district and audience, deliveries beyond the inbox and their attempts.

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
    op.create_table(
        "webhooks",
        sa.Column("district", sa.String(16), primary_key=True),
        sa.Column("audience", sa.String(20), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("previous_secret", sa.String(200)),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("recipient_id", sa.String(128), nullable=False),
        sa.Column("audience", sa.String(20), nullable=False),
        sa.Column("district", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("report_id", sa.String(64)),
        sa.Column("work_order_id", sa.String(64)),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("critical", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.String(500)),
        sa.UniqueConstraint(
            "event_id",
            "recipient_id",
            "channel",
            "template",
            name="uq_deliveries_event_recipient_channel_template",
        ),
    )
    op.create_index("ix_deliveries_status_next", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_work_order", "deliveries", ["work_order_id", "sequence"])
    op.create_table(
        "delivery_attempts",
        sa.Column("delivery_id", sa.String(64), primary_key=True),
        sa.Column("attempt", sa.Integer(), primary_key=True),
        sa.Column("attempted_at", TIMESTAMP, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.String(500)),
    )


def downgrade() -> None:
    op.drop_table("delivery_attempts")
    op.drop_index("ix_deliveries_work_order", table_name="deliveries")
    op.drop_index("ix_deliveries_status_next", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("webhooks")
