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


class WebhookRow(NotificationTable, table=True):
    """Where a district's messages for one audience (reporter, assignee, supervisor) go."""

    __tablename__ = "webhooks"

    district: str = Field(primary_key=True, max_length=16)
    audience: str = Field(primary_key=True, max_length=20)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=200)
    previous_secret: str | None = Field(default=None, max_length=200)
    """Still signed with until retired, so receivers can rotate without a gap."""
    updated_at: datetime = Field(sa_type=TIMESTAMP)


class DeliveryRow(NotificationTable, table=True):
    __tablename__ = "deliveries"
    __table_args__ = (
        sa.UniqueConstraint(
            "event_id",
            "recipient_id",
            "channel",
            "template",
            name="uq_deliveries_event_recipient_channel_template",
        ),
        sa.Index("ix_deliveries_status_next", "status", "next_attempt_at"),
        sa.Index("ix_deliveries_work_order", "work_order_id", "sequence"),
    )

    id: str = Field(primary_key=True, max_length=64)
    event_id: str = Field(max_length=64)
    recipient_id: str = Field(max_length=128)
    audience: str = Field(max_length=20)
    district: str = Field(max_length=16)
    channel: str = Field(max_length=20)
    template: str = Field(max_length=64)
    payload: str = Field(sa_type=sa.Text)
    status: str = Field(max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=TIMESTAMP)
    created_at: datetime = Field(sa_type=TIMESTAMP)
    updated_at: datetime = Field(sa_type=TIMESTAMP)
    report_id: str | None = Field(default=None, max_length=64)
    work_order_id: str | None = Field(default=None, max_length=64)
    sequence: int = Field(default=0, sa_type=sa.BigInteger)
    critical: bool = False
    last_error: str | None = Field(default=None, max_length=500)


class DeliveryAttemptRow(NotificationTable, table=True):
    """Every attempt at a delivery, kept."""

    __tablename__ = "delivery_attempts"

    delivery_id: str = Field(primary_key=True, max_length=64)
    attempt: int = Field(primary_key=True)
    attempted_at: datetime = Field(sa_type=TIMESTAMP)
    outcome: str = Field(max_length=20)
    """sent, retry or failed."""
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)


class PreferenceRow(NotificationTable, table=True):
    __tablename__ = "preferences"

    recipient_id: str = Field(primary_key=True, max_length=128)
    kind: str = Field(primary_key=True, max_length=64)
    channel: str = Field(primary_key=True, max_length=20)
    enabled: bool
    updated_at: datetime = Field(sa_type=TIMESTAMP)


class QuietHoursRow(NotificationTable, table=True):
    __tablename__ = "quiet_hours"

    recipient_id: str = Field(primary_key=True, max_length=128)
    start: str = Field(max_length=5)
    """HH:MM, Asia/Shanghai."""
    end: str = Field(max_length=5)
    updated_at: datetime = Field(sa_type=TIMESTAMP)


class WorkOrderVersionRow(NotificationTable, table=True):
    """The newest ``sequence`` of each work order's events seen, to suppress stale messages."""

    __tablename__ = "work_order_versions"

    work_order_id: str = Field(primary_key=True, max_length=64)
    sequence: int = Field(sa_type=sa.BigInteger)


class WeChatOpenIdRow(NotificationTable, table=True):
    """A recipient's openid in the district's mini program (for subscribe messages)."""

    __tablename__ = "wechat_openids"

    recipient_id: str = Field(primary_key=True, max_length=128)
    openid: str = Field(max_length=128)
    updated_at: datetime = Field(sa_type=TIMESTAMP)


MESSAGING = messaging_tables(NotificationTable.metadata)
