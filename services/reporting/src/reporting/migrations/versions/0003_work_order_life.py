"""The reporter follows the whole life of the work order: its state, deadline and closing on
the report, a timeline of its steps, each district's category catalogue, and the ratings and
reopenings reporters ask for.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("reports") as reports:
        reports.add_column(sa.Column("category_name", sa.String(100)))
        reports.add_column(sa.Column("work_order_state", sa.String(20)))
        reports.add_column(sa.Column("deadline", TIMESTAMP))
        reports.add_column(sa.Column("closed_at", TIMESTAMP))
        reports.add_column(sa.Column("last_step", sa.String(20)))
    op.create_index("ix_reports_work_order_id", "reports", ["work_order_id"])
    op.create_table(
        "report_timeline",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("report_id", sa.String(64), nullable=False, index=True),
        sa.Column("step", sa.String(20), nullable=False),
        sa.Column("label", sa.String(50), nullable=False),
        sa.Column("work_order_id", sa.String(64)),
        sa.Column("detail", sa.String(500)),
        sa.Column("at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "district_catalogues",
        sa.Column("district", sa.String(6), primary_key=True),
        sa.Column("district_name", sa.String(100), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("published_at", TIMESTAMP, nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "reporter_requests",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("report_id", sa.String(64), nullable=False, index=True),
        sa.Column("reporter_id", sa.String(128), nullable=False),
        sa.Column("work_order_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("score", sa.Integer()),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("requested_at", TIMESTAMP, nullable=False),
        sa.Column("idempotency_key", sa.String(128)),
        sa.Column("fingerprint", sa.String(64)),
        sa.UniqueConstraint(
            "reporter_id", "idempotency_key", name="uq_reporter_requests_reporter_key"
        ),
    )


def downgrade() -> None:
    op.drop_table("reporter_requests")
    op.drop_table("district_catalogues")
    op.drop_table("report_timeline")
    op.drop_index("ix_reports_work_order_id", "reports")
    with op.batch_alter_table("reports") as reports:
        for column in ("last_step", "closed_at", "deadline", "work_order_state", "category_name"):
            reports.drop_column(column)
