"""Kafka plumbing on FastStream: the broker, the relay's publisher, and subscriptions that feed
records to an :class:`EventConsumer` with offsets committed only after the handler returns."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from common.contracts.topics import Topic
from common.messaging.consumer import EventConsumer, IncomingRecord
from common.messaging.published_log import Delivery
from common.messaging.relay import Enqueue, Publish


@dataclass(frozen=True)
class KafkaCredentials:
    """SASL login (e.g. a Strimzi ``KafkaUser`` with scram-sha-512)."""

    mechanism: str
    username: str
    password: str
    use_ssl: bool = False


def _security(credentials: KafkaCredentials | None) -> BaseSecurity | None:
    if credentials is None:
        return None
    mechanisms: dict[str, type[SASLScram512] | type[SASLScram256] | type[SASLPlaintext]] = {
        "SCRAM-SHA-512": SASLScram512,
        "SCRAM-SHA-256": SASLScram256,
        "PLAIN": SASLPlaintext,
    }
    try:
        security = mechanisms[credentials.mechanism.upper()]
    except KeyError as error:
        raise ValueError(
            f"unsupported SASL mechanism {credentials.mechanism!r}; "
            f"use one of {', '.join(mechanisms)}"
        ) from error
    return security(credentials.username, credentials.password, use_ssl=credentials.use_ssl)


def create_broker(
    bootstrap_servers: str, *, client_id: str, credentials: KafkaCredentials | None = None
) -> KafkaBroker:
    """Producer with ``acks=all``. Idempotence stays off: the outbox already gives ids the
    consumers deduplicate on, and the embedded test broker does not implement InitProducerId."""
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        security=_security(credentials),
        acks="all",
        enable_idempotence=False,
        request_timeout_ms=15_000,
        logger=None,
    )


def publisher_for(broker: KafkaBroker) -> Publish:
    async def publish(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        await broker.publish(value, topic=topic, key=key, headers=headers)

    return publish


def enqueuer_for(broker: KafkaBroker) -> Enqueue:
    async def enqueue(
        topic: str, key: bytes, value: bytes, headers: dict[str, str]
    ) -> Awaitable[Delivery]:
        acknowledged: Awaitable[Any] = await broker.publish(
            value, topic=topic, key=key, headers=headers, no_confirm=True
        )

        async def delivery() -> Delivery:
            metadata = await acknowledged  # aiokafka's RecordMetadata
            return Delivery(metadata.topic, metadata.partition, metadata.offset)

        return delivery()

    return enqueue


def _client_options(credentials: KafkaCredentials | None) -> dict[str, Any]:
    """aiokafka keyword arguments for the same login the broker uses."""
    if credentials is None:
        return {}
    return {
        "security_protocol": "SASL_SSL" if credentials.use_ssl else "SASL_PLAINTEXT",
        "sasl_mechanism": credentials.mechanism.upper(),
        "sasl_plain_username": credentials.username,
        "sasl_plain_password": credentials.password,
    }


class LogEnds:
    """Reads the broker's log end offsets of a topic (for the relay's check that the broker
    still holds what was published). Never creates a topic: a missing one answers None."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        credentials: KafkaCredentials | None = None,
        fetch_timeout: float = 10.0,
    ) -> None:
        self._options = {"bootstrap_servers": bootstrap_servers, **_client_options(credentials)}
        self._fetch_timeout = fetch_timeout
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def __call__(self, topic: str) -> dict[int, int] | None:
        try:
            return await self._end_offsets(topic)
        except Exception:
            await self.close()  # reconnect from scratch next time (the broker may be new)
            raise

    async def _end_offsets(self, topic: str) -> dict[int, int] | None:
        if self._admin is None:
            self._admin = AIOKafkaAdminClient(**self._options, request_timeout_ms=10_000)
            await self._admin.start()
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(
                **self._options, enable_auto_commit=False, fetch_max_wait_ms=100
            )
            await self._consumer.start()
        if topic not in set(await self._admin.list_topics()):
            return None
        (described,) = await self._admin.describe_topics([topic])
        partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        listed = await self._consumer.end_offsets(partitions)
        return await self._high_watermarks(self._consumer, listed)

    async def _high_watermarks(
        self, consumer: AIOKafkaConsumer, listed: dict[TopicPartition, int]
    ) -> dict[int, int]:
        """The true end of each partition: the high watermark a fetch answers with.

        Kafka answers ListOffsets with the log end, but the embedded Tansu broker answers with
        the base offset of the partition's last record batch + 1, which falls short of the end
        whenever that batch holds more than one record (the relay's batches do). A fetch from
        just below the listed end returns at most that last batch and carries the real end.
        """
        consumer.assign(list(listed))  # fresh partition states: no high watermark yet
        for tp, offset in listed.items():
            consumer.seek(tp, max(0, offset - 1))
        deadline = asyncio.get_running_loop().time() + self._fetch_timeout
        while any(consumer.highwater(tp) is None for tp in listed):
            if asyncio.get_running_loop().time() >= deadline:
                raise TimeoutError(f"no fetch answer for {sorted(map(str, listed))}")
            await consumer.getmany(*listed, timeout_ms=200, max_records=len(listed))
        return {
            tp.partition: max(offset, consumer.highwater(tp) or 0) for tp, offset in listed.items()
        }

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()


def subscribe(
    broker: KafkaBroker,
    consumer: EventConsumer[Any],
    topics: Iterable[Topic],
    *,
    max_records: int = 500,
    wait_ms: int = 50,
) -> None:
    """Feed ``topics`` to ``consumer`` as consumer group ``consumer.name``, in batches of what
    the broker has (up to ``max_records``).

    ``NACK_ON_ERROR`` commits the offsets after the batch was handled and seeks every partition
    of the batch back if the handler raised (it only raises when even the dead-letter publish
    failed), so no record is skipped.
    """

    async def on_batch(message: KafkaMessage) -> None:
        raw = cast(tuple[ConsumerRecord[bytes, bytes], ...], message.raw_message)
        await consumer.handle_batch(
            [
                IncomingRecord(
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=record.key,
                    value=record.value,
                    headers=tuple(record.headers or ()),
                )
                for record in raw
            ]
        )

    broker.subscriber(
        *[topic.value for topic in topics],
        group_id=consumer.name,
        batch=True,
        max_records=max_records,
        # An idle consumer's long poll bounds how soon a new event is seen; keep it short.
        batch_timeout_ms=wait_ms,
        fetch_max_wait_ms=wait_ms,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        max_poll_interval_ms=300_000,
        title=f"{consumer.name}:{'+'.join(t.value for t in topics)}",
    )(on_batch)


async def ensure_topics(
    bootstrap_servers: str, *, partitions: int = 3, replication_factor: int = 1
) -> None:
    """Create the gridloop topics if missing (embedded mode and tests; in Kubernetes the
    Strimzi ``KafkaTopic`` resources own them)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(topic.value, num_partitions=partitions, replication_factor=replication_factor)
            for topic in Topic
            if topic.value not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()
