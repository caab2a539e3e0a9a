"""Frozen schema steps that several services' migrations share.

Each function here is history: it creates exactly what it created on the day it was released
and is never edited. A later change to the shared tables is a new function (``..._v2``) called
by a new revision of each service; :mod:`common.db` declares the tables as they are today, and
a test checks that every service's migrations arrive at that declaration.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def create_messaging_tables_v1(op: Any) -> None:
    """The outbox and ``processed_events`` as of revision 0001 of every service."""
    op.create_table(
        "outbox",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("message_key", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["position"],
        sqlite_where=sa.text("published_at IS NULL"),
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )


def drop_messaging_tables_v1(op: Any) -> None:
    op.drop_table("processed_events")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")


def create_published_offsets_v1(op: Any) -> None:
    """``outbox_published_offsets``, as of revision 0002 of every service."""
    op.create_table(
        "outbox_published_offsets",
        sa.Column("topic", sa.String(200), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def drop_published_offsets_v1(op: Any) -> None:
    op.drop_table("outbox_published_offsets")
