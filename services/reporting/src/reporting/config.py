from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from common.service.settings import ServiceSettings
from reporting.domain.limits import SubmissionLimits
from reporting.domain.photos import CaptureWindow, PhotoLimits


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

    photo_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    """The largest photo upload in bytes (``REPORTING_PHOTO_MAX_BYTES``)."""
    photo_max_pixels: int = Field(default=40_000_000, ge=1)
    """The most pixels a photo's header may declare (``REPORTING_PHOTO_MAX_PIXELS``)."""
    photo_dir: Path = Path("./data/photos")
    """Where photo files are kept unless a bucket is set (``REPORTING_PHOTO_DIR``)."""
    photo_s3_bucket: str | None = None
    """Keep photos in this S3-compatible bucket instead (``REPORTING_PHOTO_S3_BUCKET``)."""
    photo_s3_endpoint_url: str | None = None
    """The S3 endpoint (MinIO, Ceph…); AWS's when unset (``REPORTING_PHOTO_S3_ENDPOINT_URL``)."""
    photo_s3_region: str | None = None
    """The bucket's region (``REPORTING_PHOTO_S3_REGION``)."""
    captured_max_age_hours: float = Field(default=72, gt=0)
    """How long after its capture an offline report is still accepted
    (``REPORTING_CAPTURED_MAX_AGE_HOURS``)."""
    clock_skew_seconds: float = Field(default=300, ge=0)
    """How far ahead of the server's clock a report's capture time may be
    (``REPORTING_CLOCK_SKEW_SECONDS``)."""

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

    @property
    def photo_limits(self) -> PhotoLimits:
        return PhotoLimits(max_bytes=self.photo_max_bytes, max_pixels=self.photo_max_pixels)

    @property
    def capture_window(self) -> CaptureWindow:
        return CaptureWindow(
            max_age=timedelta(hours=self.captured_max_age_hours),
            clock_skew=timedelta(seconds=self.clock_skew_seconds),
        )
