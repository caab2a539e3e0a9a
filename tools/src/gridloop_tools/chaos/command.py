"""The typer glue of ``gridloop chaos``: options in, figures and an exit status out."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from gridloop_tools.chaos.options import Backend, new_seed
from gridloop_tools.local import DEFAULT_POSTGRES_URL

if TYPE_CHECKING:
    from gridloop_tools.chaos.run import ChaosReport


def render(report: ChaosReport) -> list[str]:
    """Each check with its figures, one per line, and what it found wrong."""
    lines: list[str] = []
    for check in report.checks:
        mark = "[green]✓[/green]" if check.ok else "[red]✗[/red]"
        lines.append(f"{mark} [bold]{escape(check.name)}[/bold]")
        lines += [f"    {escape(name)}: {value}" for name, value in check.figures.items()]
        lines += [f"    [red]{escape(problem)}[/red]" for problem in check.problems]
    return lines


def chaos(
    reports: Annotated[int, typer.Option(min=1, help="Reports to submit.")] = 300,
    riders: Annotated[int, typer.Option(min=1, help="Riders who submit them.")] = 50,
    kills: Annotated[int, typer.Option(min=0, help="SIGKILLs of each service.")] = 1,
    broker_restarts: Annotated[
        int, typer.Option(min=0, help="Restarts of the embedded (memory-only) broker.")
    ] = 1,
    cut_seconds: Annotated[
        float,
        typer.Option(min=0, help="One cut of every database connection (PostgreSQL only)."),
    ] = 15.0,
    backend: Annotated[
        Backend, typer.Option(help="postgres (databases created per run) or sqlite (files)")
    ] = Backend.POSTGRES,
    seed: Annotated[
        int | None, typer.Option(help="Fixes the reports and the fault plan (default: random).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Submissions in flight.")] = 8,
    rate: Annotated[
        float, typer.Option(min=0, help="New submissions per second at most (0: no limit).")
    ] = 0.0,
    outside_ratio: Annotated[
        float, typer.Option(min=0, max=1, help="Share of reports outside the district.")
    ] = 0.1,
    postgres_url: Annotated[
        str, typer.Option(help="The PostgreSQL server the run's databases are created on.")
    ] = DEFAULT_POSTGRES_URL,
    data_dir: Annotated[
        Path | None, typer.Option(help="Logs (and SQLite files) go here (default: a temp dir).")
    ] = None,
    keep: Annotated[bool, typer.Option(help="Keep databases and data after the run.")] = False,
    replay: Annotated[
        bool, typer.Option(help="Replay every topic with fresh consumer groups at the end.")
    ] = True,
    quiescence_timeout: Annotated[
        float,
        typer.Option(
            min=1,
            help="Seconds to wait, after the last submission, for the system to finish; then "
            "the checks show what is missing.",
        ),
    ] = 900.0,
) -> None:
    """Start a stack of its own and submit reports while services are SIGKILLed, the broker
    restarts and the database connections are cut; then check from every database that no
    report, point or message was lost or doubled, and that a replay changes nothing.
    Exit status 0 only if every check holds."""
    # The run imports the services and their storage: only when it is asked for.
    from gridloop_tools.chaos.quiescence import ChaosAborted
    from gridloop_tools.chaos.run import ChaosConfig, run_chaos
    from gridloop_tools.embedded_broker import BrokerUnavailable
    from gridloop_tools.stack import StackError

    console = Console(soft_wrap=True)
    errors = Console(stderr=True, soft_wrap=True)
    config = ChaosConfig(
        reports=reports,
        riders=riders,
        outside_ratio=outside_ratio,
        concurrency=concurrency,
        rate=rate,
        kills=kills,
        broker_restarts=broker_restarts,
        cut_seconds=cut_seconds,
        backend=backend,
        seed=seed if seed is not None else new_seed(),
        postgres_url=postgres_url,
        data_dir=data_dir,
        keep=keep,
        replay=replay,
        quiescence_timeout=quiescence_timeout,
    )
    started = time.monotonic()

    def say(line: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:7.1f} s[/dim]  {escape(line)}")

    try:
        report = run_chaos(config, say)
    except (ChaosAborted, StackError, BrokerUnavailable, OSError) as error:
        errors.print(
            f"[red]the chaos run could not finish[/red] (seed {config.seed}): {escape(str(error))}"
        )
        raise typer.Exit(1) from error
    for line in render(report):
        console.print(line)
    timings = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in report.seconds.items())
    if report.ok:
        console.print(f"[green]every check holds[/green] (seed {report.seed}; {timings})")
        return
    failed = "; ".join(check.name for check in report.failed)
    errors.print(f"[red]FAILED[/red] (seed {report.seed}): {escape(failed)}")
    errors.print(f"logs kept in {report.data_dir}; {timings}")
    raise typer.Exit(1)
