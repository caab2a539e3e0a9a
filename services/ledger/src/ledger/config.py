from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.service.settings import ServiceSettings
from ledger.domain.rules import RuleSet


class LedgerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/ledger.db"
    port: int = 8003
    points_report_accepted: int = Field(default=10, ge=1)
    points_corroboration: int = Field(default=2, ge=0)
    points_closure_bonus: int = Field(default=5, ge=0)
    points_rating: int = Field(default=1, ge=0)
    points_daily_cap: int = Field(default=50, ge=1)
    """The defaults of every district without rule sets of its own (``PUT
    /v1/districts/{code}/point-rules`` adds those)."""
    redemption_hold_minutes: int = Field(default=3 * 24 * 60, ge=1)
    """How long a reserved gift waits for its rider at the collection point before the sweeper
    voids the reservation (the points and the unit of stock come back)."""
    redemption_sweep_interval_seconds: float = Field(default=60.0, gt=0)
    districts_dir: str | None = None
    """A directory with a folder per district code holding ``gifts.json``; each district's
    gifts are loaded at start when that district has no gifts yet. ``demo`` loads the
    synthetic demo catalogues shipped with the package (370812 兖州区, 370811 任城区)."""

    def default_rules(self) -> RuleSet:
        """The rule set of every district that has none of its own."""
        return RuleSet(
            report_accepted=self.points_report_accepted,
            corroboration=self.points_corroboration,
            closure_bonus=self.points_closure_bonus,
            rating=self.points_rating,
            daily_cap=self.points_daily_cap,
        )
