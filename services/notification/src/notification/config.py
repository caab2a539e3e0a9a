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
    webhook_timeout_seconds: float = 5.0
    delivery_max_attempts: int = 8
    """Attempts at a delivery before it fails for good (transient failures only)."""
    delivery_backoff_base_seconds: float = 2.0
    delivery_backoff_cap_seconds: float = 3600.0
    delivery_poll_seconds: float = 1.0
    """How often the sender looks for due deliveries."""
    delivery_batch_size: int = 20
