from datetime import timedelta
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.service.settings import ServiceSettings
from reporting.domain.photos import CaptureWindow, PhotoLimits


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/reporting.db"
    port: int = 8001
    reopen_window_days: int = Field(default=7, ge=1)
    """How long after its closing a reporter may ask for a work order to be reopened
    (``REPORTING_REOPEN_WINDOW_DAYS``; dispatch keeps its own window and has the last word)."""

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

    @property
    def photo_limits(self) -> PhotoLimits:
        return PhotoLimits(max_bytes=self.photo_max_bytes, max_pixels=self.photo_max_pixels)

    @property
    def capture_window(self) -> CaptureWindow:
        return CaptureWindow(
            max_age=timedelta(hours=self.captured_max_age_hours),
            clock_skew=timedelta(seconds=self.clock_skew_seconds),
        )
