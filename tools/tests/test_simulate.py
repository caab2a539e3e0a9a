"""Tests of the load/demo simulator: its pure parts and a full run against a fake stack."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from rich.console import Console
from shapely.geometry import Point, Polygon, mapping
from typer.testing import CliRunner

from gridloop_tools.cli.simulate import (
    CATEGORY_CODES,
    CATEGORY_TEXTS,
    PlannedReport,
    ReportOutcome,
    SimulationConfig,
    SimulationError,
    StackGoneError,
    StackUnavailableError,
    build_summary,
    combined_bounds,
    distance_outside_km,
    load_grids,
    percentile,
    plan_reports,
    random_point_in,
    random_point_outside,
    read_district_grids,
    read_grids,
    render_summary,
    rider_districts,
    rider_ids,
    run_simulation,
    simulate,
)
from gridloop_tools.cli.simulate.client import ConnectionGate
from gridloop_tools.testing import fake_stack
from gridloop_tools.testing.fake_stack import fake_roster

# A small grid near 兖州: one L-shaped (concave) polygon and one square.
L_SHAPE = Polygon(
    [(116.80, 35.54), (116.84, 35.54), (116.84, 35.55), (116.81, 35.55), (116.81, 35.58),
     (116.80, 35.58), (116.80, 35.54)]
)  # fmt: skip
SQUARE = Polygon([(116.85, 35.54), (116.87, 35.54), (116.87, 35.56), (116.85, 35.56)])
GRIDS = [L_SHAPE, SQUARE]


def feature_collection(*polygons: Polygon, district: str = "370812") -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"grid_id": f"G{index}", "district_code": district},
                "geometry": {"type": "Polygon", "coordinates": [list(p.exterior.coords)]},
            }
            for index, p in enumerate(polygons, start=1)
        ],
    }


@pytest.fixture
def grids_file(tmp_path: Path) -> Path:
    path = tmp_path / "grids.geojson"
    path.write_text(json.dumps(feature_collection(*GRIDS)), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- geometry


def test_random_point_in_stays_inside_a_concave_polygon() -> None:
    rng = random.Random(1)
    for _ in range(300):
        lon, lat = random_point_in(L_SHAPE, rng)
        assert L_SHAPE.contains(Point(lon, lat))


def test_random_point_outside_is_20_to_60_km_beyond_the_bounds() -> None:
    rng = random.Random(2)
    bounds = combined_bounds(GRIDS)
    sides = set()
    for _ in range(300):
        lon, lat = random_point_outside(bounds, rng)
        distance = distance_outside_km(bounds, lon, lat)
        assert 20.0 - 1e-6 <= distance <= 60.0 + 1e-6
        assert not any(grid.contains(Point(lon, lat)) for grid in GRIDS)
        sides.add((lon > bounds[2], lon < bounds[0], lat > bounds[3], lat < bounds[1]))
    assert len(sides) == 4  # every side of the district is used


def test_distance_outside_is_zero_inside_the_bounds() -> None:
    assert distance_outside_km((116.0, 35.0, 117.0, 36.0), 116.5, 35.5) == 0.0
    assert distance_outside_km((116.0, 35.0, 117.0, 36.0), 116.5, 36.0 + 1 / 111.32) == (
        pytest.approx(1.0)
    )


def test_load_grids_keeps_polygons_of_the_district_only() -> None:
    document = feature_collection(L_SHAPE)
    document["features"] += feature_collection(SQUARE, district="371700")["features"]
    grids = load_grids(json.dumps(document), source="test", district="370812")
    assert len(grids) == 1
    assert grids[0].equals(L_SHAPE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
        ('{"type": "FeatureCollection", "features": []}', "no grid polygons"),
        (
            '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},'
            ' "geometry": {"type": "Point", "coordinates": [116.8, 35.5]}}]}',
            "no grid polygons",
        ),
    ],
)
def test_load_grids_rejects_bad_files_clearly(text: str, message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        load_grids(text, source="bad.geojson")


def test_read_grids_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="grids file not found"):
        read_grids(tmp_path / "nope.geojson")


def test_read_grids_default_is_the_dispatch_demo_file_or_a_clear_error() -> None:
    try:
        grids, label = read_grids(None, "370812")
    except SimulationError as error:
        assert "--grids-file" in str(error)
    else:
        assert grids
        assert label.endswith("370812/grids.geojson")


# --------------------------------------------------------------------------- planning


def test_plan_reports_places_the_requested_share_outside() -> None:
    riders = rider_ids(3)
    assert riders == ["sim-rider-0001", "sim-rider-0002", "sim-rider-0003"]
    plan = plan_reports(
        count=40, riders=riders, outside_ratio=0.25, grids=GRIDS, rng=random.Random(5)
    )
    assert len(plan) == 40
    assert sum(report.outside for report in plan) == 10
    bounds = combined_bounds(GRIDS)
    for report in plan:
        point = Point(report.lon, report.lat)
        if report.outside:
            assert distance_outside_km(bounds, report.lon, report.lat) >= 20.0 - 1e-3
        else:
            assert any(grid.intersects(point) for grid in GRIDS)
        assert report.category in CATEGORY_CODES
        assert report.text in CATEGORY_TEXTS[report.category]
        assert report.rider_id == riders[report.index % 3]
    again = plan_reports(
        count=40, riders=riders, outside_ratio=0.25, grids=GRIDS, rng=random.Random(5)
    )
    assert again == plan  # a seed replays the run


def test_plan_reports_repeats_a_share_of_inside_reports_at_the_same_place() -> None:
    plan = plan_reports(
        count=200,
        riders=rider_ids(5),
        outside_ratio=0.1,
        grids=GRIDS,
        rng=random.Random(9),
        repeat_ratio=0.2,
    )
    told_by: dict[tuple[str, float, float], set[str]] = {}
    repeats = 0
    for report in plan:
        problem = (report.category, report.lat, report.lon)
        if problem in told_by:
            repeats += 1
            # others': the same rider's repeat would be answered with their own report
            assert report.rider_id not in told_by[problem]
        if not report.outside:
            told_by.setdefault(problem, set()).add(report.rider_id)
    assert 20 <= repeats <= 60  # about a fifth of the 180 inside reports
    assert sum(report.outside for report in plan) == 20


# --------------------------------------------------------------------------- summary


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([42.0], 50) == 42.0
    assert percentile([42.0], 95) == 42.0
    values = [float(v) for v in range(1, 101)]
    random.Random(3).shuffle(values)
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 100) == 100.0
    assert percentile(values, 0) == 1.0
    assert percentile([10.0, 20.0], 50) == 10.0
    assert percentile([10.0, 20.0], 95) == 20.0


def _planned(index: int, *, outside: bool = False) -> PlannedReport:
    return PlannedReport(
        index=index,
        rider_id="sim-rider-0001",
        category="0101",
        lat=35.55,
        lon=116.81,
        text="楼道杂物堆放，影响通行",
        outside=outside,
    )


def test_build_summary_from_fake_outcomes() -> None:
    outcomes = [
        ReportOutcome(
            _planned(0), report_id="r1", status="filed", started_at=1.0, first_inbox_at=1.1,
            inbox_item_ids={"m1", "m2"},
        ),
        ReportOutcome(
            _planned(1), report_id="r2", status="dispatched", started_at=1.0,
            first_inbox_at=1.3, inbox_item_ids={"m3"},
        ),
        ReportOutcome(
            _planned(2, outside=True), report_id="r3", status="rejected",
            rejection_reason="outside_service_area", started_at=2.0, first_inbox_at=2.2,
            inbox_item_ids={"m4"},
        ),
        ReportOutcome(
            _planned(3), report_id="r4", status="rejected", rejection_reason=None,
            started_at=2.0, first_inbox_at=None,
        ),
        ReportOutcome(_planned(4), report_id="r5", status="submitted", started_at=2.0),
        ReportOutcome(_planned(5), error="HTTP 422: category: unknown"),
    ]  # fmt: skip
    summary = build_summary(
        outcomes,
        seed=9,
        wall_time_s=2.0,
        balances_before={"a": 5, "b": 0},
        balances_after={"a": 15, "b": 10},
        warnings=["2× inbox: timed out"],
    )
    assert summary.planned == 6
    assert summary.planned_outside == 1
    assert summary.submitted == 5
    assert summary.submission_errors == 1
    assert summary.error_details == ("HTTP 422: category: unknown",)
    assert summary.filed == 2
    assert summary.rejected == 2
    assert summary.rejection_reasons == {"outside_service_area": 1, "unspecified": 1}
    assert summary.outside_rejected == 1
    assert summary.pending == 2
    assert set(summary.pending_report_ids) == {"r4", "r5"}
    assert summary.completed == 3
    assert summary.points_awarded == 20
    assert summary.inbox_messages == 4
    assert summary.latencies_ms == pytest.approx((100.0, 300.0, 200.0))
    assert summary.latency_p50_ms == pytest.approx(200.0)
    assert summary.latency_p95_ms == pytest.approx(300.0)
    assert summary.latency_max_ms == pytest.approx(300.0)
    assert summary.close_time_s == pytest.approx(1.2)  # first POST at 1.0, last close at 2.2
    assert summary.throughput == pytest.approx(3 / 1.2)
    assert summary.submit_throughput == pytest.approx(5 / 2.0)  # no submit time: wall time
    assert summary.exit_code == 1

    console = Console(record=True, width=160)
    console.print(render_summary(summary))
    text = console.export_text()
    for expected in ("outside_service_area", "HTTP 422", "r4", "200 ms", "2× inbox"):
        assert expected in text


def test_build_summary_without_samples_or_balances() -> None:
    summary = build_summary(
        [], seed=1, wall_time_s=0.0, balances_before={"a": None}, balances_after={"a": 3}
    )
    assert summary.points_awarded is None
    assert summary.latency_p50_ms is None
    assert summary.latency_max_ms is None
    assert summary.throughput == 0.0
    assert summary.exit_code == 0
    console = Console(record=True, width=160)
    console.print(render_summary(summary))
    assert "unknown" in console.export_text()


# --------------------------------------------------------------------------- fake stack


class FakeStack(fake_stack.FakeStack):
    """The fake stack over the two test grids of 370812 (G1, G2)."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("districts", {"370812": [("G1", L_SHAPE), ("G2", SQUARE)]})
        super().__init__(**options)


