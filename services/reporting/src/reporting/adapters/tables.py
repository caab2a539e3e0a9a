from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from common.db import UtcDateTime, messaging_tables, new_registry


class ReportingTable(SQLModel, registry=new_registry()):
    pass


class ReportRow(ReportingTable, table=True):
    __tablename__ = "reports"

    id: str = Field(primary_key=True, max_length=64)
    reporter_id: str = Field(index=True, max_length=128)
    district: str = Field(max_length=6)
    category: str = Field(max_length=8)
    lat: float
    lon: float
    text: str = Field(max_length=500)
    status: str = Field(max_length=20)
    grid_id: str | None = Field(default=None, max_length=64)
    grid_name: str | None = Field(default=None, max_length=200)
    work_order_id: str | None = Field(default=None, max_length=64)
    rejection_code: str | None = Field(default=None, max_length=64)
    rejection_reason: str | None = Field(default=None, max_length=500)
    last_sequence: int = 0
    submitted_at: datetime = Field(sa_type=UtcDateTime())
    updated_at: datetime = Field(sa_type=UtcDateTime())


class IdempotencyRow(ReportingTable, table=True):
    __tablename__ = "idempotency_keys"

    reporter_id: str = Field(primary_key=True, max_length=128)
    key: str = Field(primary_key=True, max_length=128)
    fingerprint: str = Field(max_length=64)
    report_id: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UtcDateTime())


MESSAGING = messaging_tables(ReportingTable.metadata)
