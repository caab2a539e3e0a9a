"""LogEnds against a real Kafka-protocol broker: the relay's broker check trusts these figures to
tell a broker that lost records from one that holds everything."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from common.messaging.kafka import LogEnds
from gridloop_tools.testing.infrastructure import kafka_bootstrap_servers


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    with kafka_bootstrap_servers() as servers:
        yield servers


async def _send_batch(producer: AIOKafkaProducer, topic: str, partition: int, count: int) -> None:
    """``count`` records handed over together, so the producer sends them as one batch."""
    sent = [await producer.send(topic, b"x", partition=partition) for _ in range(count)]
    await asyncio.gather(*sent)


async def test_the_end_of_a_partition_counts_every_record_of_its_last_batch(
    bootstrap: str,
) -> None:
    topic = f"test.log-ends.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        await _send_batch(producer, topic, 0, 5)
        await _send_batch(producer, topic, 0, 3)
        await _send_batch(producer, topic, 1, 1)
    finally:
        await producer.stop()
    log_ends = LogEnds(bootstrap)
    try:
        # The embedded broker answers ListOffsets with the last batch's base offset + 1 (6 for
        # partition 0); a broker that holds 8 records must be read as ending at 8.
        assert await log_ends(topic) == {0: 8, 1: 1, 2: 0}
        assert await log_ends(topic) == {0: 8, 1: 1, 2: 0}  # asked again: the same answer
        assert await log_ends(f"{topic}.missing") is None
    finally:
        await log_ends.close()
