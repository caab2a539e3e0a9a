"""`gridloop bench`: a tiny real run through the embedded broker closes every loop and counts
it right; where the reports go, how they are submitted and recorded; refusals that are clear
messages, never stack traces. No assertion is on timing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from itertools import combinations
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from typer.testing import CliRunner

from dispatch.domain.geometry import distance_m
from gridloop_tools.bench.config import Backend, BenchConfig, BenchError
from gridloop_tools.bench.load import LoadDriver
from gridloop_tools.bench.plan import SPACING_M, filed_at_once, plan_bench
from gridloop_tools.bench.record import MARKER, record
from gridloop_tools.bench.results import BenchResult, LoopCounts, ProcessFigures, Quantiles
from gridloop_tools.cli.main import app
from gridloop_tools.stack import SERVICES, Stack, StackError
from gridloop_tools.testing.launcher import GRIDLOOP

DOCS = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"


def refused(*args: str) -> str:
    """What ``gridloop bench`` says when it refuses to run: exit status 1, no traceback."""
    result = CliRunner().invoke(app, ["bench", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.integration
def test_a_small_run_closes_every_loop_and_counts_it(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    tiny = ["--reports", "20", "--concurrency", "4", "--warmup", "4", "--json", str(figures)]
    result = subprocess.run(
        [*GRIDLOOP, "bench", *tiny],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "loops/s" in result.stdout
    run = json.loads(figures.read_text())
    assert run["backend"] == "sqlite"
    assert run["replicas"] == 1
    counts = run["counts"]
    assert counts["planned"] == counts["accepted"] == counts["closed"] == 20
    assert counts["filed"] + counts["merged"] == 20
    assert (counts["failed"], counts["rejected"], counts["unclosed"]) == (0, 0, 0)
    assert run["problems"] == []
    assert run["loops_per_second"] > 0
    assert 0 < run["submit"]["p50"] <= run["submit"]["p99"] <= run["submit"]["max"]
    assert 0 < run["loop"]["p50"] <= run["loop"]["p95"] <= run["loop"]["p99"] <= run["loop"]["max"]
    processes = {process["label"]: process for process in run["processes"]}
    assert set(processes) == {*SERVICES, "broker", "bench"}
    for name in SERVICES:
        assert processes[name]["cpu_seconds"] > 0
        assert 0 < processes[name]["peak_rss_mib"] < run["rss_limit_mib"]
        assert run["cpu_ms_per_loop"][name] > 0
    assert run["cpu_ms_per_loop"]["services"] == pytest.approx(
        sum(run["cpu_ms_per_loop"][name] for name in SERVICES)
    )
    assert run["anchor"] is None  # SQLite: no PostgreSQL anchor


def test_a_plan_over_a_riders_hourly_limit_is_refused_with_the_riders_it_needs() -> None:
    with pytest.raises(BenchError, match="use --riders 334 or more"):
        BenchConfig(reports=9_980, warmup=20, riders=300).validate()
    BenchConfig(reports=9_980, warmup=20, riders=334).validate()


def test_replicas_on_sqlite_are_refused_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="needs PostgreSQL"):
        BenchConfig(replicas=2, backend=Backend.SQLITE).validate()
    stack = Stack(data_dir=tmp_path, replicas=2)
    with pytest.raises(StackError, match="SQLite is a single-process database"):
        stack.start()
    assert stack.services == {}
    assert stack.broker is None

    assert "needs PostgreSQL (--postgres)" in refused("--replicas", "2")


def test_an_unreachable_postgresql_is_a_clear_refusal() -> None:
    said = refused("--postgres", "--postgres-url", "postgresql://postgres@127.0.0.1:1/postgres")
    assert "PostgreSQL at 127.0.0.1:1 does not answer" in said


def test_a_running_stack_needs_its_url_and_its_broker() -> None:
    assert "--bootstrap-servers" in refused("--url", "http://127.0.0.1:1")
    said = refused("--url", "http://127.0.0.1:1", "--bootstrap-servers", "127.0.0.1:1")
    assert "reporting at http://127.0.0.1:1 does not answer" in said


def test_reports_are_filed_at_once_and_too_far_apart_to_merge() -> None:
    plan = plan_bench(600, riders=50, seed=7)
    assert len(plan) == 600
    assert {report.district for report in plan.reports} == {"370811", "370812"}
    for report in plan.reports:
        assert plan.riders[report.rider_id] == report.district  # riders report at home
        assert report.category in filed_at_once(report.district)
        assert not report.outside
    assert "9901" not in filed_at_once("370812")  # waits for a supervisor's review
    for first, second in combinations(plan.reports, 2):
        if first.category[:2] == second.category[:2]:  # the category group: 并单 goes by it
            assert distance_m(first.lat, first.lon, second.lat, second.lon) >= SPACING_M


Answer = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def reporting_replica(answer: Answer) -> AsyncIterator[str]:
    """A real HTTP server on a free port standing in for reporting's ``POST /v1/reports``."""
    application = web.Application()
    application.router.add_post("/v1/reports", answer)
    server = TestServer(application, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def test_submissions_go_to_every_reporting_replica_and_failures_are_kept() -> None:
    seen: list[str] = []

    def replica(name: str) -> Answer:
        async def answer(request: web.Request) -> web.Response:
            seen.append(name)
            assert request.headers["Idempotency-Key"]
            assert request.headers["Authorization"].startswith("Bearer ")
            if (await request.json())["category"] == "0101":
                problem = {"title": "Service Unavailable", "detail": "busy"}
                return web.json_response(problem, status=503)
            return web.json_response({"id": f"rep-{len(seen)}"}, status=201)

        return answer

    plan = plan_bench(12, riders=3, seed=1)
    async with reporting_replica(replica("a")) as a, reporting_replica(replica("b")) as b:
        driver = LoadDriver([a, b], {rider: "token" for rider in plan.riders}, concurrency=3)
        submitted = await driver.run(plan.reports)
    assert sorted(seen) == ["a"] * 6 + ["b"] * 6
    refused = [s for s in submitted if s.report_id is None]
    assert refused and all(s.planned.category == "0101" for s in refused)
    assert all(s.error == "HTTP 503: busy" for s in refused)
    assert len(submitted) == 12
    assert all(s.submit_seconds is not None and s.submit_seconds >= 0 for s in submitted)


async def test_an_answer_without_a_report_id_or_json_is_a_failure_in_words() -> None:
    async def answer(request: web.Request) -> web.Response:
        if (await request.json())["category"] == "0101":
            return web.Response(status=502, text="<html>bad gateway</html>")
        return web.json_response({"status": "filed"}, status=201)

    plan = plan_bench(6, riders=2, seed=1)
    async with reporting_replica(answer) as url:
        driver = LoadDriver([url], {rider: "token" for rider in plan.riders}, concurrency=2)
        submitted = await driver.run(plan.reports)
    assert {s.error for s in submitted} <= {
        "HTTP 502: <html>bad gateway</html>",
        "HTTP 201 without a report id in the body",
    }
    assert all(s.report_id is None for s in submitted)


async def test_a_closed_loop_keeps_its_loops_in_flight_and_resends_with_the_same_key() -> None:
    keys: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        keys.append(request.headers["Idempotency-Key"])
        if len(keys) == 1:
            assert request.transport is not None
            request.transport.close()  # the connection drops before an answer
            return web.Response(status=500)
        return web.json_response({"id": f"rep-{request.headers['Idempotency-Key']}"}, status=201)

    open_loops: set[str] = set()
    most = 0

    async def until_closed(report_id: str) -> bool:
        nonlocal most
        open_loops.add(report_id)
        most = max(most, len(open_loops))
        await asyncio.sleep(0.01)
        open_loops.discard(report_id)
        return True

    plan = plan_bench(10, riders=2, seed=2)
    async with reporting_replica(answer) as url:
        driver = LoadDriver(
            [url],
            {rider: "token" for rider in plan.riders},
            concurrency=3,
            until_closed=until_closed,
        )
        submitted = await driver.run(plan.reports)
    assert all(s.report_id is not None for s in submitted)
    assert most == 3  # three loops in flight, never more
    assert keys.count(keys[0]) == 2  # sent again with its own key
    assert len(set(keys)) == 10
    assert driver.retries == 1


async def test_a_closed_loop_stops_sending_once_a_loop_does_not_close() -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"id": f"rep-{request.headers['Idempotency-Key']}"}, status=201)

    async def never(report_id: str) -> bool:
        await asyncio.sleep(0.05)  # as a real wait would: the other rider sends meanwhile
        return False

    plan = plan_bench(10, riders=2, seed=2)
    async with reporting_replica(answer) as url:
        driver = LoadDriver(
            [url], {rider: "token" for rider in plan.riders}, concurrency=2, until_closed=never
        )
        assert len(await driver.run(plan.reports)) == 2  # one each, then nothing more