class FlakyTransport(httpx.AsyncBaseTransport):
    """Refuses the first ``failures`` POSTs, then passes everything to ``inner``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.keys: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.keys.append(request.headers["Idempotency-Key"])
            if self.failures > 0:
                self.failures -= 1
                raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


def fast_config(grids_file: Path | None, **changes: Any) -> SimulationConfig:
    config = SimulationConfig(
        reports=30,
        riders=4,
        outside_ratio=0.2,
        concurrency=4,
        timeout=20.0,
        seed=7,
        grids_file=grids_file,
        poll_interval=0.01,
        status_poll_interval=0.05,
        retry_backoff=0.001,
        balance_settle_seconds=2.0,
        balance_settle_interval=0.1,  # well above the fake pipeline's 0.02 s steps
        intake=False,  # the fake stack has no photos, withdrawals or Open311
    )
    return replace(config, **changes)


class CountingProgress:
    def __init__(self) -> None:
        self.total = 0
        self.submitted_count = 0
        self.failed_count = 0
        self.completed_count = 0

    def start(self, total: int) -> None:
        self.total = total

    def submitted(self) -> None:
        self.submitted_count += 1

    def submission_failed(self) -> None:
        self.failed_count += 1

    def completed(self) -> None:
        self.completed_count += 1


async def test_full_run_against_a_fake_stack(grids_file: Path) -> None:
    stack = FakeStack(starting_balances={"sim-rider-0001": 7})
    progress = CountingProgress()
    summary = await run_simulation(
        fast_config(grids_file), progress=progress, transport=httpx.ASGITransport(app=stack.app)
    )
    assert summary.seed == 7
    assert summary.planned == 30
    assert summary.planned_outside == 6
    assert summary.submitted == 30
    assert summary.submission_errors == 0
    assert summary.rejected == 6
    assert summary.outside_rejected == 6
    assert summary.rejection_reasons == {"outside_service_area": 6}
    assert summary.filed == 24
    assert summary.pending == 0
    assert summary.completed == 30
    assert summary.points_before == 7
    assert summary.points_after == 7 + 240
    assert summary.points_awarded == 240
    assert summary.inbox_messages == 24 * 2 + 6  # filed + points for filed, one per rejection
    assert len(summary.latencies_ms) == 30
    assert all(latency > 0 for latency in summary.latencies_ms)
    assert summary.latency_p50_ms is not None and summary.latency_p50_ms >= 20.0
    assert summary.wall_time_s > 0
    assert summary.submit_time_s is not None and summary.submit_time_s > 0
    assert summary.throughput > 0
    assert summary.exit_code == 0
    assert summary.warnings == ()
    assert (progress.total, progress.submitted_count, progress.completed_count) == (30, 30, 30)
    owners = set(stack.owners.values())
    assert owners == {"sim-rider-0001", "sim-rider-0002", "sim-rider-0003", "sim-rider-0004"}


async def test_submission_errors_are_counted_with_their_detail(grids_file: Path) -> None:
    stack = FakeStack(fail_categories=frozenset({"0101", "0501"}))
    progress = CountingProgress()
    summary = await run_simulation(
        fast_config(grids_file), progress=progress, transport=httpx.ASGITransport(app=stack.app)
    )
    failed = len(stack.failed_posts)
    assert failed > 0
    assert summary.submission_errors == failed
    assert summary.submitted == 30 - failed
    assert summary.pending == 0
    assert summary.error_details
    assert len(summary.error_details) <= 5
    assert all(detail.startswith("HTTP 422: category: ") for detail in summary.error_details)
    assert progress.failed_count == failed
    assert summary.exit_code == 1


async def test_unfinished_reports_are_pending_at_the_timeout(grids_file: Path) -> None:
    dropped = frozenset({"0101", "0102", "0201"})
    stack = FakeStack(drop_categories=dropped)
    summary = await run_simulation(
        fast_config(grids_file, timeout=1.0), transport=httpx.ASGITransport(app=stack.app)
    )
    expected = sum(1 for report in stack.reports.values() if report["category"] in dropped)
    assert expected > 0
    assert summary.pending == expected
    assert summary.completed == 30 - expected
    assert set(summary.pending_report_ids) == {
        report_id for report_id, report in stack.reports.items() if report["category"] in dropped
    }
    assert 1.0 <= summary.wall_time_s < 3.0
    assert summary.exit_code == 1


async def test_rejections_are_counted_by_their_code_when_reporting_gives_one(
    grids_file: Path,
) -> None:
    stack = FakeStack()
    app = stack.app

    @app.middleware("http")
    async def with_codes(request: Any, call_next: Any) -> Any:
        for report in stack.reports.values():
            if report["status"] == "rejected" and "rejection_reason_code" not in report:
                code = report["rejection_reason"]
                report.update(rejection_reason_code=code, rejection_reason=f"不予立案（{code}）")
        return await call_next(request)

    summary = await run_simulation(fast_config(grids_file), transport=httpx.ASGITransport(app=app))
    assert summary.rejection_reasons == {"outside_service_area": 6}


async def test_triaged_reports_without_a_message_are_pending(grids_file: Path) -> None:
    stack = FakeStack(silent_rejections=True)
    summary = await run_simulation(
        fast_config(grids_file, timeout=1.0), transport=httpx.ASGITransport(app=stack.app)
    )
    assert summary.rejected == 6
    assert summary.rejection_reasons == {"outside_service_area": 6}
    assert summary.filed == 24
    assert summary.pending == 6
    assert summary.completed == 24
    assert summary.inbox_messages == 48
    assert len(summary.latencies_ms) == 24
    assert summary.exit_code == 1


async def test_transient_connection_errors_are_retried_with_the_same_key(
    grids_file: Path,
) -> None:
    stack = FakeStack()
    transport = FlakyTransport(httpx.ASGITransport(app=stack.app), failures=3)
    summary = await run_simulation(
        fast_config(grids_file, reports=5, concurrency=1, outside_ratio=0.0), transport=transport
    )
    assert summary.submitted == 5
    assert summary.submission_errors == 0
    assert summary.exit_code == 0
    assert len(transport.keys) == 5 + 3
    assert len(set(transport.keys)) == 5  # a retry re-sends the same Idempotency-Key
    assert len(stack.reports) == 5


async def test_persistent_connection_errors_become_submission_errors(grids_file: Path) -> None:
    stack = FakeStack()
    transport = FlakyTransport(httpx.ASGITransport(app=stack.app), failures=10_000)
    summary = await run_simulation(
        fast_config(grids_file, reports=3, max_retries=2), transport=transport
    )
    assert summary.submission_errors == 3
    assert "did not answer" in summary.error_details[0]
    assert len(transport.keys) == 3 * 3
    assert summary.exit_code == 1


CLOSED_PORT_URLS = {
    "reporting_url": "http://127.0.0.1:1",
    "dispatch_url": "http://127.0.0.1:1",
    "ledger_url": "http://127.0.0.1:1",
    "notification_url": "http://127.0.0.1:1",
}


async def test_a_stack_that_is_not_running_is_a_clear_error(grids_file: Path) -> None:
    progress = CountingProgress()
    with pytest.raises(StackUnavailableError) as caught:
        await run_simulation(fast_config(grids_file, **CLOSED_PORT_URLS), progress=progress)
    assert list(caught.value.failures) == ["reporting", "dispatch", "ledger", "notification"]
    message = str(caught.value)
    assert "isn't running" in message
    assert "reporting at http://127.0.0.1:1" in message
    assert "make run" in message
    assert progress.total == 0  # nothing was started


class DownTransport(httpx.AsyncBaseTransport):
    """Refuses connections to one port, passes the rest to ``inner``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, port: int) -> None:
        self.inner = inner
        self.port = port

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.port == self.port:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


