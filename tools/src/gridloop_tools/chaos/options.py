"""What ``gridloop chaos`` takes on its command line that the run needs too, kept apart from
the run so that the CLI starts without importing the services."""

from __future__ import annotations

import random
from enum import StrEnum


class Backend(StrEnum):
    POSTGRES = "postgres"
    """Databases created per run on a PostgreSQL server, reached through the cutting proxy."""
    SQLITE = "sqlite"
    """A file per service in the data directory (no database cut)."""


def new_seed() -> int:
    return random.SystemRandom().randrange(10**6)
