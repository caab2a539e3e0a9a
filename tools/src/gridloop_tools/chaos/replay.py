"""Replay: the four services consume every topic again from offset 0 as fresh consumer groups
(``GRIDLOOP_CONSUMER_GROUP_SUFFIX``) and must change nothing in any business table."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import httpx
from aiokafka.structs import TopicPartition

from common.contracts.topics import Topic
from gridloop_tools.chaos.checks import Check
from gridloop_tools.chaos.databases import Dump, ServiceDatabases
from gridloop_tools.chaos.keeper import StackKeeper
from gridloop_tools.chaos.topics import (
    Span,
    committed,
    consumed,
    log_ends,
    read_records,
    records_on,
)
from gridloop_tools.stack import SERVICES, Stack

Say = Callable[[str], None]

CONSUMED_TOPICS: dict[str, tuple[Topic, ...]] = {
    "reporting": (Topic.WORKORDERS, Topic.DISTRICTS, Topic.POINTS),
    "dispatch": (Topic.REPORTS,),
    "ledger": (Topic.WORKORDERS,),
    "notification": (Topic.WORKORDERS, Topic.POINTS),
}
"""The topics each service's one consumer group reads, named after the service (tools/tests
checks this against the services' own wiring)."""

SUFFIX_VARIABLE = "GRIDLOOP_CONSUMER_GROUP_SUFFIX"


def restart_with_suffix(stack: Stack, suffix: str) -> None:
    """Stop the four services and start them again consuming as ``<name>-<suffix>``."""
    stack.extra_env = {**stack.extra_env, SUFFIX_VARIABLE: suffix}
    for name in SERVICES:
        stack.services[name].stop()
        stack.start_service(name)


@dataclass(frozen=True)
class GroupState:
    taken: int
    """Records the group's service counted as consumed."""
    spans: dict[TopicPartition, Span]
    """Per partition: (committed offset, end offset)."""


async def _group_states(
    stack: Stack, suffix: str, client: httpx.AsyncClient
) -> dict[str, GroupState]:
    states: dict[str, GroupState] = {}
    for name, topics in CONSUMED_TOPICS.items():
        group = f"{name}-{suffix}"
        ends = await log_ends(stack.bootstrap_servers, [topic.value for topic in topics])
        at = await committed(stack.bootstrap_servers, group, ends)
        taken = await consumed(client, stack.url(name), group)
        states[name] = GroupState(taken, {tp: (at[tp], end) for tp, end in ends.items()})
    return states


async def wait_replayed(
    stack: Stack, suffix: str, say: Say, *, within: float, settle: float = 3.0
) -> dict[str, tuple[GroupState, int]]:
    """Wait until every replaying group has committed past every record on its topics and
    nothing moves any more; returns service -> (its group's state, records it left unread)."""
    deadline = time.monotonic() + within
    last: dict[str, GroupState] | None = None
    since = time.monotonic()
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            states = await _group_states(stack, suffix, client)
            now = time.monotonic()
            if states != last:
                last, since = states, now
            elif now - since >= settle or now >= deadline:
                unread = {
                    name: await read_records(stack.bootstrap_servers, state.spans)
                    for name, state in states.items()
                }
                if not any(unread.values()) or now >= deadline:
                    return {name: (states[name], unread[name]) for name in states}
            if now >= deadline:
                say(f"replay still running after {within:.0f} s")
            await asyncio.sleep(1.0)


def compare(before: dict[str, Dump], after: dict[str, Dump], check: Check) -> None:
    for service, tables in before.items():
        for table, rows in tables.items():
            again = after[service].get(table, [])
            check.figures[f"{service}.{table} rows"] = len(rows)
            if again == rows:
                continue
            gone = set(rows) - set(again)
            new = set(again) - set(rows)
            check.problems.append(
                f"{service}.{table} changed: {len(rows)} -> {len(again)} rows, "
                f"{len(gone)} gone, {len(new)} new or changed; e.g. "
                f"{sorted(map(str, gone))[:1]} -> {sorted(map(str, new))[:1]}"
            )


async def replay(
    keeper: StackKeeper, databases: ServiceDatabases, say: Say, *, suffix: str, within: float
) -> Check:
    check = Check(f"replay: fresh consumer groups (suffix {suffix}) change nothing")
    stack = keeper.stack
    before = {name: await databases.dump(name) for name in SERVICES}
    say(f"replay: restarting the four services with {SUFFIX_VARIABLE}={suffix}")
    await asyncio.to_thread(keeper.call, partial(restart_with_suffix, stack, suffix))
    await asyncio.to_thread(stack.wait_ready, list(SERVICES), timeout=120)
    progress = await wait_replayed(stack, suffix, say, within=within)
    on_topic = {topic: await records_on(stack.bootstrap_servers, [topic.value]) for topic in Topic}
    for name, (state, unread) in progress.items():
        group = f"{name}-{suffix}"
        total = sum(on_topic[topic] for topic in CONSUMED_TOPICS[name])
        check.figures[f"{group}: records taken / on its topics / left unread"] = (
            f"{state.taken} / {total} / {unread}"
        )
        check.expect(not unread, f"{group} left {unread} records unread")
    after = {name: await databases.dump(name) for name in SERVICES}
    compare(before, after, check)
    return check