async def test_one_service_down_is_named(grids_file: Path) -> None:
    stack = FakeStack()
    transport = DownTransport(httpx.ASGITransport(app=stack.app), port=8004)
    with pytest.raises(StackUnavailableError) as caught:
        await run_simulation(fast_config(grids_file), transport=transport)
    assert list(caught.value.failures) == ["notification"]
    assert "isn't running at http://127.0.0.1:8004" in str(caught.value)
    assert "--notification-url" in str(caught.value)
    assert not stack.reports


async def test_invalid_options_are_rejected(grids_file: Path) -> None:
    with pytest.raises(SimulationError, match="outside-ratio"):
        await run_simulation(fast_config(grids_file, outside_ratio=1.5))
    with pytest.raises(SimulationError, match="at least 32"):
        await run_simulation(fast_config(grids_file, jwt_secret="short"))


# --------------------------------------------------------------------------- CLI glue


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("simulate")(simulate)

    @app.command("noop")
    def noop() -> None:  # a second command, so "simulate" stays a subcommand
        return None

    return app


def test_cli_without_a_stack_exits_1_without_a_traceback(grids_file: Path) -> None:
    args = ["simulate", "--reports", "2", "--grids-file", str(grids_file)]
    for option in ("reporting", "dispatch", "ledger", "notification"):
        args += [f"--{option}-url", "http://127.0.0.1:1"]
    result = CliRunner().invoke(_cli(), args, env={"COLUMNS": "250"})
    assert result.exit_code == 1
    assert "make run" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_with_a_missing_grids_file_exits_1(tmp_path: Path) -> None:
    missing = tmp_path / "missing.geojson"
    result = CliRunner().invoke(
        _cli(), ["simulate", "--grids-file", str(missing)], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 1
    assert "grids file not found" in result.output
    assert "Traceback" not in result.output


def test_cli_rejects_out_of_range_options() -> None:
    result = CliRunner().invoke(_cli(), ["simulate", "--reports", "0"])
    assert result.exit_code == 2
    result = CliRunner().invoke(_cli(), ["simulate", "--outside-ratio", "2"])
    assert result.exit_code == 2


class ManualClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_connection_gate_backs_off_exponentially_with_jitter_and_resets() -> None:
    clock = ManualClock()
    gate = ConnectionGate(give_up_after=60.0, first_delay=0.2, max_delay=5.0, clock=clock)
    waits = []
    for _ in range(8):
        gate.refused("http://reporting")
        waits.append(gate._resume_at - clock.now)
    ceilings = [min(5.0, 0.2 * 2**n) for n in range(8)]
    assert all(c / 2 <= w <= c for w, c in zip(waits, ceilings, strict=True)), waits
    gate.answered()
    assert (gate.failures, gate.refused_since) == (0, None)


def test_the_connection_gate_says_the_stack_is_gone_after_the_limit() -> None:
    clock = ManualClock()
    gate = ConnectionGate(give_up_after=30.0, clock=clock)
    gate.refused("http://127.0.0.1:8004/v1/inbox/r")
    clock.now += 29.0
    gate.refused("http://127.0.0.1:8004/v1/inbox/r")
    clock.now += 1.5
    with pytest.raises(StackGoneError, match="refused connections for 30 s"):
        gate.refused("http://127.0.0.1:8004/v1/inbox/r")


class VanishingTransport(httpx.AsyncBaseTransport):
    """The stack answers the first ``answers`` requests, then refuses every connection."""

    def __init__(self, inner: httpx.AsyncBaseTransport, answers: int) -> None:
        self.inner = inner
        self.answers = answers
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.answers <= 0:
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        self.answers -= 1
        return await self.inner.handle_async_request(request)


async def test_a_stack_that_goes_away_is_reported_without_a_tight_polling_loop(
    grids_file: Path,
) -> None:
    """Eight riders poll their inboxes every 10 ms: without back-off, 1.5 s of a dead stack is
    over a thousand refused connections; with it, a few dozen, then a clear error."""
    stack = FakeStack(drop_categories=frozenset({"0101", "0102", "0201", "0301"}))
    transport = VanishingTransport(httpx.ASGITransport(app=stack.app), answers=60)
    config = fast_config(
        grids_file, riders=8, stack_gone_after=1.5, retry_backoff=0.05, timeout=30.0
    )
    with pytest.raises(StackGoneError, match="stopped answering"):
        await run_simulation(config, transport=transport)
    assert 0 < transport.refused < 100


# --------------------------------------------------------------------------- several districts

WEST = Polygon([(116.70, 35.54), (116.72, 35.54), (116.72, 35.56), (116.70, 35.56)])
DISTRICT_GRIDS = {"370812": [("G1", L_SHAPE), ("G2", SQUARE)], "370811": [("R1", WEST)]}
ROSTERS = {code: fake_roster(code, [g for g, _ in grids]) for code, grids in DISTRICT_GRIDS.items()}


@pytest.fixture
def districts_dir(tmp_path: Path) -> Path:
    """Two districts laid out like DISPATCH_DISTRICTS_DIR: grids and a roster each."""
    root = tmp_path / "districts"
    for code, grids in DISTRICT_GRIDS.items():
        folder = root / code
        folder.mkdir(parents=True)
        document = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"grid_id": grid_id, "district_code": code},
                    "geometry": mapping(polygon),
                }
                for grid_id, polygon in grids
            ],
        }
        (folder / "grids.geojson").write_text(json.dumps(document), encoding="utf-8")
        (folder / "roster.json").write_text(json.dumps(ROSTERS[code]), encoding="utf-8")
    return root


