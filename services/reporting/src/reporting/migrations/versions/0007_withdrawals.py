"""A reporter may withdraw their report before it is accepted as a case (撤回); the withdrawal
is stored with their ratings and reopenings, and a report withdrawn before triage has no work
order yet: ``reporter_requests.work_order_id`` becomes nullable.

(0005 and 0006 are being written beside this revision; the chain is put in order when they
are merged.)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reporter_requests") as requests:
        requests.alter_column("work_order_id", existing_type=sa.String(64), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM reporter_requests WHERE work_order_id IS NULL")
    with op.batch_alter_table("reporter_requests") as requests:
        requests.alter_column("work_order_id", existing_type=sa.String(64), nullable=False)
