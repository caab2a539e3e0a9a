from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.service.settings import ServiceSettings


class DispatchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/dispatch.db"
    port: int = 8002
    grids_refresh_seconds: float = Field(default=30.0, gt=0)
    """How often a replica checks whether another replica loaded new grids."""
    grids_max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    """The largest GeoJSON FeatureCollection ``PUT /v1/grids`` takes (other routes keep
    ``DISPATCH_MAX_BODY_BYTES``)."""
    grids_file: str | None = None
    """GeoJSON FeatureCollection loaded at start when the registry is empty; ``demo`` loads the
    synthetic 兖州 district shipped with the package."""
