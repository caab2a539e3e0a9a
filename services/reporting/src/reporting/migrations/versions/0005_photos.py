"""Photos of reports: each upload's record (its bytes are kept by content hash in a directory
or a bucket), the photos each report references, and the moment an offline report was
captured.

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
    with op.batch_alter_table("reports") as reports:
        reports.add_column(sa.Column("captured_at", TIMESTAMP))
        reports.add_column(sa.Column("photos", sa.JSON()))
    op.create_table(
        "photos",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("uploader_id", sa.String(128), nullable=False),
        sa.Column("district", sa.String(6), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False, index=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(20), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("thumbnail_hash", sa.String(64), nullable=False),
        sa.Column("thumbnail_size", sa.Integer(), nullable=False),
        sa.Column("thumbnail_media_type", sa.String(20), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("uploader_id", "content_hash", name="uq_photos_uploader_hash"),
    )
    op.create_table(
        "report_photos",
        sa.Column("report_id", sa.String(64), primary_key=True),
        sa.Column("photo_id", sa.String(64), primary_key=True, index=True),
        sa.Column("position", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_photos")
    op.drop_table("photos")
    with op.batch_alter_table("reports") as reports:
        reports.drop_column("photos")
        reports.drop_column("captured_at")
