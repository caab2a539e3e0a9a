from pydantic_settings import SettingsConfigDict

from common.service.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/reporting.db"
    port: int = 8001
