from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.service.settings import ServiceSettings
from dispatch.service_layer.lifecycle import Timing


class DispatchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/dispatch.db"
    port: int = 8002
    grids_refresh_seconds: float = Field(default=30.0, gt=0)
    """How often a replica checks whether another replica loaded new reference data."""
    grids_max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    """The largest GeoJSON FeatureCollection ``PUT …/grids`` takes (other routes keep
    ``DISPATCH_MAX_BODY_BYTES``)."""
    grids_file: str | None = None
    """One district's GeoJSON grids, loaded at start when that district has none."""
    districts_dir: str | None = None
    """A directory with a folder per district code holding ``grids.geojson``,
    ``categories.json``, ``roster.json``, ``calendar.json``; each is loaded at start when the
    district has none of that kind yet. ``demo`` loads the synthetic demo districts shipped
    with the package."""
    reopen_window_days: float = Field(default=7.0, gt=0)
    """How long after closing a reporter may reopen a work order (发回重办)."""
    escalate_street_after_hours: float = Field(default=4.0, ge=0)
    """How long past its deadline an order is escalated to the street supervisors."""
    escalate_district_after_hours: float = Field(default=24.0, ge=0)
    """How long past its deadline an order is escalated to the district supervisors."""
    scan_interval_seconds: float = Field(default=15.0, gt=0)
    """How often the escalation scanner looks for orders that are due."""
    gauges_refresh_seconds: float = Field(default=30.0, gt=0)
    """How often each replica counts the open and overdue orders for its gauges."""

    def timing(self) -> Timing:
        return Timing(
            reopen_window=timedelta(days=self.reopen_window_days),
            street_after=timedelta(hours=self.escalate_street_after_hours),
            district_after=timedelta(hours=self.escalate_district_after_hours),
        )