def two_district_stack(**options: Any) -> fake_stack.FakeStack:
    return fake_stack.FakeStack(districts=DISTRICT_GRIDS, rosters=ROSTERS, **options)


def district_config(districts_dir: Path, **changes: Any) -> SimulationConfig:
    return fast_config(
        None, **{"districts_dir": districts_dir, "staff_poll_interval": 0.02, **changes}
    )


def test_riders_are_spread_over_the_districts_in_turn() -> None:
    riders = rider_ids(5)
    assert rider_districts(riders, ["370812", "370811"]) == {
        "sim-rider-0001": "370812",
        "sim-rider-0002": "370811",
        "sim-rider-0003": "370812",
        "sim-rider-0004": "370811",
        "sim-rider-0005": "370812",
    }
    with pytest.raises(ValueError, match="district"):
        rider_districts(riders, [])


def test_each_riders_points_lie_in_their_own_district() -> None:
    riders = rider_ids(4)
    home = rider_districts(riders, list(DISTRICT_GRIDS))
    grids = {code: [polygon for _, polygon in pairs] for code, pairs in DISTRICT_GRIDS.items()}
    everything = [polygon for polygons in grids.values() for polygon in polygons]
    plan = plan_reports(
        count=60,
        riders=riders,
        outside_ratio=0.25,
        grids=everything,
        rng=random.Random(11),
        home=grids,
        district_of=home,
    )
    assert sum(report.outside for report in plan) == 15
    for report in plan:
        point = Point(report.lon, report.lat)
        assert report.district == home[report.rider_id]
        if report.outside:  # outside every grid of every district
            assert not any(grid.intersects(point) for grid in everything)
        else:
            assert any(grid.intersects(point) for grid in grids[report.district])


