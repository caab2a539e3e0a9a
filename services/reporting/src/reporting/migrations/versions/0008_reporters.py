"""Reporters held while a submission is checked against their limits (reports an hour and a
day, the same problem reported twice).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reporters",
        sa.Column("reporter_id", sa.String(128), primary_key=True),
        sa.Column("last_submitted_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reporters")
