"""``gridloop ledger verify``: check a live ledger database against the ledger's invariants
(see :mod:`ledger.adapters.verify`); exit status 1 when any check fails."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import create_async_engine

from ledger.adapters.verify import LedgerVerification, verify_ledger

ledger = typer.Typer(help="The points ledger.", no_args_is_help=True)
console = Console()


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
    found = asyncio.run(_verify(url))
    console.print(f"{found.accounts} accounts, {found.transfers} transfers")
    for check, violations in found.violations.items():
        mark = "[green]ok[/green]" if not violations else f"[red]{len(violations)} broken[/red]"
        console.print(f"{check}: {mark}")
        for violation in violations[:20]:
            console.print(f"  {violation}", markup=False)
    if not found.ok:
        raise typer.Exit(1)
