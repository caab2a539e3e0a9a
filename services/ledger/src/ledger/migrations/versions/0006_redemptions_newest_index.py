"""A rider's redemptions and a district's are listed newest first by keyset: indexes on
(rider_id, reserved_at, id) and (district, reserved_at, id) serve each page as a range scan.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_redemptions_rider_newest", "redemptions", ["rider_id", "reserved_at", "id"])
    op.create_index(
        "ix_redemptions_district_newest", "redemptions", ["district", "reserved_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_redemptions_district_newest", table_name="redemptions")
    op.drop_index("ix_redemptions_rider_newest", table_name="redemptions")
