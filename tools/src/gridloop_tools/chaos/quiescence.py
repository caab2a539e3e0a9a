"""Waiting until the system has finished: nothing left to do, nothing moving."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import sqlalchemy as sa

from gridloop_tools.chaos.databases import ServiceDatabases
from gridloop_tools.chaos.replay import CONSUMED_TOPICS
from gridloop_tools.chaos.topics import committed, log_ends, read_records
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
    no table of any service has changed for ``settle`` seconds, and every service's consumer
    group has taken every record on its topics (a group whose partitions wait for a killed
    member's session to end changes nothing meanwhile). False after ``within`` seconds (the
    checks then show what is missing); raises :class:`ChaosAborted` as soon as ``trouble``
    names a reason the stack cannot be kept running."""
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
            behind = await unread_by_groups(stack)
            if not behind:
                return True
            say(f"settled, but consumer groups have records left to take: {behind}")
            since = time.monotonic()
        if now >= deadline:
            say(f"not quiescent after {within:.0f} s; checking what there is")
            return False
        if now >= next_note:
            next_note = now + 30
            say(f"waiting: {untriaged} reports untriaged, {unpublished} events unpublished")
        await asyncio.sleep(1.0)


async def unread_by_groups(stack: Stack) -> dict[str, int]:
    """Service -> records on its topics its consumer group has not committed past (only the
    services with some)."""
    behind: dict[str, int] = {}
    for name, topics in CONSUMED_TOPICS.items():
        ends = await log_ends(stack.bootstrap_servers, [topic.value for topic in topics])
        at = await committed(stack.bootstrap_servers, name, ends)
        unread = await read_records(
            stack.bootstrap_servers, {tp: (at[tp], end) for tp, end in ends.items()}
        )
        if unread:
            behind[name] = unread
    return behind
