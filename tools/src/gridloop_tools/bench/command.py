"""The typer glue of ``gridloop bench``: options in, tables (and a recorded row) out; the exit
status says whether every loop closed within the memory budget."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from common.tokens import DEVELOPMENT_SECRET
from gridloop_tools.bench.config import DEFAULT_RSS_LIMIT_MIB, Backend, BenchConfig, BenchError
from gridloop_tools.bench.record import record as record_run
from gridloop_tools.bench.render import figures_table, processes_table
from gridloop_tools.local import DEFAULT_POSTGRES_URL

__all__ = ["bench"]

DEFAULT_REPORTS = 1500
DEFAULT_DURATION = 20.0


def bench(
    reports: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=f"Reports in the measured window [default: {DEFAULT_REPORTS:,}; with --rate: "
            "rate × --duration].",
            show_default=False,
        ),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            min=1, help="Closed loop: loops in flight (the next report once one loop closed)."
        ),
    ] = 32,
    rate: Annotated[
        float | None,
        typer.Option(
            min=0.001, help="Open loop: submit this many reports a second on a fixed schedule."
        ),
    ] = None,
    duration: Annotated[
        float, typer.Option(min=0.1, help="Open loop: seconds of submissions (without --reports).")
    ] = DEFAULT_DURATION,
    connections: Annotated[
        int, typer.Option(min=1, help="Open loop: HTTP connections at most.")
    ] = 64,
    postgres: Annotated[
        bool,
        typer.Option(
            "--postgres",
            help="Databases on PostgreSQL (created for the run, dropped after) instead of "
            "SQLite files; also runs the PostgreSQL anchor.",
        ),
    ] = False,
    prefer_postgres: Annotated[
        bool,
        typer.Option(
            "--prefer-postgres",
            help="--postgres if PostgreSQL answers at --postgres-url, else SQLite (make bench).",
        ),
    ] = False,
    postgres_url: Annotated[
        str, typer.Option(help="The PostgreSQL server the run's databases are created on.")
    ] = DEFAULT_POSTGRES_URL,
    replicas: Annotated[
        int, typer.Option(min=1, help="Processes per service (more than 1 needs --postgres).")
    ] = 1,
    url: Annotated[
        str | None,
        typer.Option(
            help="Measure a running stack instead: its reporting service (with "
            "--bootstrap-servers; CPU and memory are then not measured).",
            show_default=False,
        ),
    ] = None,
    bootstrap_servers: Annotated[
        str | None,
        typer.Option(help="The running stack's Kafka broker (with --url).", show_default=False),
    ] = None,
    warmup: Annotated[
        int, typer.Option(min=0, help="Reports sent and waited for before measuring.")
    ] = 20,
    riders: Annotated[int, typer.Option(min=1, help="Riders the reports come from.")] = 300,
    anchor_seconds: Annotated[
        float, typer.Option(min=0, help="Seconds of each PostgreSQL anchor loop (0: none).")
    ] = 5.0,
    tail_timeout: Annotated[
        float,
        typer.Option(min=1, help="Seconds to wait for loops still open after the last submit."),
    ] = 120.0,
    seed: Annotated[
        int | None, typer.Option(help="Fixes where the reports are (default: random).")
    ] = None,
    rss_limit_mib: Annotated[
        float, typer.Option(min=1, help="Memory budget of each service process.")
    ] = DEFAULT_RSS_LIMIT_MIB,
    record: Annotated[
        bool, typer.Option("--record", help="Add the run's row to the results in --docs.")
    ] = False,
    docs: Annotated[Path, typer.Option(help="Where --record adds its row.")] = Path(
        "docs/benchmarks.md"
    ),
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Also write every figure to this JSON file."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Logs (and SQLite files) go here (default: a temporary folder)."),
    ] = None,
) -> None:
    """Measure the loop: start a stack (or use a running one), submit reports closed- or
    open-loop, time each from submission to the reporter's 立案 message on
    gridloop.notifications.v1, and measure every service process's CPU and peak memory.
    On PostgreSQL, an anchor loop shows what the database alone commits."""
    # The run starts a stack and reaches databases: imported only when it is asked for.
    from gridloop_tools.bench.run import run_bench

    console = Console(soft_wrap=True)
    errors = Console(stderr=True, soft_wrap=True)
    if url or bootstrap_servers:
        backend = Backend.EXTERNAL
    elif postgres or (prefer_postgres and _answers(postgres_url, errors)):
        backend = Backend.POSTGRES
    else:
        backend = Backend.SQLITE
    if reports is None:
        reports = max(1, round(rate * duration)) if rate else DEFAULT_REPORTS
    config = BenchConfig(
        reports=reports,
        concurrency=concurrency,
        rate=rate or 0.0,
        connections=connections,
        warmup=warmup,
        riders=riders,
        replicas=replicas,
        backend=backend,
        postgres_url=postgres_url,
        reporting_url=url,
        bootstrap_servers=bootstrap_servers,
        anchor_seconds=anchor_seconds,
        tail_timeout=tail_timeout,
        seed=seed if seed is not None else random.SystemRandom().randrange(10**6),
        jwt_secret=os.environ.get("GRIDLOOP_JWT_SECRET", DEVELOPMENT_SECRET),
        rss_limit_mib=rss_limit_mib,
        data_dir=data_dir,
    )
    started = time.monotonic()

    def say(line: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:6.1f} s[/dim]  {escape(line)}")

    try:
        result = run_bench(config, say)
    except BenchError as error:
        errors.print(f"[red]gridloop bench could not finish:[/red] {escape(str(error))}")
        raise typer.Exit(1) from error
    except KeyboardInterrupt:
        errors.print("interrupted; the stack is stopped and its databases dropped")
        raise typer.Exit(130) from None
    console.print(figures_table(result))
    if result.processes:
        console.print(processes_table(result))
    for line in result.errors:
        errors.print(f"[red]failed submission:[/red] {escape(line)}")
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")
    if result.problems:
        errors.print("[red]FAILED:[/red] " + escape("; ".join(result.problems)))
        if record:
            errors.print(f"not recorded in {docs}: the figures of a failed run mislead")
        raise typer.Exit(1)
    if record:
        try:
            record_run(result, docs)
        except BenchError as error:
            errors.print(f"[red]not recorded:[/red] {escape(str(error))}")
            raise typer.Exit(1) from error
        console.print(f"recorded in {docs}")


def _answers(postgres_url: str, errors: Console) -> bool:
    from gridloop_tools.bench.target import postgres_problem

    problem = postgres_problem(postgres_url)
    if problem is not None:
        errors.print(f"[yellow]{escape(problem)}[/yellow]: running on SQLite")
    return problem is None
