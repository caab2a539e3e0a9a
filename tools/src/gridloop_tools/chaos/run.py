"""One chaos run: its own stack, riders submitting through planned faults, then the checks and
the replay.

Set-up and tear-down are synchronous (databases, proxy, processes); the middle — load, faults,
waiting, checks, replay — runs in one event loop while a thread carries out the fault plan and
keeps the supervisor polling.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from common.tokens import DEVELOPMENT_SECRET
from gridloop_tools.chaos.checks import Check, logged, verify
from gridloop_tools.chaos.databases import ServiceDatabases
from gridloop_tools.chaos.faults import Executed, Fault, FaultSchedule, plan_faults
from gridloop_tools.chaos.keeper import StackKeeper
from gridloop_tools.chaos.load import Accepted, LoadDriver, LoadResult, plan_submissions
from gridloop_tools.chaos.options import Backend, new_seed
from gridloop_tools.chaos.proxy import TcpProxy
from gridloop_tools.chaos.quiescence import ChaosAborted, wait_quiescent
from gridloop_tools.chaos.replay import replay
from gridloop_tools.embedded_broker import free_port
from gridloop_tools.stack import SERVICES, Stack
from gridloop_tools.supervisor import Supervisor
from gridloop_tools.testing.infrastructure import (
    DEFAULT_POSTGRES_URL,
    temporary_postgres_database,
)

Say = Callable[[str], None]


@dataclass(frozen=True)
class ChaosConfig:
    reports: int = 300
    riders: int = 50
    outside_ratio: float = 0.1
    concurrency: int = 8
    rate: float = 0.0
    """New submissions per second at most (0: as fast as reporting accepts them)."""
    kills: int = 1
    """SIGKILLs of each service."""
    broker_restarts: int = 1
    cut_seconds: float = 15.0
    """One cut of every database connection for this long (PostgreSQL only; 0: none)."""
    backend: Backend = Backend.POSTGRES
    seed: int | None = None
    postgres_url: str = DEFAULT_POSTGRES_URL
    data_dir: Path | None = None
    keep: bool = False
    """Keep the databases and the data directory (logs) after the run."""
    settle_seconds: float = 15.0
    """Quiescent means: nothing changed in any table for this long (longer than the relays'
    broker check, so a republish after a lost broker would have shown)."""
    quiescence_timeout: float = 900.0
    replay: bool = True


@dataclass
class ChaosReport:
    seed: int
    config: ChaosConfig
    plan: list[Fault]
    data_dir: Path
    executed: list[Executed] = field(default_factory=list)
    load: LoadResult = field(default_factory=LoadResult)
    checks: list[Check] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]


def describe_plan(seed: int, plan: list[Fault]) -> list[str]:
    lines = [f"seed {seed}: {len(plan)} faults, each due once this share of reports is accepted"]
    lines += [f"  {fault.at:6.1%}  {fault.describe()}" for fault in plan]
    return lines


def run_chaos(config: ChaosConfig, say: Say) -> ChaosReport:
    seed = config.seed if config.seed is not None else new_seed()
    cut = config.cut_seconds if config.backend is Backend.POSTGRES else 0.0
    plan = plan_faults(
        random.Random(f"gridloop-chaos/{seed}"),
        services=SERVICES,
        kills=config.kills,
        broker_restarts=config.broker_restarts,
        cut_seconds=cut,
    )
    for line in describe_plan(seed, plan):
        say(line)
    data_dir = config.data_dir or Path(tempfile.mkdtemp(prefix="gridloop-chaos-"))
    report = ChaosReport(seed, config, plan, data_dir)
    started = time.monotonic()
    with ExitStack() as resources:
        direct, proxy = _databases(config, resources, say)
        stack = Stack(
            data_dir=data_dir,
            database_urls={n: _via(u, proxy) for n, u in direct.items()} if proxy else {},
            ports={name: free_port() for name in SERVICES},
        )
        # What the checks read: the databases themselves, never through the proxy.
        direct = {name: direct.get(name) or stack.database_url(name) for name in SERVICES}
        resources.callback(stack.stop)
        say(f"starting the embedded broker and the four services ({config.backend}) in {data_dir}")
        stack.start(timeout=180)
        report.seconds["start"] = time.monotonic() - started
        driver = LoadDriver(
            url=stack.url("reporting"),
            submissions=plan_submissions(
                seed,
                reports=config.reports,
                riders=config.riders,
                outside_ratio=config.outside_ratio,
            ),
            concurrency=config.concurrency,
            rate=config.rate,
            jwt_secret=os.environ.get("GRIDLOOP_JWT_SECRET", DEVELOPMENT_SECRET),
        )
        supervisor = Supervisor(
            stack,
            say=lambda line: say(f"supervisor: {line}"),
            first_delay=0.5,
            max_delay=5.0,
            crash_limit=1000,  # a service killed during a database cut cannot start for a while
        )
        faults = FaultSchedule(plan, lambda: driver.progress, say, proxy)
        keeper = StackKeeper(stack, supervisor, faults, say).start()
        resources.callback(keeper.close)
        asyncio.run(_exercise(config, report, keeper, driver, direct, say))
    report.seconds["total"] = time.monotonic() - started
    if report.ok and not config.keep and config.data_dir is None:
        shutil.rmtree(data_dir, ignore_errors=True)
    return report


def _databases(
    config: ChaosConfig, resources: ExitStack, say: Say
) -> tuple[dict[str, str], TcpProxy | None]:
    """On PostgreSQL: a database per service for this run and the proxy the services reach
    them through. On SQLite nothing: the stack's files."""
    if config.backend is Backend.SQLITE:
        return {}, None
    urls = {
        name: resources.enter_context(
            temporary_postgres_database(
                config.postgres_url, prefix=f"gridloop_chaos_{name}", keep=config.keep
            )
        )
        for name in SERVICES
    }
    server = make_url(config.postgres_url)
    proxy = TcpProxy(server.host or "127.0.0.1", server.port or 5432).start()
    resources.callback(proxy.stop)
    say(
        f"databases {', '.join(make_url(u).database or '' for u in urls.values())} on "
        f"{server.host}:{server.port}, reached by the services through 127.0.0.1:{proxy.port}"
    )
    return urls, proxy


