"""The options of one benchmark run and the errors a user can fix."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from common.tokens import DEVELOPMENT_SECRET, MINIMUM_SECRET_LENGTH

__all__ = ["Backend", "BenchConfig", "BenchError"]

DEFAULT_RSS_LIMIT_MIB = 250.0


class BenchError(Exception):
    """A problem the user can fix (a bad option, a stack that does not start, an unreachable
    PostgreSQL or broker); the message says what."""


class Backend(StrEnum):
    SQLITE = "sqlite"
    """A file per service (one replica only)."""
    POSTGRES = "postgres"
    """A database per service created on a PostgreSQL server for the run, dropped after."""
    EXTERNAL = "external"
    """A stack already running: its reporting URL and its broker are given."""


RIDER_REPORTS_PER_HOUR = 30
"""Reporting's default limit on one rider's reports in an hour; the plan keeps under it."""


@dataclass(frozen=True)
class BenchConfig:
    reports: int = 1500
    """Reports in the measured window (closed loop), or rate × duration (open loop)."""
    concurrency: int = 32
    """Closed loop: loops in flight; each rider submits their next report once the loop of
    the previous one closed."""
    rate: float = 0.0
    """Open loop: reports submitted per second on a fixed schedule (0: closed loop)."""
    connections: int = 64
    """Open loop: the HTTP connection limit (closed loop: the concurrency)."""
    warmup: int = 20
    """Reports submitted, and waited for, before the measured window (not counted)."""
    riders: int = 300
    replicas: int = 1
    backend: Backend = Backend.SQLITE
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    reporting_url: str | None = None
    """With ``Backend.EXTERNAL``: the running stack's reporting service."""
    bootstrap_servers: str | None = None
    """With ``Backend.EXTERNAL``: the running stack's broker."""
    anchor_seconds: float = 5.0
    """How long each PostgreSQL anchor loop runs (0: no anchor)."""
    tail_timeout: float = 120.0
    """After the last submission, how long to wait for the remaining loops to close."""
    seed: int = 0
    jwt_secret: str = DEVELOPMENT_SECRET
    rss_limit_mib: float = DEFAULT_RSS_LIMIT_MIB
    data_dir: Path | None = None
    """Logs (and SQLite files) of a stack the run starts (default: a temporary folder,
    removed after a run that closed every loop)."""

    @property
    def open_loop(self) -> bool:
        return self.rate > 0

    @property
    def starts_stack(self) -> bool:
        return self.backend is not Backend.EXTERNAL

    def validate(self) -> None:
        problems: list[str] = []
        if self.reports < 1:
            problems.append("--reports must be at least 1")
        if self.concurrency < 1 or self.connections < 1:
            problems.append("--concurrency and --connections must be at least 1")
        if self.rate < 0:
            problems.append("--rate must not be negative")
        if self.replicas < 1:
            problems.append("--replicas must be at least 1")
        per_rider = math.ceil((self.warmup + self.reports) / self.riders) if self.riders else 0
        if self.riders < 1:
            problems.append("--riders must be at least 1")
        elif per_rider > RIDER_REPORTS_PER_HOUR:
            needed = math.ceil((self.warmup + self.reports) / RIDER_REPORTS_PER_HOUR)
            problems.append(
                f"{self.riders} riders would each submit up to {per_rider} reports, more than "
                f"the {RIDER_REPORTS_PER_HOUR} an hour reporting allows one rider "
                f"(REPORTING_RIDER_REPORTS_PER_HOUR): use --riders {needed} or more"
            )
        if self.replicas > 1 and self.backend is Backend.SQLITE:
            problems.append(
                f"--replicas {self.replicas} needs PostgreSQL (--postgres): SQLite is a "
                "single-process database, so each service runs as one process on it"
            )
        if self.backend is Backend.EXTERNAL:
            if not self.reporting_url or not self.bootstrap_servers:
                problems.append(
                    "a running stack needs both --url (its reporting service) and "
                    "--bootstrap-servers (its broker)"
                )
            elif not self.reporting_url.startswith(("http://", "https://")):
                problems.append(f"--url must be an http(s) URL, got {self.reporting_url!r}")
            if self.replicas > 1:
                problems.append("--replicas applies to a stack the bench starts, not to --url")
        if len(self.jwt_secret) < MINIMUM_SECRET_LENGTH:
            problems.append(
                f"the JWT secret (GRIDLOOP_JWT_SECRET) must be at least {MINIMUM_SECRET_LENGTH} "
                "characters long"
            )
        if problems:
            raise BenchError("; ".join(problems))
