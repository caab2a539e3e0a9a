"""The options of one simulation run, their defaults, and the errors a user can fix."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from common.tokens import DEVELOPMENT_SECRET, MINIMUM_SECRET_LENGTH

__all__ = [
    "DEFAULT_DISPATCH_URL",
    "DEFAULT_DISTRICT",
    "DEFAULT_LEDGER_URL",
    "DEFAULT_NOTIFICATION_URL",
    "DEFAULT_REPORTING_URL",
    "JWT_ENV_VAR",
    "SimulationConfig",
    "SimulationError",
    "StackUnavailableError",
]

DEFAULT_DISTRICT = "370812"
DEFAULT_REPORTING_URL = "http://127.0.0.1:8001"
DEFAULT_DISPATCH_URL = "http://127.0.0.1:8002"
DEFAULT_LEDGER_URL = "http://127.0.0.1:8003"
DEFAULT_NOTIFICATION_URL = "http://127.0.0.1:8004"
JWT_ENV_VAR = "GRIDLOOP_JWT_SECRET"


class SimulationError(Exception):
    """A problem the user can fix (bad option, missing file, unreachable stack)."""


class StackGoneError(SimulationError):
    """The stack answered at first, then stopped answering for good."""


class StackUnavailableError(SimulationError):
    """Services of the stack did not answer at their URLs."""

    def __init__(self, failures: Mapping[str, tuple[str, str]]) -> None:
        #: service name → (base URL, reason), in the order the services were probed
        self.failures = dict(failures)
        if not self.failures:
            raise ValueError("no failures")
        if len(self.failures) == 1:
            [(service, (url, reason))] = self.failures.items()
            message = (
                f"the gridloop stack isn't running at {url}: the {service} service did not "
                f"answer ({reason}). Start it with `make run`, or point --{service}-url at a "
                "running stack."
            )
        else:
            where = ", ".join(f"{service} at {url}" for service, (url, _) in self.failures.items())
            reasons = sorted({reason for _, reason in self.failures.values()})
            message = (
                f"the gridloop stack isn't running: no answer from {where} "
                f"({'; '.join(reasons)}). Start it with `make run`, or pass the --*-url options "
                "of a running stack."
            )
        super().__init__(message)


@dataclass(frozen=True)
class SimulationConfig:
    """Everything one simulation run needs. Defaults match ``make run``."""

    reports: int = 50
    riders: int = 10
    outside_ratio: float = 0.1
    concurrency: int = 8
    timeout: float = 120.0
    seed: int | None = None
    #: Districts the riders (and, with ``play_staff``, the staff) work in; empty: every
    #: district of ``grids_file``, else every district under ``districts_dir``.
    districts: tuple[str, ...] = ()
    reporting_url: str = DEFAULT_REPORTING_URL
    dispatch_url: str = DEFAULT_DISPATCH_URL
    ledger_url: str = DEFAULT_LEDGER_URL
    notification_url: str = DEFAULT_NOTIFICATION_URL
    grids_file: Path | None = None
    #: A folder per district code with ``grids.geojson`` and ``roster.json``, like
    #: ``DISPATCH_DISTRICTS_DIR``; None: the demo districts shipped with dispatch.
    districts_dir: Path | None = None
    jwt_secret: str = DEVELOPMENT_SECRET
    #: Also play the districts' grid workers, departments and supervisors: claim, resolve,
    #: verify (and accept what waits for review) every work order the riders' reports open.
    play_staff: bool = False
    #: After the reports, tour the rest of intake once per district: a report with a photo,
    #: the same report twice, a withdrawal, an Open311 request filed and read back.
    intake: bool = True
    #: Share of first verifications that fail (返工), with ``play_staff``.
    rework_ratio: float = 0.2
    #: Pause between two rounds of the staff looking for work.
    staff_poll_interval: float = 1.0
    #: Pause between two polls of one rider's inbox.
    poll_interval: float = 0.2
    #: A report's status is read as soon as its first inbox message is seen; before that,
    #: only this often (it cannot be "done" without the message anyway).
    status_poll_interval: float = 5.0
    #: Timeout of one HTTP request.
    request_timeout: float = 10.0
    #: Retries of one request after a transient connection error (or 429/502/503/504).
    max_retries: int = 3
    retry_backoff: float = 0.2
    #: Connections refused for this long (with back-off between attempts): the stack is gone.
    stack_gone_after: float = 30.0
    #: GET /healthz on the four services before starting.
    preflight: bool = True
    #: How long to wait for the final balances to stop changing (the ledger may lag).
    balance_settle_seconds: float = 3.0
    balance_settle_interval: float = 0.5

    def validate(self) -> None:
        problems: list[str] = []
        if self.reports < 1:
            problems.append("--reports must be at least 1")
        if self.riders < 1:
            problems.append("--riders must be at least 1")
        if not 0.0 <= self.outside_ratio <= 1.0:
            problems.append("--outside-ratio must be between 0 and 1")
        if self.concurrency < 1:
            problems.append("--concurrency must be at least 1")
        if self.timeout <= 0:
            problems.append("--timeout must be positive")
        bad = [code for code in self.districts if not (len(code) == 6 and code.isdigit())]
        if bad:
            problems.append(
                f"--districts takes 6-digit administrative codes, e.g. 370812,370811; got "
                f"{', '.join(bad)}"
            )
        if not 0.0 <= self.rework_ratio <= 1.0:
            problems.append("--rework-ratio must be between 0 and 1")
        if len(self.jwt_secret) < MINIMUM_SECRET_LENGTH:
            problems.append(
                f"the JWT secret must be at least {MINIMUM_SECRET_LENGTH} characters long "
                f"(--jwt-secret or {JWT_ENV_VAR})"
            )
        for option, url in self.service_urls().items():
            if not url.startswith(("http://", "https://")):
                problems.append(f"--{option}-url must be an http(s) URL, got {url!r}")
        if problems:
            raise SimulationError("; ".join(problems))

    def service_urls(self) -> dict[str, str]:
        return {
            "reporting": self.reporting_url.rstrip("/"),
            "dispatch": self.dispatch_url.rstrip("/"),
            "ledger": self.ledger_url.rstrip("/"),
            "notification": self.notification_url.rstrip("/"),
        }
