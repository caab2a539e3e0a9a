"""The tables of the Open311 GeoReport v2 endpoint: partner systems' API keys (only a hash of
each) and what a partner's request carries beyond its report. Migration 0006 creates them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from common.db import UtcDateTime
from reporting.adapters.tables import ReportingTable, ReportRow


class Open311ApiKeyRow(ReportingTable, table=True):
    """An API key issued to a partner system for one district; a revoked key stays, marked."""

    __tablename__ = "open311_api_keys"

    id: str = Field(primary_key=True, max_length=32)
    partner: str = Field(max_length=100)
    district: str = Field(max_length=6)
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UtcDateTime())
    created_by: str = Field(max_length=128)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime())


class Open311RequestRow(ReportingTable, table=True):
    """The address and photo link of a report a partner filed through Open311."""

    __tablename__ = "open311_requests"

    report_id: str = Field(primary_key=True, max_length=64)
    api_key_id: str = Field(max_length=32, index=True)
    address: str | None = Field(default=None, max_length=500)
    media_url: str | None = Field(default=None, max_length=2000)


REPORTS_OF_DISTRICT_NEWEST = sa.Index(
    "ix_reports_district_newest",
    ReportRow.__table__.c.district,  # type: ignore[attr-defined]
    ReportRow.__table__.c.submitted_at,  # type: ignore[attr-defined]
    ReportRow.__table__.c.id,  # type: ignore[attr-defined]
)
"""A district's reports newest first within a window (``GET requests.json``), by range scan."""
