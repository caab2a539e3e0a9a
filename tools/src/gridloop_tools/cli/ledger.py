"""``gridloop ledger verify``: check a live ledger database against the ledger's invariants
(see :mod:`ledger.adapters.verify`); exit status 1 when any check fails."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from ledger.adapters.verify import LedgerVerification, verify_ledger

ledger = typer.Typer(help="The points ledger.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


class UnreadableLedger(Exception):
    """The database cannot be read as a ledger's; the message says why."""


def _checked_url(database_url: str) -> str:
    """``database_url`` if it names a database that may be read (an SQLite file must exist:
    connecting would create an empty one)."""
    try:
        url = make_url(database_url)
    except exc.ArgumentError as error:
        raise UnreadableLedger(f"not a database URL: {database_url!r}") from error
    on_disk = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if on_disk and not Path(str(url.database)).is_file():
        raise UnreadableLedger(f"no SQLite database at {url.database}")
    return database_url


async def _verify(database_url: str) -> LedgerVerification:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await verify_ledger(connection)
    finally:
        await engine.dispose()


@ledger.command()
def verify(
    database_url: Annotated[
        str | None,
        typer.Option(help="the ledger's database (default: LEDGER_DATABASE_URL)"),
    ] = None,
) -> None:
    """Every district's accounts sum to zero; no rider below zero; every balance is the fold
    of its transfers; one award, bonus and reversal per report at most; every reservation
    ends exactly once."""
    url = database_url or os.environ.get(
        "LEDGER_DATABASE_URL", "sqlite+aiosqlite:///./data/ledger.db"
    )
    shown = make_url(url).render_as_string(hide_password=True) if "://" in url else url
    try:
        found = asyncio.run(_verify(_checked_url(url)))
    except (UnreadableLedger, exc.SQLAlchemyError, OSError) as error:
        reason = str(error).splitlines()[0]
        errors.print(
            f"[bold red]error:[/] cannot read the ledger at {escape(shown)}: {escape(reason)}"
        )
        raise typer.Exit(2) from None
    console.print(f"{found.accounts} accounts, {found.transfers} transfers")
    for check, violations in found.violations.items():
        mark = "[green]ok[/green]" if not violations else f"[red]{len(violations)} broken[/red]"
        console.print(f"{check}: {mark}")
        for violation in violations[:20]:
            console.print(f"  {violation}", markup=False)
    if not found.ok:
        raise typer.Exit(1)
