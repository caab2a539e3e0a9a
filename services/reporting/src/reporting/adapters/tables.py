from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from common.db import UtcDateTime, messaging_tables, new_registry


class ReportingTable(SQLModel, registry=new_registry()):
    pass


class ReportRow(ReportingTable, table=True):
    __tablename__ = "reports"
    __table_args__ = (
        # A reporter's reports newest first, a page at a time, without sorting them all.
        sa.Index("ix_reports_reporter_newest", "reporter_id", "submitted_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=64)
    reporter_id: str = Field(max_length=128)
    district: str = Field(max_length=6)
    category: str = Field(max_length=8)
    category_name: str | None = Field(default=None, max_length=100)
    lat: float
    lon: float
    text: str = Field(max_length=500)
    status: str = Field(max_length=20)
    grid_id: str | None = Field(default=None, max_length=64)
    grid_name: str | None = Field(default=None, max_length=200)
    work_order_id: str | None = Field(default=None, max_length=64, index=True)
    work_order_state: str | None = Field(default=None, max_length=20)
    deadline: datetime | None = Field(default=None, sa_type=UtcDateTime())
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime())
    rejection_code: str | None = Field(default=None, max_length=64)
    rejection_reason: str | None = Field(default=None, max_length=500)
    last_sequence: int = 0
    last_step: str | None = Field(default=None, max_length=20)
    submitted_at: datetime = Field(sa_type=UtcDateTime())
    updated_at: datetime = Field(sa_type=UtcDateTime())
    captured_at: datetime | None = Field(default=None, sa_type=UtcDateTime())
    photos: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON())
    """The references of the report's photos (id, content_hash, size, media_type)."""


class ReporterRow(ReportingTable, table=True):
    """A reporter, held (row-locked) while a submission is checked against their limits."""

    __tablename__ = "reporters"

    reporter_id: str = Field(primary_key=True, max_length=128)
    last_submitted_at: datetime = Field(sa_type=UtcDateTime())


class IdempotencyRow(ReportingTable, table=True):
    __tablename__ = "idempotency_keys"

    reporter_id: str = Field(primary_key=True, max_length=128)
    key: str = Field(primary_key=True, max_length=128)
    fingerprint: str = Field(max_length=64)
    report_id: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UtcDateTime())


class TimelineRow(ReportingTable, table=True):
    """One step of a report's timeline."""

    __tablename__ = "report_timeline"
    __table_args__ = (
        # One row per business fact that no work-order sequence orders (a points transfer).
        sa.UniqueConstraint("report_id", "key", name="uq_report_timeline_report_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    report_id: str = Field(index=True, max_length=64)
    step: str = Field(max_length=20)
    label: str = Field(max_length=50)
    work_order_id: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=500)
    at: datetime = Field(sa_type=UtcDateTime())
    key: str | None = Field(default=None, max_length=100)
    photos: list[str] | None = Field(default=None, sa_type=sa.JSON())


class CatalogueRow(ReportingTable, table=True):
    """A district's category catalogue, the newest revision published."""

    __tablename__ = "district_catalogues"

    district: str = Field(primary_key=True, max_length=6)
    district_name: str = Field(max_length=100)
    revision: int
    categories: list[dict[str, Any]] = Field(sa_type=sa.JSON())
    published_at: datetime = Field(sa_type=UtcDateTime())
    received_at: datetime = Field(sa_type=UtcDateTime())


class ReporterRequestRow(ReportingTable, table=True):
    """A rating, a reopening or a withdrawal a reporter asked for, as forwarded to dispatch."""

    __tablename__ = "reporter_requests"
    __table_args__ = (
        sa.UniqueConstraint(
            "reporter_id", "idempotency_key", name="uq_reporter_requests_reporter_key"
        ),
    )

    id: str = Field(primary_key=True, max_length=64)
    report_id: str = Field(index=True, max_length=64)
    reporter_id: str = Field(max_length=128)
    work_order_id: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=10)
    score: int | None = None
    text: str = Field(max_length=500)
    requested_at: datetime = Field(sa_type=UtcDateTime())
    idempotency_key: str | None = Field(default=None, max_length=128)
    fingerprint: str | None = Field(default=None, max_length=64)


class PhotoRow(ReportingTable, table=True):
    """A photo uploaded by a rider or staff; its bytes are kept by content hash elsewhere."""

    __tablename__ = "photos"
    __table_args__ = (
        sa.UniqueConstraint("uploader_id", "content_hash", name="uq_photos_uploader_hash"),
    )

    id: str = Field(primary_key=True, max_length=64)
    uploader_id: str = Field(max_length=128)
    district: str = Field(max_length=6)
    content_hash: str = Field(max_length=64, index=True)
    size: int
    media_type: str = Field(max_length=20)
    width: int
    height: int
    thumbnail_hash: str = Field(max_length=64)
    thumbnail_size: int
    thumbnail_media_type: str = Field(max_length=20)
    created_at: datetime = Field(sa_type=UtcDateTime())


class ReportPhotoRow(ReportingTable, table=True):
    """A photo a report references, to tell who may see the photo."""

    __tablename__ = "report_photos"

    report_id: str = Field(primary_key=True, max_length=64)
    photo_id: str = Field(primary_key=True, max_length=64, index=True)
    position: int


MESSAGING = messaging_tables(ReportingTable.metadata)
