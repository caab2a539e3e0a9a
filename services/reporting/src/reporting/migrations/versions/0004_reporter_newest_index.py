"""A reporter's reports are listed newest first by keyset: an index on (reporter_id,
submitted_at, id) serves each page as a range scan; it replaces the index on reporter_id alone.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reports_reporter_newest", "reports", ["reporter_id", "submitted_at", "id"])
    op.drop_index("ix_reports_reporter_id", table_name="reports")


def downgrade() -> None:
    op.create_index("ix_reports_reporter_id", "reports", ["reporter_id"])
    op.drop_index("ix_reports_reporter_newest", table_name="reports")
