"""Waiting until the system has finished: nothing left to do, nothing moving."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import sqlalchemy as sa

from gridloop_tools.chaos.databases import ServiceDatabases
from gridloop_tools.stack import SERVICES, Stack

Say = Callable[[str], None]


class ChaosAborted(RuntimeError):
    """The run could not go on (the supervisor gave up, the stack did not come back)."""


async def wait_quiescent(
    databases: ServiceDatabases,
    stack: Stack,
    say: Say,
    *,
    settle: float,
    within: float,
    trouble: Callable[[], BaseException | None] = lambda: None,
) -> bool:
    """Until every report is triaged, every outbox published, the broker and every service up,
    and no table of any service has changed for ``settle`` seconds. False after ``within``
    seconds (the checks then show what is missing); raises :class:`ChaosAborted` as soon as
    ``trouble`` names a reason the stack cannot be kept running."""
    deadline = time.monotonic() + within
    last: tuple[object, ...] | None = None
    since = time.monotonic()
    next_note = time.monotonic() + 30
    reports = databases.table("reporting", "reports")
    while True:
        error = trouble()
        if error is not None:
            raise ChaosAborted(f"the stack could not be kept running: {error}") from error
        untriaged = await databases.scalar(
            "reporting", sa.select(sa.func.count()).where(reports.c.status == "submitted")
        )
        unpublished = sum([await databases.unpublished(name) for name in SERVICES])
        up = stack.broker_running() and all(s.running() for s in stack.services.values())
        state = (await databases.row_counts(), untriaged, unpublished, up)
        now = time.monotonic()
        if state != last:
            last, since = state, now
        elif not untriaged and not unpublished and up and now - since >= settle:
            return True
        if now >= deadline:
            say(f"not quiescent after {within:.0f} s; checking what there is")
            return False
        if now >= next_note:
            next_note = now + 30
            say(f"waiting: {untriaged} reports untriaged, {unpublished} events unpublished")
        await asyncio.sleep(1.0)