def _via(url: str, proxy: TcpProxy) -> str:
    return make_url(url).set(host=proxy.host, port=proxy.port).render_as_string(False)


async def _exercise(
    config: ChaosConfig,
    report: ChaosReport,
    keeper: StackKeeper,
    driver: LoadDriver,
    urls: Mapping[str, str],
    say: Say,
) -> None:
    stack = keeper.stack
    databases = ServiceDatabases(urls)
    try:
        mark = time.monotonic()
        keeper.faults.started = mark
        say(f"submitting {len(driver.submissions)} reports from {config.riders} riders")
        report.load = await driver.run()
        report.seconds["load"] = time.monotonic() - mark
        say(
            f"submissions done in {report.load.seconds:.0f} s: {len(report.load.accepted)} "
            f"accepted, retries {dict(report.load.retries)}"
        )
        if not await asyncio.to_thread(keeper.wait_all_fired, 120.0):
            say(f"faults never carried out: {[f.describe() for f in keeper.faults.pending]}")
        mark = time.monotonic()
        await wait_quiescent(
            databases,
            stack,
            say,
            settle=config.settle_seconds,
            within=config.quiescence_timeout,
            trouble=lambda: keeper.error,
        )
        report.seconds["quiescence"] = time.monotonic() - mark
        report.executed = list(keeper.faults.executed)
        report.checks.append(fault_check(report, keeper.faults.proxy, stack.data_dir / "logs"))
        report.checks.append(load_check(report.load, len(driver.submissions)))
        mark = time.monotonic()
        report.checks += await verify(
            databases,
            report.load.accepted,
            log_dir=stack.data_dir / "logs",
            bootstrap_servers=stack.bootstrap_servers,
        )
        report.seconds["checks"] = time.monotonic() - mark
        if config.replay:
            mark = time.monotonic()
            within = max(180.0, config.reports / 5)
            report.checks.append(
                await replay(keeper, databases, say, suffix="replay-1", within=within)
            )
            report.seconds["replay"] = time.monotonic() - mark
        if keeper.error is not None:
            raise ChaosAborted(str(keeper.error)) from keeper.error
    finally:
        await databases.dispose()


def fault_check(report: ChaosReport, proxy: TcpProxy | None, log_dir: Path) -> Check:
    check = Check("faults: the whole plan carried out")
    kinds = Counter(
        item.fault.target if item.fault.kind == "kill" else item.fault.kind
        for item in report.executed
    )
    check.figures = {
        "planned": len(report.plan),
        "carried out": len(report.executed),
        **{f"SIGKILL {name}": kinds[name] for name in SERVICES},
        "broker restarts": kinds["broker_restart"],
        "database cuts": kinds["database_cut"],
    }
    if proxy is not None:
        check.figures["connections cut"] = proxy.counts.dropped
        check.figures["connections refused while cut"] = proxy.counts.refused
    losses = logged(log_dir, "outbox.broker_lost_records")
    check.figures["relays that found the broker had lost records"] = (
        ", ".join(f"{service} ×{count}" for service, count in sorted(losses.items())) or "none"
    )
    check.expect(
        len(report.executed) == len(report.plan),
        f"{len(report.plan) - len(report.executed)} faults never happened",
    )
    return check


def load_check(load: LoadResult, planned: int) -> Check:
    check = Check("submissions: every report accepted, retried with its own key")
    check.figures = {
        "planned": planned,
        "accepted (201)": len(load.accepted),
        "answered from a stored retry": load.replayed,
        "refused": len(load.refused),
        **{f"retried after {cause}": count for cause, count in sorted(load.retries.items())},
    }
    if load.refused:
        check.problems.append(
            f"{len(load.refused)} submissions not accepted, e.g. {load.refused[0][1]}"
        )
    return check


__all__ = ["Accepted", "ChaosAborted", "ChaosConfig", "ChaosReport", "run_chaos"]
