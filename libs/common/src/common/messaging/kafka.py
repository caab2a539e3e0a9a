"""Kafka plumbing on FastStream: the broker, the relay's publisher, and subscriptions that feed
records to an :class:`EventConsumer` with offsets committed only after the handler returns."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from aiokafka import ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from common.contracts.topics import Topic
from common.messaging.consumer import EventConsumer, IncomingRecord
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
    ) -> Awaitable[object]:
        delivery: Awaitable[object] = await broker.publish(
            value, topic=topic, key=key, headers=headers, no_confirm=True
        )
        return delivery

    return enqueue


def subscribe(
    broker: KafkaBroker,
    consumer: EventConsumer[Any],
    topics: Iterable[Topic],
) -> None:
    """Feed ``topics`` to ``consumer`` as consumer group ``consumer.name``.

    ``NACK_ON_ERROR`` commits after success and seeks back if the handler raised (it only
    raises when even the dead-letter publish failed), so no record is skipped.
    """

    async def on_record(message: KafkaMessage) -> None:
        raw = cast(ConsumerRecord[bytes, bytes], message.raw_message)
        await consumer.handle(
            IncomingRecord(
                topic=raw.topic,
                partition=raw.partition,
                offset=raw.offset,
                key=raw.key,
                value=raw.value,
                headers=tuple(raw.headers or ()),
            )
        )

    broker.subscriber(
        *[topic.value for topic in topics],
        group_id=consumer.name,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        max_poll_interval_ms=300_000,
        # An idle consumer's long poll bounds how soon a new event is seen; keep it short.
        fetch_max_wait_ms=100,
        title=f"{consumer.name}:{'+'.join(t.value for t in topics)}",
    )(on_record)


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
