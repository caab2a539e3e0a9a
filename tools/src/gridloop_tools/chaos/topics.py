"""What the broker holds (records, where each consumer group stands) and what the services say
they consumed.

Offsets alone do not count records on the embedded broker: a produce cut short (its producer
SIGKILLed mid-request) can leave offsets that hold no record, so a partition's end offset may
be larger than the records a reader gets. Counts here are of records actually read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.structs import TopicPartition

from common.messaging.kafka import LogEnds

Span = tuple[int, int]
"""[first offset, end offset) of one partition."""


async def log_ends(bootstrap_servers: str, topics: Iterable[str]) -> dict[TopicPartition, int]:
    """The end offset of every partition of ``topics`` (missing topics have none)."""
    reader = LogEnds(bootstrap_servers)
    try:
        ends: dict[TopicPartition, int] = {}
        for topic in topics:
            for partition, end in ((await reader(topic)) or {}).items():
                ends[TopicPartition(topic, partition)] = end
        return ends
    finally:
        await reader.close()


async def committed(
    bootstrap_servers: str, group: str, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """Where ``group`` has committed each partition (0 where it never did)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return {tp: (await consumer.committed(tp)) or 0 for tp in partitions}
    finally:
        await consumer.stop()


async def read_spans(
    bootstrap_servers: str, spans: Mapping[TopicPartition, Span], *, idle: float = 2.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """The records a reader gets from each partition's span, without a consumer group (done
    when every partition reached its end, or nothing came for ``idle`` seconds: the rest are
    empty offsets)."""
    wanted = {tp: span for tp, span in spans.items() if span[0] < span[1]}
    if not wanted:
        return []
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, fetch_max_wait_ms=200
    )
    await consumer.start()
    try:
        consumer.assign(list(wanted))
        for tp, (first, _) in wanted.items():
            consumer.seek(tp, first)
        found: list[ConsumerRecord[bytes, bytes]] = []
        # Done by what was *received*: the consumer's position runs ahead of what getmany
        # has handed over.
        reached = {tp: first for tp, (first, _) in wanted.items()}
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        while any(reached[tp] < end for tp, (_, end) in wanted.items()):
            batch = await consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                found += [record for record in records if record.offset < wanted[tp][1]]
                if records:
                    reached[tp] = records[-1].offset + 1
            if batch:
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= idle:
                break
        return found
    finally:
        await consumer.stop()


async def read_records(bootstrap_servers: str, spans: Mapping[TopicPartition, Span]) -> int:
    """How many records a reader gets from each partition's span."""
    return len(await read_spans(bootstrap_servers, spans))


async def read_topics(
    bootstrap_servers: str, topics: Iterable[str], *, idle: float = 2.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on ``topics`` now."""
    ends = await log_ends(bootstrap_servers, topics)
    return await read_spans(
        bootstrap_servers, {tp: (0, end) for tp, end in ends.items()}, idle=idle
    )


async def records_on(bootstrap_servers: str, topics: Iterable[str]) -> int:
    return len(await read_topics(bootstrap_servers, topics))


def metric_sum(metrics_text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def consumed(client: httpx.AsyncClient, service_url: str, consumer: str) -> int:
    """Records the consumer group ``consumer`` has taken, whatever the outcome, as the
    service's /metrics counts them."""
    response = await client.get(f"{service_url}/metrics")
    response.raise_for_status()
    return int(metric_sum(response.text, "gridloop_events_consumed_total", consumer=consumer))
