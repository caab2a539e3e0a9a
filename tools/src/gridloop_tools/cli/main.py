"""The ``gridloop`` command: run the stack, mint development tokens, simulate riders and staff,
prove the loop survives faults, measure it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gridloop_tools.bench import bench
from gridloop_tools.chaos.command import chaos
from gridloop_tools.cli.ledger import ledger
from gridloop_tools.cli.simulate import simulate
from gridloop_tools.cli.token import token
from gridloop_tools.embedded_broker import BrokerUnavailable
from gridloop_tools.stack import (
    DEFAULT_GATEWAY_PORT,
    DEFAULT_PORTS,
    GATEWAY,
    SERVICES,
    WEB_DIST,
    Stack,
    StackError,
)
from gridloop_tools.staff import StaffError, district_codes, districts_root
from gridloop_tools.supervisor import GaveUp, Supervisor

app = typer.Typer(
    name="gridloop",
    help="gridloop: the 随手拍 grid-governance loop.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("simulate", help="Drive a running stack with simulated riders over HTTP.")(simulate)
app.command("token")(token)
app.command("chaos")(chaos)
app.command("bench")(bench)
app.add_typer(ledger, name="ledger")
console = Console()
errors = Console(stderr=True)


def _districts_loaded() -> str:
    folder = os.environ.get("DISPATCH_DISTRICTS_DIR", "demo")
    if folder != "demo":
        return f"districts from {folder}"
    try:
        codes = district_codes(districts_root())
    except (StaffError, OSError):
        return "demo districts"
    return f"demo districts {', '.join(codes)}, synthetic grids"


def _database_urls() -> dict[str, str]:
    return {
        name: os.environ[f"{name.upper()}_DATABASE_URL"]
        for name in SERVICES
        if os.environ.get(f"{name.upper()}_DATABASE_URL")
    }


@app.command()
def run(
    data_dir: Annotated[Path, typer.Option(help="SQLite files and logs go here")] = Path("data"),
    ports_from: Annotated[
        int,
        typer.Option(
            help="first of four consecutive ports (reporting, dispatch, ledger, …)",
            min=1024,
            max=65532,
        ),
    ] = DEFAULT_PORTS["reporting"],
    gateway_port: Annotated[
        int,
        typer.Option(
            help="the web front end and /api/<service>/… (0: do not start the gateway)",
            min=0,
            max=65535,
        ),
    ] = DEFAULT_GATEWAY_PORT,
) -> None:
    """Start a broker (unless KAFKA_BOOTSTRAP_SERVERS is set), the four services and the
    gateway serving the web front end, and keep them running: a crashed process or broker is
    restarted (with back-off; after repeated crashes it gives up). Ctrl-C stops everything."""
    web_dir = WEB_DIST if (WEB_DIST / "index.html").is_file() else None
    if gateway_port and web_dir is None:
        errors.print(
            f"[yellow]the web front end is not built ({WEB_DIST}): the gateway serves the API "
            "only; `make run` builds it (or `make web`)[/yellow]"
        )
    stack = Stack(
        data_dir=data_dir,
        database_urls=_database_urls(),
        kafka_bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None,
        ports={name: ports_from + offset for offset, name in enumerate(SERVICES)},
        gateway_port=gateway_port or None,
        web_dir=web_dir,
    )
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    try:
        with console.status("starting the broker, the four services and the gateway…"):
            stack.start()
    except (StackError, BrokerUnavailable, OSError) as error:
        errors.print(f"[red]gridloop did not start:[/red] {error}")
        stack.stop()
        raise typer.Exit(1) from error
    except KeyboardInterrupt:
        stack.stop()
        raise typer.Exit(130) from None
    table = Table(title=f"gridloop is running ({_districts_loaded()})")
    table.add_column("service")
    table.add_column("URL")
    table.add_column("API docs")
    for name in SERVICES:
        url = stack.url(name)
        table.add_row(name, url, f"{url}/docs")
    console.print(table)
    if gateway_port:
        gateway = stack.url(GATEWAY)
        console.print(
            f"web: rider's app {gateway}/    staff console {gateway}/console/    "
            f"(development sign-in: pick anyone)"
        )
    console.print(f"broker: {stack.bootstrap_servers}    logs: {data_dir / 'logs'}")
    console.print(
        "try:  uv run gridloop simulate --reports 20 --riders 4 --play-staff    (Ctrl-C stops)"
    )
    supervisor = Supervisor(stack, say=lambda line: console.print(f"[yellow]•[/yellow] {line}"))
    exit_code = 0
    try:
        while not stopping:
            supervisor.poll()
            time.sleep(0.5)
    except GaveUp as error:
        errors.print(f"[red]{error}[/red]")
        exit_code = 1
    except (StackError, BrokerUnavailable) as error:
        errors.print(f"[red]the stack cannot go on:[/red] {error}")
        exit_code = 1
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave services behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        console.print("stopping…")
        stack.stop()
        console.print("stopped.")
    if exit_code:
        raise typer.Exit(exit_code)


@app.command()
def contracts(
    out: Annotated[Path, typer.Option(help="where the contract files live")] = Path(
        "docs/contracts"
    ),
    check: Annotated[bool, typer.Option(help="fail if the files differ from the code")] = False,
) -> None:
    """Export the event JSON Schemas, the AsyncAPI document and each service's OpenAPI."""
    from importlib import import_module

    from gridloop_tools.contracts_export import render_contracts, stale_contracts, write_contracts

    openapi = {}
    for name in SERVICES:
        bootstrap = import_module(f"{name}.bootstrap")
        openapi[name] = bootstrap.create_app().openapi()
    files = render_contracts(openapi)
    if check:
        stale = stale_contracts(out, files)
        if stale:
            errors.print("[red]contracts are out of date:[/red] " + ", ".join(stale))
            errors.print("run: uv run gridloop contracts")
            raise typer.Exit(1)
        console.print(f"{len(files)} contract files are up to date")
        return
    write_contracts(out, files)
    console.print(f"wrote {len(files)} contract files under {out}")


if __name__ == "__main__":
    app()
