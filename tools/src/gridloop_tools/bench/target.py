"""The system under test: a stack the run starts (SQLite, or PostgreSQL databases created for
the run and dropped after it) or one already running, given by its URL and broker."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from gridloop_tools.bench.config import Backend, BenchConfig, BenchError
from gridloop_tools.bench.processes import WatchedProcess
from gridloop_tools.embedded_broker import BrokerUnavailable, free_port
from gridloop_tools.stack import SERVICES, Stack, StackError
from gridloop_tools.testing.infrastructure import temporary_postgres_database

__all__ = [
    "Target",
    "bench_target",
    "postgres_database",
    "postgres_problem",
    "require_postgres",
]

Say = Callable[[str], None]


@dataclass
class Target:
    reporting_urls: list[str]
    """Every reporting replica."""
    bootstrap_servers: str
    stack: Stack | None = None
    watched: dict[str, WatchedProcess] = field(default_factory=dict)
    """The processes whose CPU and memory are measured, by label (none on a running stack:
    its processes are not ours to find)."""
    databases: frozenset[str] = frozenset()
    """The names of the PostgreSQL databases created for the run."""
    data_dir: Path | None = None
    """Logs (and SQLite files) of a stack the run started."""
    keep_data: bool = False
    """Keep ``data_dir`` after the run (its logs explain a failed run)."""

    def exited(self) -> list[str]:
        """Processes of the stack that are no longer running."""
        if self.stack is None:
            return []
        gone = [key for key, process in self.stack.services.items() if not process.running()]
        return gone + ([] if self.stack.broker_running() else ["broker"])


def _plain(url: str) -> str:
    """asyncpg wants ``postgresql://`` without a SQLAlchemy driver suffix."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _where(url: str) -> str:
    server = make_url(url)
    return f"{server.host or 'localhost'}:{server.port or 5432}"


def postgres_problem(url: str) -> str | None:
    """Why the PostgreSQL server at ``url`` does not answer (None: it does)."""

    async def probe() -> None:
        connection = await asyncpg.connect(_plain(url), timeout=5)
        await connection.close()

    try:
        asyncio.run(probe())
    except (OSError, TimeoutError, asyncpg.PostgresError, ValueError) as error:
        return f"PostgreSQL at {_where(url)} does not answer ({type(error).__name__}: {error})"
    return None


def require_postgres(url: str) -> None:
    """Fail clearly unless the PostgreSQL server at ``url`` answers."""
    problem = postgres_problem(url)
    if problem is not None:
        raise BenchError(
            f"{problem}; start it, pass --postgres-url, or run on SQLite without --postgres"
        )


@contextmanager
def postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """A database created for the run (dropped after it), as an asyncpg URL."""
    try:
        with temporary_postgres_database(server_url, prefix=prefix) as url:
            yield url
    except (OSError, asyncpg.PostgresError) as error:
        raise BenchError(
            f"cannot create or drop a database on PostgreSQL at {_where(server_url)}: {error}"
        ) from error


@contextmanager
def bench_target(config: BenchConfig, say: Say) -> Iterator[Target]:
    if not config.starts_stack:
        yield _running_stack(config)
        return
    with ExitStack() as resources:
        urls: dict[str, str] = {}
        if config.backend is Backend.POSTGRES:
            for name in SERVICES:
                urls[name] = resources.enter_context(
                    postgres_database(config.postgres_url, f"gridloop_bench_{name}")
                )
            say(f"databases {', '.join(str(make_url(u).database) for u in urls.values())}")
        data_dir = config.data_dir or Path(tempfile.mkdtemp(prefix="gridloop-bench-"))
        stack = Stack(
            data_dir=data_dir,
            database_urls=urls,
            ports={name: free_port() for name in SERVICES},
            jwt_secret=config.jwt_secret,
            replicas=config.replicas,
        )
        resources.callback(stack.stop)
        processes = config.replicas * len(SERVICES)
        say(f"starting the embedded broker and {processes} service processes ({data_dir})")
        try:
            stack.start(timeout=180)
        except (StackError, BrokerUnavailable, OSError) as error:
            raise BenchError(
                f"the stack did not start: {error}\n(logs in {data_dir / 'logs'})"
            ) from error
        target = Target(
            reporting_urls=[process.url for process in stack.replicas_of("reporting")],
            bootstrap_servers=stack.bootstrap_servers,
            stack=stack,
            watched=_watched(stack),
            databases=frozenset(str(make_url(u).database) for u in urls.values()),
            data_dir=data_dir,
        )
        yield target
        if config.data_dir is None and not target.keep_data:
            resources.callback(shutil.rmtree, data_dir, ignore_errors=True)


def _watched(stack: Stack) -> dict[str, WatchedProcess]:
    watched: dict[str, WatchedProcess] = {}
    for name in SERVICES:
        for process in stack.replicas_of(name):
            if process.pid is not None:
                watched[process.key] = WatchedProcess(process.key, name, process.pid)
    if stack.broker is not None and stack.broker.process is not None:
        watched["broker"] = WatchedProcess("broker", "broker", stack.broker.process.pid)
    watched["bench"] = WatchedProcess("bench", "bench", os.getpid())
    return watched


def _running_stack(config: BenchConfig) -> Target:
    url = (config.reporting_url or "").rstrip("/")
    try:
        ready = httpx.get(f"{url}/readyz", timeout=10)
    except httpx.HTTPError as error:
        raise BenchError(
            f"reporting at {url} does not answer ({type(error).__name__}); start the stack "
            "(make run) or pass the --url of a running one"
        ) from error
    if ready.status_code != 200:
        raise BenchError(f"reporting at {url} is not ready (/readyz: HTTP {ready.status_code})")
    return Target(reporting_urls=[url], bootstrap_servers=config.bootstrap_servers or "")