def test_district_grids_come_from_a_file_a_folder_or_the_demo(
    tmp_path: Path, districts_dir: Path
) -> None:
    document = feature_collection(L_SHAPE, SQUARE)
    document["features"] += feature_collection(WEST, district="370811")["features"]
    path = tmp_path / "both.geojson"
    path.write_text(json.dumps(document), encoding="utf-8")
    from_file = read_district_grids(path)
    assert {code: len(grids) for code, grids in from_file.items()} == {"370811": 1, "370812": 2}
    from_folder = read_district_grids(None, districts_dir)
    assert {code: len(grids) for code, grids in from_folder.items()} == {"370811": 1, "370812": 2}
    demo = read_district_grids(None)
    assert {code: len(grids) for code, grids in demo.items()} == {"370811": 180, "370812": 317}
    with pytest.raises(SimulationError, match="not found"):
        read_district_grids(None, tmp_path / "nowhere")


async def test_riders_of_two_districts_report_with_tokens_of_their_own(
    districts_dir: Path,
) -> None:
    stack = fake_stack.FakeStack(districts=DISTRICT_GRIDS)  # no rosters: orders are only filed
    summary = await run_simulation(
        district_config(districts_dir), transport=httpx.ASGITransport(app=stack.app)
    )
    assert summary.districts == {"370811": 15, "370812": 15}
    assert summary.rejection_reasons == {"outside_service_area": 6}  # no district_mismatch
    assert summary.filed == 24
    assert summary.lives is None
    assert summary.exit_code == 0
    home = rider_districts(rider_ids(4), ["370811", "370812"])  # the districts in code order
    for report_id, rider in stack.owners.items():
        assert stack.coverage[report_id] == (home[rider],)
    assert not stack.requests  # without --play-staff nobody touches the work orders
    console = Console(record=True, width=160)
    console.print(render_summary(summary))
    assert "370811: 15 reports" in console.export_text()


