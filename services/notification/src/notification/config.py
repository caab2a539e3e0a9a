from pydantic_settings import SettingsConfigDict

from common.service.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/notification.db"
    port: int = 8004
