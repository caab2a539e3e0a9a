from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from common.db import UtcDateTime, messaging_tables, new_registry

TIMESTAMP = UtcDateTime()


class NotificationTable(SQLModel, registry=new_registry()):
    pass


class NotificationRow(NotificationTable, table=True):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint(
            "event_id",
            "recipient_id",
            "channel",
            "template",
            name="uq_notifications_event_recipient_channel_template",
        ),
        sa.Index("ix_notifications_recipient_created", "recipient_id", "created_at"),
        sa.Index("ix_notifications_recipient_read", "recipient_id", "read_at"),
    )

    id: str = Field(primary_key=True, max_length=64)
    event_id: str = Field(max_length=64)
    recipient_id: str = Field(max_length=128)
    channel: str = Field(max_length=20)
    template: str = Field(max_length=64)
    title: str = Field(max_length=200)
    body: str = Field(max_length=2000)
    report_id: str | None = Field(default=None, max_length=64)
    work_order_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_type=TIMESTAMP)
    read_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)


MESSAGING = messaging_tables(NotificationTable.metadata)
