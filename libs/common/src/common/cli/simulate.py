"""Load and demo simulator: drives a running gridloop stack over HTTP.

Simulated riders (``sim-rider-0001``…) submit 随手拍 reports to the reporting service, some
of them deliberately outside the district. The simulator then follows every report until the
loop closes for it: the report's status is ``filed`` or ``rejected`` *and* the rider's inbox
(notification service) holds a message about it. At the end it reads the riders' point
balances (ledger) and prints a summary: counts, rejection reasons, points awarded and the
end-to-end latency from submission to the first inbox message.

The logic lives in plain functions and classes (:class:`SimulationConfig`,
:func:`run_simulation`, :func:`build_summary`, :func:`render_summary`); :func:`simulate` is
only the typer glue, registered by ``common.cli.main`` as ``gridloop simulate``.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from shapely.geometry import MultiPolygon, Point, Polygon, shape

from common.auth import DEVELOPMENT_SECRET, MINIMUM_SECRET_LENGTH, issue_token

__all__ = [
    "CATEGORY_CODES",
    "CATEGORY_TEXTS",
    "NullProgress",
    "PlannedReport",
    "ProgressReporter",
    "ReportOutcome",
    "RichProgress",
    "SimulationConfig",
    "SimulationError",
    "SimulationSummary",
    "StackUnavailableError",
    "build_summary",
    "classify_status",
    "combined_bounds",
    "describe_error",
    "distance_outside_km",
    "load_grids",
    "percentile",
    "plan_reports",
    "random_point_in",
    "random_point_outside",
    "read_grids",
    "render_summary",
    "rider_ids",
    "run_simulation",
    "simulate",
]

DEFAULT_DISTRICT = "370812"
DEFAULT_REPORTING_URL = "http://127.0.0.1:8001"
DEFAULT_DISPATCH_URL = "http://127.0.0.1:8002"
DEFAULT_LEDGER_URL = "http://127.0.0.1:8003"
DEFAULT_NOTIFICATION_URL = "http://127.0.0.1:8004"
DEMO_GRIDS_PACKAGE = "dispatch.demo_data"
DEMO_GRIDS_FILE = "370812-yanzhou-synthetic.geojson"
JWT_ENV_VAR = "GRIDLOOP_JWT_SECRET"

#: Category codes the simulator reports in, with short descriptions a rider might type.
CATEGORY_TEXTS: dict[str, tuple[str, ...]] = {
    "0101": ("楼道杂物堆放，影响通行", "单元楼道堆满纸箱和旧家具"),
    "0102": ("消防通道被车辆堵占", "疏散通道堆放杂物，无法通行"),
    "0201": ("墙面张贴非法小广告", "电线杆上喷涂小广告"),
    "0301": ("路边暴露垃圾无人清理", "小区门口垃圾堆积，气味很大"),
    "0401": ("机动车占用人行道停放", "路口机动车乱停放，影响通行"),
    "0402": ("共享单车乱停放，堵塞盲道", "非机动车乱停放，占用人行道"),
    "0403": ("私设地锁占用公共车位", "小区公共车位被私装地锁"),
    "0501": ("楼上私拉电线给电动车充电", "飞线充电，存在火灾隐患"),
    "0502": ("电动车停放在楼道内充电", "电动车推进楼道入户充电"),
    "0601": ("路面井盖缺失，存在安全隐患", "井盖破损松动，行人容易绊倒"),
    "0602": ("道路破损出现坑洼", "路面塌陷，车辆通行危险"),
    "0701": ("邻里因占用公共空间发生纠纷", "楼上漏水引发邻里矛盾"),
    "9901": ("其他问题，请网格员核实", "路灯不亮，夜间通行不便"),
}
CATEGORY_CODES: tuple[str, ...] = tuple(CATEGORY_TEXTS)

KM_PER_DEGREE_LAT = 111.32
#: Report statuses that mean "not triaged yet"; anything else except ``rejected`` is filed.
PENDING_STATUSES = frozenset({"submitted", "received", "pending", "accepted_for_processing"})
SUCCESS_STATUSES = frozenset({201, 202})
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
MAX_ERROR_DETAILS = 5

GridGeometry = Polygon | MultiPolygon
Bounds = tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat


class SimulationError(Exception):
    """A problem the user can fix (bad option, missing file, unreachable stack)."""


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


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class SimulationConfig:
    """Everything one simulation run needs. Defaults match ``make run``."""

    reports: int = 50
    riders: int = 10
    outside_ratio: float = 0.1
    concurrency: int = 8
    timeout: float = 120.0
    seed: int | None = None
    district: str = DEFAULT_DISTRICT
    reporting_url: str = DEFAULT_REPORTING_URL
    dispatch_url: str = DEFAULT_DISPATCH_URL
    ledger_url: str = DEFAULT_LEDGER_URL
    notification_url: str = DEFAULT_NOTIFICATION_URL
    grids_file: Path | None = None
    jwt_secret: str = DEVELOPMENT_SECRET
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
        if not (len(self.district) == 6 and self.district.isdigit()):
            problems.append("--district must be a 6-digit administrative code, e.g. 370812")
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


# --------------------------------------------------------------------------- geometry


def read_grids(path: Path | None, district: str | None = None) -> tuple[list[GridGeometry], str]:
    """Load the grid polygons from ``path``, or from the demo file of the dispatch package.

    Returns the polygons and a label naming where they came from.
    """
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as error:
            raise SimulationError(f"grids file not found: {path}") from error
        except OSError as error:
            raise SimulationError(f"cannot read grids file {path}: {error.strerror}") from error
        return load_grids(text, source=str(path), district=district), str(path)
    label = f"{DEMO_GRIDS_PACKAGE}/{DEMO_GRIDS_FILE}"
    try:
        resource = resources.files(DEMO_GRIDS_PACKAGE) / DEMO_GRIDS_FILE
        text = resource.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError, OSError) as error:
        raise SimulationError(
            f"the demo grids file {label} was not found (is the dispatch package installed "
            "with its demo data?); pass --grids-file PATH to a GeoJSON FeatureCollection"
        ) from error
    return load_grids(text, source=label, district=district), label


def load_grids(text: str, *, source: str, district: str | None = None) -> list[GridGeometry]:
    """Parse a GeoJSON FeatureCollection into grid polygons (lon/lat order).

    Features carrying a ``district_code`` property other than ``district`` are skipped.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise SimulationError(f"{source} is not valid JSON: {error}") from error
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise SimulationError(f"{source} is not a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list):
        raise SimulationError(f"{source} has no 'features' list")
    grids: list[GridGeometry] = []
    for index, feature in enumerate(features):
        if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
            raise SimulationError(f"{source}: feature #{index} has no geometry")
        properties = feature.get("properties") or {}
        code = properties.get("district_code") if isinstance(properties, dict) else None
        if district is not None and code is not None and str(code) != district:
            continue
        try:
            geometry = shape(feature["geometry"])
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise SimulationError(f"{source}: feature #{index} has a bad geometry") from error
        if isinstance(geometry, Polygon | MultiPolygon) and not geometry.is_empty:
            grids.append(geometry)
    if not grids:
        where = f" for district {district}" if district else ""
        raise SimulationError(f"{source} contains no grid polygons{where}")
    return grids


def combined_bounds(grids: Iterable[GridGeometry]) -> Bounds:
    boxes = [grid.bounds for grid in grids]
    if not boxes:
        raise ValueError("no grids")
    return (
        min(box[0] for box in boxes),
        min(box[1] for box in boxes),
        max(box[2] for box in boxes),
        max(box[3] for box in boxes),
    )


def random_point_in(
    geometry: GridGeometry, rng: random.Random, *, max_tries: int = 10_000
) -> tuple[float, float]:
    """A uniformly random point inside ``geometry``, as ``(lon, lat)``."""
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    for _ in range(max_tries):
        lon = rng.uniform(min_lon, max_lon)
        lat = rng.uniform(min_lat, max_lat)
        if geometry.contains(Point(lon, lat)):
            return lon, lat
    fallback = geometry.representative_point()  # a sliver: any interior point will do
    return fallback.x, fallback.y


def _km_per_degree_lon(lat: float) -> float:
    return KM_PER_DEGREE_LAT * max(math.cos(math.radians(lat)), 1e-6)


def distance_outside_km(bounds: Bounds, lon: float, lat: float) -> float:
    """Approximate distance in km from ``(lon, lat)`` to the box ``bounds`` (0 inside)."""
    min_lon, min_lat, max_lon, max_lat = bounds
    d_lon = max(min_lon - lon, 0.0, lon - max_lon)
    d_lat = max(min_lat - lat, 0.0, lat - max_lat)
    return math.hypot(d_lon * _km_per_degree_lon(lat), d_lat * KM_PER_DEGREE_LAT)


def random_point_outside(
    bounds: Bounds, rng: random.Random, *, min_km: float = 20.0, max_km: float = 60.0
) -> tuple[float, float]:
    """A random point ``min_km``–``max_km`` beyond one side of ``bounds``, as ``(lon, lat)``."""
    min_lon, min_lat, max_lon, max_lat = bounds
    distance = rng.uniform(min_km, max_km)
    side = rng.choice(("north", "south", "east", "west"))
    if side in ("north", "south"):
        lon = rng.uniform(min_lon, max_lon)
        offset = distance / KM_PER_DEGREE_LAT
        lat = max_lat + offset if side == "north" else min_lat - offset
    else:
        lat = rng.uniform(min_lat, max_lat)
        offset = distance / _km_per_degree_lon(lat)
        lon = max_lon + offset if side == "east" else min_lon - offset
    return lon, lat


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class PlannedReport:
    index: int
    rider_id: str
    category: str
    lat: float
    lon: float
    text: str
    outside: bool

    def body(self) -> dict[str, Any]:
        return {"category": self.category, "lat": self.lat, "lon": self.lon, "text": self.text}


def rider_ids(count: int) -> list[str]:
    return [f"sim-rider-{number:04d}" for number in range(1, count + 1)]


def plan_reports(
    *,
    count: int,
    riders: Sequence[str],
    outside_ratio: float,
    grids: Sequence[GridGeometry],
    rng: random.Random,
) -> list[PlannedReport]:
    """Decide every report up front: who sends it, what, and where.

    Exactly ``round(count * outside_ratio)`` reports lie 20–60 km outside the district; the
    others lie inside a randomly chosen grid. Reports go to riders round-robin.
    """
    if not riders:
        raise ValueError("at least one rider is needed")
    outside_count = min(count, max(0, round(count * outside_ratio)))
    flags = [True] * outside_count + [False] * (count - outside_count)
    rng.shuffle(flags)
    bounds = combined_bounds(grids)
    plan: list[PlannedReport] = []
    for index, outside in enumerate(flags):
        if outside:
            lon, lat = random_point_outside(bounds, rng)
        else:
            lon, lat = random_point_in(rng.choice(grids), rng)
        category = rng.choice(CATEGORY_CODES)
        plan.append(
            PlannedReport(
                index=index,
                rider_id=riders[index % len(riders)],
                category=category,
                lat=round(lat, 6),
                lon=round(lon, 6),
                text=rng.choice(CATEGORY_TEXTS[category]),
                outside=outside,
            )
        )
    return plan


# --------------------------------------------------------------------------- outcomes


StatusClass = Literal["pending", "filed", "rejected"]


def classify_status(status: str | None) -> StatusClass:
    if status is None or status in PENDING_STATUSES:
        return "pending"
    if status == "rejected":
        return "rejected"
    return "filed"  # filed, or a later stage of the case (dispatched, closed, …)


@dataclass
class ReportOutcome:
    """What the simulator learnt about one planned report."""

    planned: PlannedReport
    report_id: str | None = None
    error: str | None = None
    status: str | None = None
    rejection_reason: str | None = None
    work_order_id: str | None = None
    grid_id: str | None = None
    started_at: float | None = None
    first_inbox_at: float | None = None
    inbox_item_ids: set[str] = field(default_factory=set)
    last_status_check: float = -math.inf

    @property
    def status_class(self) -> StatusClass:
        return classify_status(self.status)

    @property
    def triaged(self) -> bool:
        return self.status_class != "pending"

    @property
    def done(self) -> bool:
        return self.report_id is not None and self.triaged and self.first_inbox_at is not None

    @property
    def latency_ms(self) -> float | None:
        if self.started_at is None or self.first_inbox_at is None:
            return None
        return (self.first_inbox_at - self.started_at) * 1000.0


# --------------------------------------------------------------------------- summary


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); ``None`` without samples."""
    if not values:
        return None
    if not 0.0 <= q <= 100.0:
        raise ValueError("q must be between 0 and 100")
    ordered = sorted(values)
    rank = math.ceil(q / 100.0 * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


@dataclass(frozen=True)
class SimulationSummary:
    seed: int
    planned: int
    planned_outside: int
    submitted: int
    submission_errors: int
    error_details: tuple[str, ...]
    filed: int
    rejected: int
    rejection_reasons: dict[str, int]
    outside_rejected: int
    pending: int
    pending_report_ids: tuple[str, ...]
    completed: int
    points_before: int | None
    points_after: int | None
    inbox_messages: int
    latencies_ms: tuple[float, ...]
    wall_time_s: float
    warnings: tuple[str, ...] = ()
    #: Seconds from the first POST until the last submission answered (None: unknown).
    submit_time_s: float | None = None
    #: Seconds from the first POST until the last loop closed (None: no loop closed).
    close_time_s: float | None = None

    @property
    def points_awarded(self) -> int | None:
        if self.points_before is None or self.points_after is None:
            return None
        return self.points_after - self.points_before

    @property
    def latency_p50_ms(self) -> float | None:
        return percentile(self.latencies_ms, 50)

    @property
    def latency_p95_ms(self) -> float | None:
        return percentile(self.latencies_ms, 95)

    @property
    def latency_max_ms(self) -> float | None:
        return max(self.latencies_ms) if self.latencies_ms else None

    @property
    def submit_throughput(self) -> float:
        """Reports accepted by reporting per second of the submission phase."""
        duration = self.submit_time_s if self.submit_time_s is not None else self.wall_time_s
        return self.submitted / duration if duration > 0 else 0.0

    @property
    def throughput(self) -> float:
        """Reports whose loop closed (status + inbox) per second, until the last one closed."""
        duration = self.close_time_s if self.close_time_s is not None else self.wall_time_s
        return self.completed / duration if duration > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.submission_errors == 0 and self.pending == 0

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def _sum_balances(balances: Mapping[str, int | None]) -> int | None:
    values = list(balances.values())
    if any(value is None for value in values):
        return None
    return sum(value for value in values if value is not None)


def build_summary(
    outcomes: Sequence[ReportOutcome],
    *,
    seed: int,
    wall_time_s: float,
    balances_before: Mapping[str, int | None],
    balances_after: Mapping[str, int | None],
    warnings: Sequence[str] = (),
    submit_time_s: float | None = None,
) -> SimulationSummary:
    """Fold the per-report outcomes and the balances into the run's summary."""
    errors = [outcome for outcome in outcomes if outcome.report_id is None]
    submitted = [outcome for outcome in outcomes if outcome.report_id is not None]
    filed = [outcome for outcome in submitted if outcome.status_class == "filed"]
    rejected = [outcome for outcome in submitted if outcome.status_class == "rejected"]
    pending = [outcome for outcome in submitted if not outcome.done]
    reasons = Counter(outcome.rejection_reason or "unspecified" for outcome in rejected)
    latencies = tuple(
        latency for outcome in submitted if (latency := outcome.latency_ms) is not None
    )
    starts = [outcome.started_at for outcome in submitted if outcome.started_at is not None]
    closes = [
        outcome.first_inbox_at
        for outcome in submitted
        if outcome.done and outcome.first_inbox_at is not None
    ]
    close_time = max(closes) - min(starts) if starts and closes else None
    details: list[str] = []
    for outcome in errors:
        if len(details) >= MAX_ERROR_DETAILS:
            break
        details.append(outcome.error or "unknown error")
    return SimulationSummary(
        seed=seed,
        planned=len(outcomes),
        planned_outside=sum(1 for outcome in outcomes if outcome.planned.outside),
        submitted=len(submitted),
        submission_errors=len(errors),
        error_details=tuple(details),
        filed=len(filed),
        rejected=len(rejected),
        rejection_reasons=dict(reasons.most_common()),
        outside_rejected=sum(1 for outcome in rejected if outcome.planned.outside),
        pending=len(pending),
        pending_report_ids=tuple(outcome.report_id or "" for outcome in pending),
        completed=sum(1 for outcome in submitted if outcome.done),
        points_before=_sum_balances(balances_before),
        points_after=_sum_balances(balances_after),
        inbox_messages=sum(len(outcome.inbox_item_ids) for outcome in submitted),
        latencies_ms=latencies,
        wall_time_s=wall_time_s,
        warnings=tuple(warnings),
        submit_time_s=submit_time_s,
        close_time_s=close_time,
    )


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def render_summary(summary: SimulationSummary) -> Table:
    """The summary as a two-column rich table."""
    table = Table(title="gridloop simulation", show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    inside = summary.planned - summary.planned_outside
    table.add_row("seed", str(summary.seed))
    table.add_row(
        "reports planned",
        f"{summary.planned} ({inside} inside, {summary.planned_outside} outside the district)",
    )
    table.add_row("submitted", str(summary.submitted))
    errors = str(summary.submission_errors)
    table.add_row("submission errors", f"[red]{errors}[/]" if summary.submission_errors else errors)
    for detail in summary.error_details:
        table.add_row("  · error", escape(detail))
    table.add_row("filed", str(summary.filed))
    table.add_row(
        "rejected",
        f"{summary.rejected} (of which {summary.outside_rejected} planned outside)",
    )
    for reason, count in summary.rejection_reasons.items():
        table.add_row(f"  · {escape(reason)}", str(count))
    pending = str(summary.pending)
    if summary.pending_report_ids:
        shown = ", ".join(summary.pending_report_ids[:MAX_ERROR_DETAILS])
        more = "…" if summary.pending > MAX_ERROR_DETAILS else ""
        pending = f"[yellow]{summary.pending}[/] ({escape(shown)}{more})"
    table.add_row("still pending", pending)
    if summary.points_awarded is None:
        points = "unknown (a balance could not be read)"
    else:
        points = f"{summary.points_awarded} ({summary.points_before} → {summary.points_after})"
    table.add_row("points awarded", points)
    table.add_row("inbox messages received", str(summary.inbox_messages))
    table.add_row(
        "latency submit → inbox p50 / p95 / max",
        " / ".join(
            _ms(value)
            for value in (summary.latency_p50_ms, summary.latency_p95_ms, summary.latency_max_ms)
        ),
    )
    table.add_row("wall time", f"{summary.wall_time_s:.2f} s")
    table.add_row(
        "throughput",
        f"{summary.throughput:.1f} loops closed/s, {summary.submit_throughput:.1f} submitted/s",
    )
    for warning in summary.warnings:
        table.add_row("[yellow]warning[/]", escape(warning))
    return table


# --------------------------------------------------------------------------- progress


class ProgressReporter(Protocol):
    def start(self, total: int) -> None: ...

    def submitted(self) -> None: ...

    def submission_failed(self) -> None: ...

    def completed(self) -> None: ...


class NullProgress:
    """Reports nothing."""

    def start(self, total: int) -> None:
        return None

    def submitted(self) -> None:
        return None

    def submission_failed(self) -> None:
        return None

    def completed(self) -> None:
        return None


class RichProgress:
    """Two bars on a :class:`rich.progress.Progress`: submitted and completed."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._submitted = progress.add_task("submitted", total=None)
        self._completed = progress.add_task("completed (inbox reached)", total=None)
        self._completed_total = 0
        self._started = False

    @staticmethod
    def create(console: Console | None = None) -> Progress:
        return Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )

    def start(self, total: int) -> None:
        self._completed_total = total
        self._progress.start()  # shown only once submitting begins, never before an error
        self._started = True
        self._progress.update(self._submitted, total=total)
        self._progress.update(self._completed, total=total)

    def stop(self) -> None:
        if self._started:
            self._progress.stop()
            self._started = False

    def submitted(self) -> None:
        self._progress.advance(self._submitted)

    def submission_failed(self) -> None:
        self._progress.advance(self._submitted)
        self._completed_total = max(self._completed_total - 1, 0)
        self._progress.update(self._completed, total=self._completed_total)

    def completed(self) -> None:
        self._progress.advance(self._completed)


# --------------------------------------------------------------------------- HTTP


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def describe_error(response: httpx.Response) -> str:
    """``HTTP 422: <problem detail>`` for an error response."""
    body = _json(response)
    detail: str | None = None
    if isinstance(body, dict):
        for key in ("detail", "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                detail = value
                break
    if detail is None:
        detail = response.text.strip()[:200] or response.reason_phrase
    return f"HTTP {response.status_code}: {detail}"


class _Stack:
    """The four services behind one client, with bounded concurrency and retries."""

    def __init__(self, config: SimulationConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.client = client
        self.urls = config.service_urls()
        # Submissions and polls are bounded separately, so a burst of submissions never
        # delays the inbox polls that time the loop (and the reverse).
        self.submit_slots = asyncio.Semaphore(config.concurrency)
        self.poll_slots = asyncio.Semaphore(config.concurrency)
        self.poll_failures: Counter[str] = Counter()

    async def send(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        retries: int | None = None,
        submission: bool = False,
    ) -> tuple[httpx.Response, float]:
        """Send with retries; returns the response and when the first attempt started.

        Raises the last :class:`httpx.TransportError` once the retries are used up.
        """
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        attempts = 1 + (self.config.max_retries if retries is None else retries)
        started = 0.0
        for attempt in range(attempts):
            last = attempt == attempts - 1
            response: httpx.Response | None = None
            async with self.submit_slots if submission else self.poll_slots:
                if attempt == 0:
                    started = time.perf_counter()
                try:
                    response = await self.client.request(
                        method, url, headers=all_headers, json=json_body
                    )
                except httpx.UnsupportedProtocol:
                    raise
                except httpx.TransportError:
                    if last:
                        raise
            if response is not None and (response.status_code not in RETRYABLE_STATUSES or last):
                return response, started
            await asyncio.sleep(self.config.retry_backoff * 2**attempt * (0.5 + random.random()))
        raise AssertionError("unreachable")  # pragma: no cover

    async def check(self) -> None:
        """Fail fast, with a clear message, when a service does not answer."""

        async def probe(base: str) -> httpx.Response | str:
            try:
                response, _ = await self.send("GET", f"{base}/healthz", retries=1)
            except httpx.TransportError as error:
                return _transport_reason(error)
            return response

        names = list(self.urls)
        results = await asyncio.gather(*(probe(self.urls[name]) for name in names))
        unreachable = {
            name: (self.urls[name], result)
            for name, result in zip(names, results, strict=True)
            if isinstance(result, str)
        }
        if unreachable:
            raise StackUnavailableError(unreachable)
        for name, result in zip(names, results, strict=True):
            if isinstance(result, httpx.Response) and result.status_code >= 500:
                raise SimulationError(
                    f"the {name} service at {self.urls[name]} is not healthy: "
                    f"{describe_error(result)}"
                )

    async def balance(self, rider_id: str, token: str) -> int | None:
        url = f"{self.urls['ledger']}/v1/accounts/{rider_id}/balance"
        try:
            response, _ = await self.send("GET", url, token=token)
        except httpx.TransportError as error:
            self.poll_failures[f"balance: {_transport_reason(error)}"] += 1
            return None
        if response.status_code == 404:
            return 0  # no account yet: the rider has never earned a point
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, dict):
            self.poll_failures[f"balance: {describe_error(response)}"] += 1
            return None
        value = body.get("balance")
        if isinstance(value, bool) or not isinstance(value, int):
            self.poll_failures["balance: response without an integer 'balance'"] += 1
            return None
        return value

    async def balances(self, tokens: Mapping[str, str]) -> dict[str, int | None]:
        riders = list(tokens)
        values = await asyncio.gather(*(self.balance(rider, tokens[rider]) for rider in riders))
        return dict(zip(riders, values, strict=True))

    async def settled_balances(self, tokens: Mapping[str, str]) -> dict[str, int | None]:
        """Balances once two reads in a row agree (the ledger may still be catching up)."""
        current = await self.balances(tokens)
        deadline = time.perf_counter() + self.config.balance_settle_seconds
        while time.perf_counter() < deadline:
            await asyncio.sleep(self.config.balance_settle_interval)
            again = await self.balances(tokens)
            if again == current:
                break
            current = again
        return current

    async def inbox(self, rider_id: str, token: str) -> tuple[list[dict[str, Any]], float] | None:
        url = f"{self.urls['notification']}/v1/inbox/{rider_id}?limit=200"
        try:
            response, _ = await self.send("GET", url, token=token, retries=0)
        except httpx.TransportError as error:
            self.poll_failures[f"inbox: {_transport_reason(error)}"] += 1
            return None
        seen_at = time.perf_counter()
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, dict):
            self.poll_failures[f"inbox: {describe_error(response)}"] += 1
            return None
        items = body.get("items")
        if not isinstance(items, list):
            self.poll_failures["inbox: response without an 'items' list"] += 1
            return None
        return [item for item in items if isinstance(item, dict)], seen_at

    async def report(self, report_id: str, token: str) -> dict[str, Any] | None:
        url = f"{self.urls['reporting']}/v1/reports/{report_id}"
        try:
            response, _ = await self.send("GET", url, token=token, retries=0)
        except httpx.TransportError as error:
            self.poll_failures[f"report status: {_transport_reason(error)}"] += 1
            return None
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, dict):
            self.poll_failures[f"report status: {describe_error(response)}"] += 1
            return None
        return body


def _transport_reason(error: httpx.TransportError) -> str:
    if isinstance(error, httpx.ConnectError):
        return "connection refused or host unreachable"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    return type(error).__name__


def _item_key(item: Mapping[str, Any]) -> str:
    identifier = item.get("id")
    if identifier is not None:
        return str(identifier)
    return json.dumps(item, sort_keys=True, default=str)


# --------------------------------------------------------------------------- the run


class _Run:
    """One simulation's moving parts: submissions, per-rider trackers, final sweep."""

    def __init__(
        self,
        config: SimulationConfig,
        stack: _Stack,
        tokens: Mapping[str, str],
        plan: Sequence[PlannedReport],
        progress: ProgressReporter,
    ) -> None:
        self.config = config
        self.stack = stack
        self.tokens = tokens
        self.progress = progress
        self.outcomes = [ReportOutcome(planned) for planned in plan]
        self.by_id: dict[str, ReportOutcome] = {}
        self.by_rider: dict[str, list[ReportOutcome]] = {}
        for outcome in self.outcomes:
            self.by_rider.setdefault(outcome.planned.rider_id, []).append(outcome)
        self.deadline = math.inf
        self.submit_time_s: float | None = None

    async def submit(self, outcome: ReportOutcome) -> None:
        planned = outcome.planned
        if time.perf_counter() >= self.deadline:
            outcome.error = "not submitted: the timeout was reached first"
            self.progress.submission_failed()
            return
        url = f"{self.stack.urls['reporting']}/v1/reports"
        try:
            response, started = await self.stack.send(
                "POST",
                url,
                token=self.tokens[planned.rider_id],
                json_body=planned.body(),
                headers={"Idempotency-Key": str(uuid.uuid4())},
                submission=True,
            )
        except httpx.TransportError as error:
            outcome.error = f"reporting at {url} did not answer: {_transport_reason(error)}"
            self.progress.submission_failed()
            return
        body = _json(response)
        if response.status_code not in SUCCESS_STATUSES:
            outcome.error = describe_error(response)
            self.progress.submission_failed()
            return
        report_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(report_id, str | int) or isinstance(report_id, bool) or report_id == "":
            outcome.error = f"HTTP {response.status_code} without a report id in the body"
            self.progress.submission_failed()
            return
        outcome.started_at = started
        outcome.last_status_check = time.perf_counter()
        outcome.report_id = str(report_id)
        outcome.status = str(body.get("status") or "submitted")
        self.by_id[outcome.report_id] = outcome
        self.progress.submitted()

    def _apply_inbox(self, rider_id: str, items: Sequence[Mapping[str, Any]], seen: float) -> None:
        for item in items:
            report_id = item.get("report_id")
            outcome = self.by_id.get(str(report_id)) if report_id is not None else None
            if outcome is None or outcome.planned.rider_id != rider_id:
                continue
            outcome.inbox_item_ids.add(_item_key(item))
            if outcome.first_inbox_at is None:
                outcome.first_inbox_at = seen

    def _apply_status(self, outcome: ReportOutcome, body: Mapping[str, Any]) -> None:
        status = body.get("status")
        if isinstance(status, str) and status:
            outcome.status = status
        for attribute in ("rejection_reason", "work_order_id", "grid_id"):
            value = body.get(attribute)
            if value is not None:
                setattr(outcome, attribute, str(value))

    async def track(self, rider_id: str) -> None:
        """Poll one rider's inbox, and the status of their untriaged reports, until stopped."""
        own = self.by_rider.get(rider_id, [])
        token = self.tokens[rider_id]
        while True:
            tick_started = time.perf_counter()
            active = [outcome for outcome in own if outcome.report_id and not outcome.done]
            if active:
                if any(outcome.first_inbox_at is None for outcome in active):
                    fetched = await self.stack.inbox(rider_id, token)
                    if fetched is not None:
                        self._apply_inbox(rider_id, *fetched)
                now = time.perf_counter()
                due = [
                    outcome
                    for outcome in active
                    if not outcome.triaged
                    and (
                        outcome.first_inbox_at is not None
                        or now - outcome.last_status_check >= self.config.status_poll_interval
                    )
                ]
                for outcome in due:
                    outcome.last_status_check = now
                bodies = await asyncio.gather(
                    *(self.stack.report(outcome.report_id or "", token) for outcome in due)
                )
                for outcome, body in zip(due, bodies, strict=True):
                    if body is not None:
                        self._apply_status(outcome, body)
                for outcome in active:
                    if outcome.done:
                        self.progress.completed()
            elapsed = time.perf_counter() - tick_started
            await asyncio.sleep(max(self.config.poll_interval - elapsed, 0.0))

    def _finished(self, submissions: asyncio.Future[Any]) -> bool:
        return submissions.done() and all(
            outcome.done or outcome.report_id is None for outcome in self.outcomes
        )

    async def drive(self) -> float:
        """Submit everything and track it until done or the timeout; returns the wall time."""
        started = time.perf_counter()
        self.deadline = started + self.config.timeout
        submissions = asyncio.gather(*(self.submit(outcome) for outcome in self.outcomes))

        def submissions_done(_: asyncio.Future[Any]) -> None:
            self.submit_time_s = time.perf_counter() - started

        submissions.add_done_callback(submissions_done)
        trackers = [asyncio.create_task(self.track(rider)) for rider in self.by_rider]
        tick = min(self.config.poll_interval, 0.05)
        try:
            while not self._finished(submissions) and time.perf_counter() < self.deadline:
                for tracker in trackers:
                    if tracker.done():
                        tracker.result()  # a tracker only ends by failing: re-raise that
                await asyncio.sleep(tick)
            wall_time = time.perf_counter() - started
        finally:
            for tracker in trackers:
                tracker.cancel()
            if not submissions.done():
                submissions.cancel()
            await asyncio.gather(*trackers, submissions, return_exceptions=True)
        if submissions.done() and not submissions.cancelled():
            submissions.result()  # re-raise a bug in submit(), never swallow it
        for outcome in self.outcomes:
            if outcome.report_id is None and outcome.error is None:
                outcome.error = (
                    "cancelled at the timeout while submitting (the server may have accepted it)"
                )
        return wall_time

    async def final_sweep(self) -> None:
        """Read every inbox once more (messages that came after 'done' count too) and the
        status of every report still untriaged, so the summary is as fresh as possible."""

        async def sweep(rider_id: str) -> None:
            own = [outcome for outcome in self.by_rider[rider_id] if outcome.report_id]
            if not own:
                return
            token = self.tokens[rider_id]
            fetched = await self.stack.inbox(rider_id, token)
            if fetched is not None:
                self._apply_inbox(rider_id, *fetched)
            untriaged = [outcome for outcome in own if not outcome.triaged]
            bodies = await asyncio.gather(
                *(self.stack.report(outcome.report_id or "", token) for outcome in untriaged)
            )
            for outcome, body in zip(untriaged, bodies, strict=True):
                if body is not None:
                    self._apply_status(outcome, body)

        await asyncio.gather(*(sweep(rider) for rider in self.by_rider))

    def warnings(self) -> list[str]:
        return [f"{count}× {failure}" for failure, count in self.stack.poll_failures.most_common(3)]


async def run_simulation(
    config: SimulationConfig,
    progress: ProgressReporter | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SimulationSummary:
    """Run one simulation against the stack at the configured URLs.

    ``transport`` replaces the network (tests pass an ``httpx.ASGITransport``). Raises
    :class:`SimulationError` (or its subclass :class:`StackUnavailableError`) for problems the
    user must fix; everything that goes wrong per report ends up in the summary instead.
    """
    config.validate()
    reporter: ProgressReporter = progress if progress is not None else NullProgress()
    grids, _ = read_grids(config.grids_file, config.district)
    seed = config.seed if config.seed is not None else random.SystemRandom().randrange(2**31)
    rng = random.Random(seed)
    riders = rider_ids(config.riders)
    tokens = {
        rider: issue_token(
            config.jwt_secret,
            role="rider",
            subject=rider,
            district=config.district,
            ttl_seconds=max(12 * 3600, int(config.timeout) + 3600),
        )
        for rider in riders
    }
    plan = plan_reports(
        count=config.reports,
        riders=riders,
        outside_ratio=config.outside_ratio,
        grids=grids,
        rng=rng,
    )
    timeout = httpx.Timeout(config.request_timeout)
    limits = httpx.Limits(max_connections=max(config.concurrency * 2, 16))
    try:
        async with httpx.AsyncClient(transport=transport, timeout=timeout, limits=limits) as client:
            stack = _Stack(config, client)
            if config.preflight:
                await stack.check()
            before = await stack.balances(tokens)
            run = _Run(config, stack, tokens, plan, reporter)
            reporter.start(len(plan))
            wall_time = await run.drive()
            await run.final_sweep()
            after = await stack.settled_balances(tokens)
    except httpx.InvalidURL as error:
        raise SimulationError(f"invalid service URL: {error}") from error
    except httpx.UnsupportedProtocol as error:
        raise SimulationError(f"unsupported service URL: {error}") from error
    return build_summary(
        run.outcomes,
        seed=seed,
        wall_time_s=wall_time,
        balances_before=before,
        balances_after=after,
        warnings=run.warnings(),
        submit_time_s=run.submit_time_s,
    )


# --------------------------------------------------------------------------- typer glue


def simulate(
    reports: Annotated[
        int, typer.Option("--reports", min=1, help="How many reports to submit.")
    ] = 50,
    riders: Annotated[
        int, typer.Option("--riders", min=1, help="How many simulated riders send them.")
    ] = 10,
    outside_ratio: Annotated[
        float,
        typer.Option(
            "--outside-ratio",
            min=0.0,
            max=1.0,
            help="Share of reports deliberately placed 20–60 km outside the district.",
        ),
    ] = 0.1,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            min=1,
            help="Maximum submissions in flight (polling has its own limit of the same size).",
        ),
    ] = 8,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0.001, help="Seconds to wait for every loop to close."),
    ] = 120.0,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Random seed (default: random, printed in the summary)."),
    ] = None,
    district: Annotated[
        str, typer.Option("--district", help="6-digit district code of the tokens.")
    ] = DEFAULT_DISTRICT,
    reporting_url: Annotated[
        str, typer.Option("--reporting-url", help="Base URL of the reporting service.")
    ] = DEFAULT_REPORTING_URL,
    dispatch_url: Annotated[
        str, typer.Option("--dispatch-url", help="Base URL of the dispatch service.")
    ] = DEFAULT_DISPATCH_URL,
    ledger_url: Annotated[
        str, typer.Option("--ledger-url", help="Base URL of the ledger service.")
    ] = DEFAULT_LEDGER_URL,
    notification_url: Annotated[
        str, typer.Option("--notification-url", help="Base URL of the notification service.")
    ] = DEFAULT_NOTIFICATION_URL,
    grids_file: Annotated[
        Path | None,
        typer.Option(
            "--grids-file",
            help="GeoJSON FeatureCollection of the grids (default: the dispatch demo file).",
            dir_okay=False,
        ),
    ] = None,
    jwt_secret: Annotated[
        str | None,
        typer.Option(
            "--jwt-secret",
            envvar=JWT_ENV_VAR,
            help="Secret that signs the riders' tokens (default: the development secret).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Drive a running stack: riders submit reports; follow each until the rider hears back."""
    console = Console()
    errors = Console(stderr=True)
    config = SimulationConfig(
        reports=reports,
        riders=riders,
        outside_ratio=outside_ratio,
        concurrency=concurrency,
        timeout=timeout,
        seed=seed,
        district=district,
        reporting_url=reporting_url,
        dispatch_url=dispatch_url,
        ledger_url=ledger_url,
        notification_url=notification_url,
        grids_file=grids_file,
        jwt_secret=jwt_secret or os.environ.get(JWT_ENV_VAR) or DEVELOPMENT_SECRET,
    )
    bars = RichProgress(RichProgress.create(console))
    try:
        try:
            summary = asyncio.run(run_simulation(config, progress=bars))
        finally:
            bars.stop()
    except SimulationError as error:
        errors.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/]")
        raise typer.Exit(130) from None
    console.print(render_summary(summary))
    raise typer.Exit(summary.exit_code)
