from pathlib import Path

from pydantic import Field, SecretStr
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
    wechat_appid: str | None = None
    """The mini program's AppID; WeChat subscribe messages are sent only when it is set."""
    wechat_secret: SecretStr | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_template_ids: dict[str, str] = Field(default_factory=dict)
    """gridloop template id -> WeChat subscribe-message template id (JSON in the env var)."""
    wechat_data_keys: dict[str, str] = Field(
        default_factory=lambda: {"title": "thing1", "body": "thing2", "time": "time3"}
    )
    """Which data keys of the WeChat template get the title, the body and the time."""
    wechat_page: str | None = None
    """The mini program page a subscribe message opens."""
    wechat_miniprogram_state: str = "formal"
