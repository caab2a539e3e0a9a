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


class ReferenceDocumentRow(DispatchTable, table=True):
    """A district's category catalogue, roster or working calendar, as the JSON document that
    was loaded (validated before it was stored); replaced whole, its revision counts up."""

    __tablename__ = "reference_documents"

    district: str = Field(primary_key=True, max_length=6)
    kind: str = Field(primary_key=True, max_length=20)
    body: str = Field(sa_type=sa.Text)
    revision: int
    loaded_at: datetime = Field(sa_type=TIMESTAMP)


class WorkOrderRow(DispatchTable, table=True):
    __tablename__ = "work_orders"
    __table_args__ = (
        sa.Index("ix_work_orders_merge", "district", "category_group", "status"),
        sa.Index("ix_work_orders_assignee", "assignee_id", "status"),
        sa.Index("ix_work_orders_scan", "status", "handle_due"),
        sa.Index("ix_work_orders_listing", "district", "filed_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=64)
    report_id: str = Field(unique=True, max_length=64)
    reporter_id: str = Field(max_length=128)
    district: str = Field(max_length=6)
    category: str = Field(max_length=8)
    category_group: str | None = Field(default=None, max_length=8)
    priority: str = Field(max_length=16)
    grid_id: str = Field(index=True, max_length=64)
    street: str | None = Field(default=None, max_length=200)
    lat: float
    lon: float
    text: str = Field(max_length=500)
    status: str = Field(max_length=20)
    version: int
    filed_at: datetime = Field(sa_type=TIMESTAMP)
    updated_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    assignee_kind: str | None = Field(default=None, max_length=20)
    assignee_id: str | None = Field(default=None, max_length=128)
    assignee_name: str | None = Field(default=None, max_length=200)
    returned_by: str | None = Field(default=None, sa_type=sa.Text)
    """JSON list of the assignees who returned the order."""
    started_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    claim_due: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    warning_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    handle_due: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    rework_count: int = 0
    return_count: int = 0
    reopen_count: int = 0
    escalation_level: int = 0
    warned: bool = False
    overdue: bool = False
    closed_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    rating: int | None = None


class WorkOrderReportRow(DispatchTable, table=True):
    """A report merged into a work order (并单)."""

    __tablename__ = "work_order_reports"

    report_id: str = Field(primary_key=True, max_length=64)
    work_order_id: str = Field(index=True, max_length=64)
    reporter_id: str = Field(max_length=128)
    distance_m: float
    attached_at: datetime = Field(sa_type=TIMESTAMP)
    detached_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)
    """When its reporter withdrew it (撤回): it no longer follows the order."""


class WorkOrderHistoryRow(DispatchTable, table=True):
    __tablename__ = "work_order_history"
    __table_args__ = (sa.Index("ix_work_order_history_action", "action", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    work_order_id: str = Field(index=True, max_length=64)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    action: str | None = Field(default=None, max_length=20)
    actor: str = Field(max_length=128)
    actor_role: str | None = Field(default=None, max_length=20)
    reason: str = Field(max_length=500)
    evidence: str | None = Field(default=None, sa_type=sa.Text)
    """JSON list of evidence photo references."""
    at: datetime = Field(sa_type=TIMESTAMP)


class RejectedReportRow(DispatchTable, table=True):
    """Triage decisions that did not become work orders (不予立案), kept for audit."""

    __tablename__ = "rejected_reports"

    report_id: str = Field(primary_key=True, max_length=64)
    reporter_id: str = Field(max_length=128)
    district: str | None = Field(default=None, max_length=6)
    category: str = Field(max_length=8)
    lat: float
    lon: float
    reason_code: str = Field(max_length=64)
    reason: str = Field(max_length=500)
    rejected_at: datetime = Field(sa_type=TIMESTAMP)


MESSAGING = messaging_tables(DispatchTable.metadata)
