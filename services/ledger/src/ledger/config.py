from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.service.settings import ServiceSettings


class LedgerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/ledger.db"
    port: int = 8003
    points_report_accepted: int = Field(default=10, ge=1)
    points_daily_cap: int = Field(default=50, ge=1)
