"""One benchmark run: the PostgreSQL anchor, the system under test, a warm-up, then the
measured window — submissions, loops closing on the broker, CPU and memory of every
process — and its figures.

Set-up and tear-down (databases, processes) are synchronous; the measured part runs in one
event loop in this process, which therefore also shows up in the figures (``bench``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from gridloop_tools.bench.anchor import AnchorResult, run_anchor
from gridloop_tools.bench.config import Backend, BenchConfig, BenchError
from gridloop_tools.bench.listener import NotificationListener
from gridloop_tools.bench.load import LoadDriver, Submitted, rider_tokens
from gridloop_tools.bench.plan import plan_bench
from gridloop_tools.bench.processes import backends_cpu, sample
from gridloop_tools.bench.results import BenchResult, compute
from gridloop_tools.bench.target import Target, bench_target, postgres_database, require_postgres
from gridloop_tools.cli.simulate.planning import PlannedReport
from gridloop_tools.stack import StackError, wait_until_served

__all__ = ["run_bench"]

Say = Callable[[str], None]

WARMUP_TIMEOUT = 120.0
QUIET_SECONDS = 1.5
"""After the last loop closed, the window ends once the delivery log has been quiet this long
(at most :data:`QUIET_LIMIT`), so the CPU of each loop's later steps — points, the messages
after the first — is counted too."""
QUIET_LIMIT = 30.0


def run_bench(config: BenchConfig, say: Say) -> BenchResult:
    config.validate()
    load_average = os.getloadavg()
    say("load average before the run: " + " ".join(f"{v:.2f}" for v in load_average))
    anchor: AnchorResult | None = None
    if config.backend is Backend.POSTGRES:
        require_postgres(config.postgres_url)
        if config.anchor_seconds > 0:
            anchor = _anchor(config, say)
    plan = plan_bench(config.warmup + config.reports, riders=config.riders, seed=config.seed)
    tokens = rider_tokens(config.jwt_secret, plan.riders)
    with bench_target(config, say) as target:
        try:
            result = asyncio.run(
                _measure(config, target, plan.reports, tokens, anchor, load_average, say)
            )
        except BaseException:
            target.keep_data = True
            raise
        if result.problems:
            target.keep_data = True
            if target.data_dir is not None:
                say(f"logs kept in {target.data_dir / 'logs'}")
    return result


def _anchor(config: BenchConfig, say: Say) -> AnchorResult:
    with postgres_database(config.postgres_url, "gridloop_bench_anchor") as url:
        say(
            f"PostgreSQL anchor: one report + one outbox row per transaction, "
            f"{config.anchor_seconds:.0f} s on 1 and on 8 connections"
        )
        try:
            anchor = asyncio.run(run_anchor(url, config.anchor_seconds))
        except OSError as error:
            raise BenchError(f"the PostgreSQL anchor failed: {error}") from error
    rates = ", ".join(f"{n} conn {tps:,.0f} tx/s" for n, tps in anchor.tx_per_second.items())
    say(f"anchor: {rates}")
    return anchor


async def _measure(
    config: BenchConfig,
    target: Target,
    reports: Sequence[PlannedReport],
    tokens: dict[str, str],
    anchor: AnchorResult | None,
    load_average: tuple[float, float, float],
    say: Say,
) -> BenchResult:
    listener = NotificationListener(target.bootstrap_servers)
    await listener.start()
    try:
        warmup, measured = reports[: config.warmup], reports[config.warmup :]
        if warmup:
            await _warm_up(config, target, warmup, tokens, listener, say)
        driver = LoadDriver(
            target.reporting_urls,
            tokens,
            concurrency=config.concurrency,
            rate=config.rate,
            connections=config.connections,
            until_closed=lambda report_id: listener.closes(report_id, config.tail_timeout),
        )
        say(f"measuring {len(measured)} reports, {_mode(config)}")
        before = sample(target.watched)
        postgres_before = backends_cpu(target.databases)
        start = time.perf_counter()
        progress = asyncio.create_task(_progress(driver, listener, len(measured), say))
        try:
            submitted = await driver.run(measured)
            ids = {s.report_id for s in submitted if s.report_id is not None}
            await listener.wait_for(ids, until=time.perf_counter() + config.tail_timeout)
        finally:
            progress.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await progress
        last = max((listener.arrivals[i].seen for i in ids if i in listener.arrivals), default=None)
        end = last if last is not None and ids.issubset(listener.arrivals) else time.perf_counter()
        await _quiet(listener)
        after = sample(target.watched)
        postgres_after = backends_cpu(target.databases)
        if (failure := listener.failure()) is not None:
            raise BenchError(f"reading the delivery log failed: {failure}")
    finally:
        await listener.stop()
    return compute(
        planned=len(measured),
        submitted=submitted,
        arrivals=listener.arrivals,
        window=(start, end),
        before=before,
        after=after,
        watched=target.watched,
        date=datetime.now(UTC).date().isoformat(),
        backend=config.backend.value,
        replicas=config.replicas,
        mode=_mode(config),
        anchor=anchor,
        load_average=load_average,
        rss_limit_mib=config.rss_limit_mib,
        exited=target.exited(),
        postgres_cpu_seconds=_spent(postgres_before, postgres_after),
        retries=driver.retries,
    )


async def _warm_up(
    config: BenchConfig,
    target: Target,
    reports: Sequence[PlannedReport],
    tokens: dict[str, str],
    listener: NotificationListener,
    say: Say,
) -> None:
    """Submit the warm-up reports and wait until their loops closed: every consumer group
    has its partitions, every connection pool and cache is warm."""
    districts = {report.district for report in reports if report.district}
    for url in target.reporting_urls:
        await _wait_served(url, districts)
    say(f"warming up with {len(reports)} reports")
    driver = LoadDriver(target.reporting_urls, tokens, concurrency=min(4, config.concurrency))
    submitted = await driver.run(reports)
    failed = [s for s in submitted if s.report_id is None]
    if failed:
        raise BenchError(
            f"reporting ({', '.join(target.reporting_urls)}) refused warm-up reports: "
            f"{failed[0].error}"
        )
    ids = {str(s.report_id) for s in submitted}
    await listener.wait_for(ids, until=time.perf_counter() + WARMUP_TIMEOUT)
    if not ids.issubset(listener.arrivals):
        missing = len(ids - set(listener.arrivals))
        raise BenchError(
            f"{missing} of {len(ids)} warm-up reports never reached their reporter within "
            f"{WARMUP_TIMEOUT:.0f} s: the loop does not close (see the services' logs)"
        )


async def _wait_served(reporting_url: str, districts: set[str]) -> None:
    """Until reporting serves every district of the plan (a running stack given with --url
    may not have consumed dispatch's catalogues yet)."""
    try:
        await asyncio.to_thread(wait_until_served, reporting_url, districts, timeout=WARMUP_TIMEOUT)
    except StackError as error:
        raise BenchError(str(error)) from None


async def _quiet(listener: NotificationListener) -> None:
    deadline = time.perf_counter() + QUIET_LIMIT
    seen = -1
    while time.perf_counter() < deadline and seen != listener.records:
        seen = listener.records
        await asyncio.sleep(QUIET_SECONDS)


async def _progress(
    driver: LoadDriver, listener: NotificationListener, total: int, say: Say
) -> None:
    started = time.perf_counter()
    while True:
        await asyncio.sleep(5)
        answered = [s for s in driver.submitted if s.answered is not None or s.error]
        closed = sum(1 for s in _accepted(driver.submitted) if s.report_id in listener.arrivals)
        say(
            f"{time.perf_counter() - started:5.0f} s: {len(answered)}/{total} submitted, "
            f"{closed} loops closed"
        )


def _spent(before: dict[int, float], after: dict[int, float]) -> float | None:
    """CPU the backends spent between the samples (a backend that came later counts from 0;
    one that went away is lost)."""
    if not after:
        return None
    return sum(spent - before.get(pid, 0.0) for pid, spent in after.items())


def _accepted(submitted: Sequence[Submitted]) -> list[Submitted]:
    return [s for s in submitted if s.report_id is not None]


def _mode(config: BenchConfig) -> str:
    if config.open_loop:
        return f"open loop {config.rate:g}/s for {config.reports / config.rate:.0f} s"
    return f"closed loop, concurrency {config.concurrency}"
