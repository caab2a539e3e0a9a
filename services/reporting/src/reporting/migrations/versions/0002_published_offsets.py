"""What the outbox relay has published per partition, to notice a broker that lost it.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from common.migration_steps import create_published_offsets_v1, drop_published_offsets_v1

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_published_offsets_v1(op)


def downgrade() -> None:
    drop_published_offsets_v1(op)
