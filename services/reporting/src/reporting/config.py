from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.service.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/reporting.db"
    port: int = 8001
    reopen_window_days: int = Field(default=7, ge=1)
    """How long after its closing a reporter may ask for a work order to be reopened
    (``REPORTING_REOPEN_WINDOW_DAYS``; dispatch keeps its own window and has the last word)."""

    @property
    def reopen_window(self) -> timedelta:
        return timedelta(days=self.reopen_window_days)
