"""The work order's whole life: per-district reference documents (categories, roster,
calendar), assignment and time limits on work orders, merged reports, richer history.

Orders filed before this revision keep their state (filed); the scanner dispatches them once
the district has a roster.

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
    op.create_table(
        "reference_documents",
        sa.Column("district", sa.String(6), primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("loaded_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "work_order_reports",
        sa.Column("report_id", sa.String(64), primary_key=True),
        sa.Column("work_order_id", sa.String(64), nullable=False, index=True),
        sa.Column("reporter_id", sa.String(128), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("attached_at", TIMESTAMP, nullable=False),
    )
    with op.batch_alter_table("work_orders") as table:
        table.add_column(sa.Column("category_group", sa.String(8)))
        table.add_column(sa.Column("street", sa.String(200)))
        table.add_column(sa.Column("updated_at", TIMESTAMP))
        table.add_column(sa.Column("assignee_kind", sa.String(20)))
        table.add_column(sa.Column("assignee_id", sa.String(128)))
        table.add_column(sa.Column("assignee_name", sa.String(200)))
        table.add_column(sa.Column("returned_by", sa.Text()))
        table.add_column(sa.Column("started_at", TIMESTAMP))
        table.add_column(sa.Column("claim_due", TIMESTAMP))
        table.add_column(sa.Column("warning_at", TIMESTAMP))
        table.add_column(sa.Column("handle_due", TIMESTAMP))
        for counter in ("rework_count", "return_count", "reopen_count", "escalation_level"):
            table.add_column(sa.Column(counter, sa.Integer(), nullable=False, server_default="0"))
        for flag in ("warned", "overdue"):
            table.add_column(
                sa.Column(flag, sa.Boolean(), nullable=False, server_default=sa.false())
            )
        table.add_column(sa.Column("closed_at", TIMESTAMP))
        table.add_column(sa.Column("rating", sa.Integer()))
        table.create_index("ix_work_orders_merge", ["district", "category_group", "status"])
        table.create_index("ix_work_orders_assignee", ["assignee_id", "status"])
        table.create_index("ix_work_orders_scan", ["status", "handle_due"])
        table.create_index("ix_work_orders_listing", ["district", "filed_at", "id"])
    with op.batch_alter_table("work_order_history") as table:
        table.add_column(sa.Column("action", sa.String(20)))
        table.add_column(sa.Column("actor_role", sa.String(20)))
        table.add_column(sa.Column("evidence", sa.Text()))
        table.create_index("ix_work_order_history_action", ["action", "at"])
    with op.batch_alter_table("rejected_reports") as table:
        table.add_column(sa.Column("district", sa.String(6)))


def downgrade() -> None:
    with op.batch_alter_table("rejected_reports") as table:
        table.drop_column("district")
    with op.batch_alter_table("work_order_history") as table:
        table.drop_index("ix_work_order_history_action")
        for column in ("evidence", "actor_role", "action"):
            table.drop_column(column)
    with op.batch_alter_table("work_orders") as table:
        for index in (
            "ix_work_orders_listing",
            "ix_work_orders_scan",
            "ix_work_orders_assignee",
            "ix_work_orders_merge",
        ):
            table.drop_index(index)
        for column in (
            "rating", "closed_at", "overdue", "warned", "escalation_level", "reopen_count",
            "return_count", "rework_count", "handle_due", "warning_at", "claim_due",
            "started_at", "returned_by", "assignee_name", "assignee_id", "assignee_kind",
            "updated_at", "street", "category_group",
        ):  # fmt: skip
            table.drop_column(column)
    op.drop_table("work_order_reports")
    op.drop_table("reference_documents")
