"""The figures of a run as rich tables, and as the one-line row of docs/benchmarks.md."""

from __future__ import annotations

from rich.table import Table

from gridloop_tools.bench.results import BenchResult, Quantiles
from gridloop_tools.stack import SERVICES

__all__ = ["figures_table", "markdown_row", "processes_table"]


def ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:,.0f} ms"


def number(value: float | None, digits: int = 1, unit: str = "") -> str:
    return "–" if value is None else f"{value:,.{digits}f}{unit}"


def quantiles(values: Quantiles, *names: str) -> str:
    return " / ".join(ms(getattr(values, name)) for name in names)


def figures_table(result: BenchResult) -> Table:
    counts = result.counts
    table = Table(title=f"gridloop bench — {result.backend}, {_replicas(result)}, {result.mode}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("reports submitted / accepted", f"{counts.planned} / {counts.accepted}")
    table.add_row(
        "loops closed (filed + merged + rejected)",
        f"{counts.closed} ({counts.filed} + {counts.merged} + {counts.rejected})",
    )
    if result.retries:
        table.add_row("sent again after a connection error", str(result.retries))
    if counts.unclosed:
        table.add_row("[red]loops not closed[/red]", f"[red]{counts.unclosed}[/red]")
    table.add_row("window", f"{result.window_seconds:,.1f} s")
    table.add_row("[bold]loops/s[/bold]", f"[bold]{result.loops_per_second:,.1f}[/bold]")
    table.add_row("submit p50 / p99", quantiles(result.submit, "p50", "p99"))
    table.add_row(
        "submit → inbox p50 / p95 / p99 / max", quantiles(result.loop, "p50", "p95", "p99", "max")
    )
    table.add_row("CPU ms per loop, four services", number(result.services_cpu_ms_per_loop))
    if result.anchor is not None:
        for connections, rate in result.anchor.tx_per_second.items():
            table.add_row(f"PostgreSQL anchor, {connections} conn", f"{rate:,.0f} tx/s")
        table.add_row("loops/s ÷ anchor tx/s (8 conn)", number(result.ratio, 3))
    table.add_row("load average before the run", " ".join(f"{v:.2f}" for v in result.load_average))
    return table


def processes_table(result: BenchResult) -> Table:
    table = Table(title="CPU and memory per process (measured window)")
    for name in ("process", "CPU s", "CPU ms/loop", "peak RSS"):
        table.add_column(name, justify="left" if name == "process" else "right")
    loops = result.counts.closed
    for process in result.processes:
        per_loop = (
            None if process.cpu_seconds is None or not loops else 1000 * process.cpu_seconds / loops
        )
        rss = number(process.peak_rss_mib, 0, " MiB")
        peak = process.peak_rss_mib
        if peak is not None and process.group in SERVICES and peak >= result.rss_limit_mib:
            rss = f"[red]{rss}[/red]"
        table.add_row(process.label, number(process.cpu_seconds, 2), number(per_loop), rss)
    if result.postgres_cpu_seconds is not None:
        table.add_row(
            "postgres (the run's backends)",
            number(result.postgres_cpu_seconds, 2),
            number(result.postgres_cpu_ms_per_loop),
            "",
        )
    if result.processes:
        table.add_row(
            "[bold]four services[/bold]",
            "",
            f"[bold]{number(result.services_cpu_ms_per_loop)}[/bold]",
            f"max {number(max((result.peak_rss_mib(n) or 0) for n in SERVICES), 0, ' MiB')}",
        )
    return table


def markdown_row(result: BenchResult) -> str:
    """The run as a row of the results table in docs/benchmarks.md."""
    counts = result.counts
    per_service = " / ".join(number(result.cpu_ms_per_loop(name)) for name in SERVICES)
    rss = " / ".join(number(result.peak_rss_mib(name), 0) for name in SERVICES)
    anchor = "–"
    if result.anchor is not None:
        anchor = " / ".join(f"{rate:,.0f}" for rate in result.anchor.tx_per_second.values())
    closed = f"{counts.closed}/{counts.planned}"
    if counts.merged or counts.rejected:
        closed += f" ({counts.merged} merged, {counts.rejected} rejected)"
    cells = [
        result.date,
        result.backend,
        str(result.replicas),
        result.mode,
        closed,
        number(result.loops_per_second),
        quantiles(result.submit, "p50", "p99"),
        quantiles(result.loop, "p50", "p95", "p99"),
        f"{per_service} = **{number(result.services_cpu_ms_per_loop)}**",
        rss,
        anchor,
        number(result.ratio, 3),
        f"{result.load_average[0]:.2f}",
    ]
    return "| " + " | ".join(cells) + " |"


def _replicas(result: BenchResult) -> str:
    if result.backend == "external":
        return "a running stack"
    return f"{result.replicas} replica{'s' if result.replicas > 1 else ''} per service"
