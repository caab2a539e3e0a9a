from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.service.settings import ServiceSettings


class DispatchSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCH_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/dispatch.db"
    port: int = 8002
    grids_refresh_seconds: float = Field(default=30.0, gt=0)
    """How often a replica checks whether another replica loaded new grids."""
    grids_file: str | None = None
    """GeoJSON FeatureCollection loaded at start when the registry is empty; ``demo`` loads the
    synthetic 兖州 district shipped with the package."""
