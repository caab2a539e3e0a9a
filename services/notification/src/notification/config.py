from pathlib import Path

from pydantic_settings import SettingsConfigDict

from common.service.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/notification.db"
    port: int = 8004
    template_overrides_dir: Path | None = None
    """A folder of ``<district>.toml`` documents rewording some templates for a district
    (see :mod:`notification.adapters.templates`); checked when the service starts."""
    locale: str = "zh-CN"
    """The locale messages are worded in (a template missing in it falls back to English)."""
