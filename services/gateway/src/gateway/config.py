"""The gateway's settings, from ``GATEWAY_*`` environment variables (and the shared
``GRIDLOOP_JWT_SECRET``, used only to mint development sign-in tokens)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.tokens import DEVELOPMENT_SECRET

UPSTREAMS = ("reporting", "dispatch", "ledger", "notification")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    environment: Environment = Environment.PRODUCTION
    reporting_url: str = "http://127.0.0.1:8001"
    dispatch_url: str = "http://127.0.0.1:8002"
    ledger_url: str = "http://127.0.0.1:8003"
    notification_url: str = "http://127.0.0.1:8004"
    upstream_timeout_seconds: float = Field(default=30.0, gt=0)
    """How long a service may take to answer before the browser gets a 504."""
    web_dir: Path | None = None
    """The built front end (``web/dist``); unset: the gateway serves the API only."""
    dev_sign_in_file: Path | None = None
    """Development only: the people the sign-in page offers (written by ``gridloop run``).
    Unset in production, and then the development sign-in routes do not exist."""
    sign_in_url: str | None = None
    """Production: the city's identity provider's sign-in page; it sends the browser back
    with ``#token=<jwt>``."""
    map_tile_url: str | None = None
    """A tile server for the maps' base layer (``https://…/{z}/{x}/{y}.png``); unset: the maps
    draw the grids on a plain background."""
    map_attribution: str | None = None
    log_level: str = "INFO"
    log_json: bool | None = None
    jwt_secret: str = Field(
        default=DEVELOPMENT_SECRET, validation_alias=AliasChoices("GRIDLOOP_JWT_SECRET")
    )
    instance_id: str | None = Field(
        default=None, validation_alias=AliasChoices("GRIDLOOP_INSTANCE_ID")
    )

    @model_validator(mode="after")
    def _development_sign_in_only_in_development(self) -> GatewaySettings:
        if self.dev_sign_in_file is not None and self.environment is not Environment.DEVELOPMENT:
            raise ValueError(
                "GATEWAY_DEV_SIGN_IN_FILE is set while GATEWAY_ENVIRONMENT is production: the "
                "development sign-in mints tokens for anyone and does not exist in production; "
                "unset it, or set GATEWAY_ENVIRONMENT=development on a development machine"
            )
        if self.web_dir is not None and not (self.web_dir / "index.html").is_file():
            raise ValueError(
                f"GATEWAY_WEB_DIR={self.web_dir} holds no built front end (no index.html): "
                "build it with `make web` (npm ci && npm run build in web/)"
            )
        return self

    @property
    def dev_sign_in(self) -> bool:
        return self.dev_sign_in_file is not None

    def upstream_urls(self) -> dict[str, str]:
        return {name: getattr(self, f"{name}_url").rstrip("/") for name in UPSTREAMS}
