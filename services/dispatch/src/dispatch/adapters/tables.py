from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from common.db import UtcDateTime, messaging_tables, new_registry

TIMESTAMP = UtcDateTime()


class DispatchTable(SQLModel, registry=new_registry()):
    pass


class GridRow(DispatchTable, table=True):
    __tablename__ = "grids"

    grid_id: str = Field(primary_key=True, max_length=64)
    district_code: str = Field(index=True, max_length=6)
    name: str = Field(max_length=200)
    community: str = Field(max_length=200)
    street: str = Field(max_length=200)
    geometry: str = Field(sa_type=sa.Text)
    position: int
    loaded_at: datetime = Field(sa_type=TIMESTAMP)


class WorkOrderRow(DispatchTable, table=True):
    __tablename__ = "work_orders"

    id: str = Field(primary_key=True, max_length=64)
    report_id: str = Field(unique=True, max_length=64)
    reporter_id: str = Field(max_length=128)
    district: str = Field(max_length=6)
    category: str = Field(max_length=8)
    priority: str = Field(max_length=16)
    grid_id: str = Field(index=True, max_length=64)
    lat: float
    lon: float
    text: str = Field(max_length=500)
    status: str = Field(max_length=20)
    version: int
    filed_at: datetime = Field(sa_type=TIMESTAMP)


class WorkOrderHistoryRow(DispatchTable, table=True):
    __tablename__ = "work_order_history"

    id: int | None = Field(default=None, primary_key=True)
    work_order_id: str = Field(index=True, max_length=64)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    actor: str = Field(max_length=128)
    reason: str = Field(max_length=500)
    at: datetime = Field(sa_type=TIMESTAMP)


class RejectedReportRow(DispatchTable, table=True):
    """Triage decisions that did not become work orders (不予立案), kept for audit."""

    __tablename__ = "rejected_reports"

    report_id: str = Field(primary_key=True, max_length=64)
    reporter_id: str = Field(max_length=128)
    category: str = Field(max_length=8)
    lat: float
    lon: float
    reason_code: str = Field(max_length=64)
    reason: str = Field(max_length=500)
    rejected_at: datetime = Field(sa_type=TIMESTAMP)


MESSAGING = messaging_tables(DispatchTable.metadata)