@pytest.mark.parametrize("rework_ratio", [0.0, 0.5, 1.0])
async def test_the_staff_carry_every_order_to_its_close(
    districts_dir: Path, rework_ratio: float
) -> None:
    stack = two_district_stack()
    config = district_config(districts_dir, play_staff=True, rework_ratio=rework_ratio)
    summary = await run_simulation(config, transport=httpx.ASGITransport(app=stack.app))
    assert summary.exit_code == 0, summary
    assert summary.pending == 0
    assert summary.lives is not None
    assert set(summary.lives) == {"370812", "370811"}
    orders = {code: [o for o in stack.orders.values() if o.district == code] for code in ROSTERS}
    for code, lives in summary.lives.items():
        assert lives.orders == len(orders[code]) > 0
        assert lives.closed == lives.orders
        assert lives.still_open == 0
        assert len(lives.close_times_s) == lives.closed
        assert all(t > 0 for t in lives.close_times_s)
    assert all(order.state == "closed" for order in stack.orders.values())
    reworked = sum(lives.reworked for lives in summary.lives.values())
    total = len(stack.orders)
    if rework_ratio == 0.0:
        assert reworked == 0
    elif rework_ratio == 1.0:
        assert reworked == total  # each failed once, then passed
    else:
        assert 0 < reworked < total
    posts = [r for r in stack.requests if r.method == "POST"]
    verifies = [r for r in posts if r.path.endswith("/verify")]
    assert len(verifies) == total + reworked
    assert {r.role for r in verifies} == {"supervisor"}
    # Every claim and resolution comes from the order's assignee, with their own token.
    for request in posts:
        if request.path.endswith(("/claim", "/resolve")):
            order = stack.orders[request.path.split("/")[3]]
            assert order.assignee is not None and request.subject == order.assignee["id"]
    roles = {r.role for r in posts if r.path.endswith("/claim")}
    assert "grid_worker" in roles
    # Orders that waited for review were accepted by a supervisor, then lived on.
    reviewed = [o for o in stack.orders.values() if o.category in fake_stack.REVIEW_CATEGORIES]
    accepts = [r for r in posts if r.path.endswith("/accept")]
    assert len(accepts) == len(reviewed)
    # Assignees read their own queue.
    queues = [r for r in stack.requests if r.method == "GET" and "assignee=" in r.query]
    assert queues and all(f"assignee={r.subject}" in r.query for r in queues)
    text = Console(record=True, width=160)
    text.print(render_summary(summary))
    rendered = text.export_text()
    assert "work orders 370811" in rendered and "submit → closed" in rendered


