"""A timeline row may carry the business fact it tells (the points of one transfer), at most
one row per report and fact: the fact told again — by a replay in a fresh consumer group —
adds nothing; and the photos of its step (a resolution's evidence).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report_timeline") as timeline:
        timeline.add_column(sa.Column("key", sa.String(100)))
        timeline.add_column(sa.Column("photos", sa.JSON()))
        timeline.create_unique_constraint("uq_report_timeline_report_key", ["report_id", "key"])


def downgrade() -> None:
    with op.batch_alter_table("report_timeline") as timeline:
        timeline.drop_constraint("uq_report_timeline_report_key", type_="unique")
        timeline.drop_column("photos")
        timeline.drop_column("key")