async def test_an_open_loop_backlog_is_latency_not_failure() -> None:
    """Submissions waiting for one of too few connections longer than the answer timeout are
    late, not failed: the wait is the client-side backlog the open loop measures."""

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.1)
        return web.json_response({"id": f"rep-{request.headers['Idempotency-Key']}"}, status=201)

    plan = plan_bench(6, riders=2, seed=4)
    async with reporting_replica(slow) as url:
        driver = LoadDriver(
            [url], {r: "token" for r in plan.riders}, rate=100.0, connections=1, timeout=0.3
        )
        submitted = await driver.run(plan.reports)
    assert all(s.report_id is not None for s in submitted), [s.error for s in submitted]
    last = submitted[-1].submit_seconds
    assert last is not None and last > 0.3  # it waited behind the others, and still counted


async def test_a_reporting_that_does_not_answer_is_a_connection_failure() -> None:
    plan = plan_bench(2, riders=1, seed=3)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    driver = LoadDriver([f"http://127.0.0.1:{port}"], {r: "token" for r in plan.riders})
    submitted = await driver.run(plan.reports)
    assert all(s.attempts == 3 for s in submitted)
    assert all(s.error and s.error.startswith("ClientConnectorError") for s in submitted)


def _result() -> BenchResult:
    return BenchResult(
        date="2026-11-30",
        backend="postgres",
        replicas=2,
        mode="closed loop, concurrency 32",
        counts=LoopCounts(1500, 1500, 0, 1499, 1, 0, 0),
        window_seconds=100.0,
        submit=Quantiles(0.01, 0.02, 0.03, 0.04),
        loop=Quantiles(0.5, 0.9, 1.2, 1.5),
        processes=[ProcessFigures(n, n, 15.0, 120.0) for n in SERVICES],
        anchor=None,
        load_average=(1.0, 1.0, 1.0),
        rss_limit_mib=250,
    )


def test_a_recorded_run_is_a_row_at_the_end_of_the_results_table(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text(DOCS.read_text())
    record(_result(), docs)
    lines = docs.read_text().splitlines()
    row = lines[lines.index(MARKER) - 1]
    assert row.startswith("| 2026-11-30 | postgres | 2 | closed loop, concurrency 32 |")
    assert "1500/1500 (1 merged, 0 rejected)" in row
    assert "| 15.0 |" in row  # loops/s
    assert row.count("|") == lines[lines.index(MARKER) - 2].count("|")  # same columns

    docs.write_text("# Benchmarks\n")
    with pytest.raises(BenchError, match="no results table"):
        record(_result(), docs)
