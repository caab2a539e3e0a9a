"""Open311 GeoReport v2: partner systems' API keys (a hash of each), the address and photo link
of the requests they file, and an index for a district's reports newest first.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "open311_api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("partner", sa.String(100), nullable=False),
        sa.Column("district", sa.String(6), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("revoked_at", TIMESTAMP),
    )
    op.create_table(
        "open311_requests",
        sa.Column("report_id", sa.String(64), primary_key=True),
        sa.Column("api_key_id", sa.String(32), nullable=False),
        sa.Column("address", sa.String(500)),
        sa.Column("media_url", sa.String(2000)),
    )
    op.create_index("ix_open311_requests_api_key_id", "open311_requests", ["api_key_id"])
    op.create_index("ix_reports_district_newest", "reports", ["district", "submitted_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_reports_district_newest", table_name="reports")
    op.drop_index("ix_open311_requests_api_key_id", table_name="open311_requests")
    op.drop_table("open311_requests")
    op.drop_table("open311_api_keys")
