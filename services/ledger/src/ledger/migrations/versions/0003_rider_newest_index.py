"""A rider's transfers are listed newest first by keyset: an index on (rider_id, created_at,
id) serves each page as a range scan.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_transfers_rider_newest", "transfers", ["rider_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_transfers_rider_newest", table_name="transfers")