async def test_orders_left_open_at_the_timeout_are_counted(districts_dir: Path) -> None:
    class StubbornStack(fake_stack.FakeStack):
        def act(self, principal: Any, order: Any, action: str, body: Any) -> str | None:
            if action == "verify" and order.district == "370811":
                return "the verifier is away"
            return super().act(principal, order, action, body)

    stack = StubbornStack(districts=DISTRICT_GRIDS, rosters=ROSTERS)
    config = district_config(districts_dir, play_staff=True, rework_ratio=0.0, timeout=1.5)
    summary = await run_simulation(config, transport=httpx.ASGITransport(app=stack.app))
    assert summary.lives is not None
    ren = summary.lives["370811"]
    assert ren.orders > 0 and ren.closed == 0 and ren.still_open == ren.orders
    assert summary.lives["370812"].still_open == 0
    assert summary.still_open == ren.orders
    assert summary.exit_code == 1


async def test_the_staff_do_not_poll_in_a_tight_loop(districts_dir: Path) -> None:
    """Reports that never triage keep the run going until the timeout; meanwhile each district
    is looked at once per staff_poll_interval, not as fast as the loop can go."""
    stack = two_district_stack(drop_categories=frozenset(CATEGORY_CODES))
    config = district_config(districts_dir, play_staff=True, timeout=1.2, staff_poll_interval=0.2)
    summary = await run_simulation(config, transport=httpx.ASGITransport(app=stack.app))
    overviews = [r for r in stack.requests if r.role == "supervisor" and r.method == "GET"]
    rounds = summary.wall_time_s / 0.2 + 2
    assert 0 < len(overviews) <= 2 * rounds  # two districts, pages of one each


async def test_playing_the_staff_needs_the_rosters(districts_dir: Path) -> None:
    (districts_dir / "370811" / "roster.json").unlink()
    with pytest.raises(SimulationError, match="--play-staff needs the districts' rosters"):
        await run_simulation(district_config(districts_dir, play_staff=True))


async def test_unknown_districts_are_refused(districts_dir: Path) -> None:
    with pytest.raises(SimulationError, match="no grids for district 370829"):
        await run_simulation(district_config(districts_dir, districts=("370829",)))
    with pytest.raises(SimulationError, match="6-digit"):
        await run_simulation(district_config(districts_dir, districts=("3708",)))


def test_cli_takes_districts_and_the_staff_options(districts_dir: Path) -> None:
    args = ["simulate", "--districts-dir", str(districts_dir), "--districts", "370812,99"]
    result = CliRunner().invoke(_cli(), args, env={"COLUMNS": "250"})
    assert result.exit_code == 1
    assert "6-digit" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(_cli(), ["simulate", "--play-staff", "--rework-ratio", "2"])
    assert result.exit_code == 2
