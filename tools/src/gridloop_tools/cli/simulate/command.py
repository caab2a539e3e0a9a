"""The typer glue of ``gridloop simulate``: options in, summary table and exit code out."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from common.tokens import DEVELOPMENT_SECRET
from gridloop_tools.cli.simulate.config import (
    DEFAULT_DISPATCH_URL,
    DEFAULT_LEDGER_URL,
    DEFAULT_NOTIFICATION_URL,
    DEFAULT_REPORTING_URL,
    JWT_ENV_VAR,
    SimulationConfig,
    SimulationError,
)
from gridloop_tools.cli.simulate.progress import RichProgress
from gridloop_tools.cli.simulate.run import run_simulation
from gridloop_tools.cli.simulate.summary import render_summary

__all__ = [
    "simulate",
]


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
            help="Share of reports deliberately placed 20–60 km outside every grid.",
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
    districts: Annotated[
        str | None,
        typer.Option(
            "--districts",
            "--district",
            help="Districts the riders (and staff) work in, comma-separated, e.g. "
            "370812,370811; each rider's token covers their own (default: every district of "
            "--grids-file, else every demo district).",
            show_default=False,
        ),
    ] = None,
    play_staff: Annotated[
        bool,
        typer.Option(
            "--play-staff",
            help="Also play the grid workers, departments and supervisors: claim, resolve and "
            "verify every work order the reports open, until it is closed.",
        ),
    ] = False,
    intake: Annotated[
        bool,
        typer.Option(
            "--intake/--no-intake",
            help="After the reports, tour the rest of intake once per district: a report with "
            "a photo, the same report sent twice, a withdrawal, and an Open311 request filed "
            "and read back (with an API key issued for the tour and revoked after).",
        ),
    ] = True,
    rework_ratio: Annotated[
        float,
        typer.Option(
            "--rework-ratio",
            min=0.0,
            max=1.0,
            help="With --play-staff: share of first verifications that fail (返工).",
        ),
    ] = 0.2,
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
    gateway_url: Annotated[
        str | None,
        typer.Option(
            "--gateway",
            help="Base URL of the gateway (e.g. http://127.0.0.1:8000, or the ingress): reach "
            "every service through it at /api/<service>/ instead of the --*-url options.",
            show_default=False,
        ),
    ] = None,
    grids_file: Annotated[
        Path | None,
        typer.Option(
            "--grids-file",
            help="GeoJSON FeatureCollection of the grids (default: those of --districts-dir).",
            dir_okay=False,
        ),
    ] = None,
    districts_dir: Annotated[
        Path | None,
        typer.Option(
            "--districts-dir",
            help="A folder per district code with grids.geojson and roster.json, like "
            "DISPATCH_DISTRICTS_DIR (default: the demo districts shipped with dispatch).",
            file_okay=False,
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
    """Drive a running stack: riders submit reports; follow each until the rider hears back
    (and, with --play-staff, until the staff have closed each work order)."""
    console = Console()
    errors = Console(stderr=True)
    if gateway_url is not None:
        through = gateway_url.rstrip("/")
        reporting_url, dispatch_url, ledger_url, notification_url = (
            f"{through}/api/{name}" for name in ("reporting", "dispatch", "ledger", "notification")
        )
    config = SimulationConfig(
        reports=reports,
        riders=riders,
        outside_ratio=outside_ratio,
        concurrency=concurrency,
        timeout=timeout,
        seed=seed,
        districts=tuple(code.strip() for code in (districts or "").split(",") if code.strip()),
        reporting_url=reporting_url,
        dispatch_url=dispatch_url,
        ledger_url=ledger_url,
        notification_url=notification_url,
        grids_file=grids_file,
        districts_dir=districts_dir,
        play_staff=play_staff,
        intake=intake,
        rework_ratio=rework_ratio,
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
