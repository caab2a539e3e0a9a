from datetime import timedelta

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from common.service.settings import ServiceSettings
from reporting.domain.limits import SubmissionLimits


class ReporterLimits(BaseModel):
    """A district's own limits on one rider's reports (overriding the defaults)."""

    per_hour: int = Field(ge=1)
    per_day: int = Field(ge=1)


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/reporting.db"
    port: int = 8001
    reopen_window_days: int = Field(default=7, ge=1)
    """How long after its closing a reporter may ask for a work order to be reopened
    (``REPORTING_REOPEN_WINDOW_DAYS``; dispatch keeps its own window and has the last word)."""
    rider_reports_per_hour: int = Field(default=30, ge=1)
    """Reports one rider may submit in any hour (``REPORTING_RIDER_REPORTS_PER_HOUR``)."""
    rider_reports_per_day: int = Field(default=100, ge=1)
    """Reports one rider may submit in any 24 hours (``REPORTING_RIDER_REPORTS_PER_DAY``)."""
    district_limits: dict[str, ReporterLimits] = Field(default_factory=dict)
    """Per-district overrides, keyed by district code (``REPORTING_DISTRICT_LIMITS``, JSON:
    ``{"370811": {"per_hour": 20, "per_day": 60}}``)."""
    duplicate_radius_m: float = Field(default=30.0, ge=0)
    duplicate_window_minutes: float = Field(default=10.0, ge=0)
    """A rider's report of the same category within this radius and these minutes of one of
    their earlier reports is answered with that report (``REPORTING_DUPLICATE_RADIUS_M``,
    ``REPORTING_DUPLICATE_WINDOW_MINUTES``; 0 turns it off)."""

    @property
    def reopen_window(self) -> timedelta:
        return timedelta(days=self.reopen_window_days)

    def limits_in(self, district: str) -> SubmissionLimits:
        """A rider's limits when reporting in ``district``."""
        own = self.district_limits.get(district)
        return SubmissionLimits(
            per_hour=own.per_hour if own else self.rider_reports_per_hour,
            per_day=own.per_day if own else self.rider_reports_per_day,
            duplicate_radius_m=self.duplicate_radius_m,
            duplicate_window=timedelta(minutes=self.duplicate_window_minutes),
        )
