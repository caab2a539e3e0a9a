"""The outbox relay against real databases: order, marking, failures, one leader, and
publishing again what a broker lost."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from common.contracts.envelope import CloudEvent
from common.db import create_engine, session_factory
from common.messaging.published_log import Delivery
from common.messaging.relay import OutboxRelay
from common.messaging.unit_of_work import SqlUnitOfWork
from common.metrics import OutboxMetrics
from gridloop_tools.testing.builders import report_submitted
from gridloop_tools.testing.infrastructure import MessagingSchema

PARTITIONS = 3


class FakeProducer:
    """A broker's log in memory: records what the relay hands over, per partition; can refuse
    chosen events, and can lose everything (a memory-only broker that restarted)."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.sent: list[tuple[str, bytes, str]] = []
        self.headers: list[dict[str, str]] = []
        self.refuse = refuse or set()
        self.log: dict[tuple[str, int], list[str]] = {}

    async def enqueue(
        self, topic: str, key: bytes, value: bytes, headers: dict[str, str]
    ) -> Awaitable[Delivery]:
        future: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
        event_id = CloudEvent.from_bytes(value).id
        if event_id in self.refuse:
            future.set_exception(ConnectionError("broker unavailable"))
        else:
            self.sent.append((topic, key, event_id))
            self.headers.append(headers)
            partition = zlib.crc32(key) % PARTITIONS
            entries = self.log.setdefault((topic, partition), [])
            entries.append(event_id)
            future.set_result(Delivery(topic, partition, len(entries) - 1))
        return future

    async def end_offsets(self, topic: str) -> dict[int, int] | None:
        if not any(t == topic for t, _ in self.log):
            return None
        return {p: len(self.log.get((topic, p), [])) for p in range(PARTITIONS)}

    def lose_everything(self) -> None:
        self.log.clear()


async def write_events(schema: MessagingSchema, subjects: list[str]) -> list[str]:
    sessions = session_factory(schema.engine)
    ids = []
    for number, subject in enumerate(subjects):
        uow = SqlUnitOfWork(
            sessions,
            outbox_table=schema.outbox,
            processed_events_table=schema.processed_events,
            service="test",
            district="370812",
        )
        async with uow:
            event = await uow.outbox.add(
                report_submitted(report_id=subject, text=f"#{number}"),
                subject=subject,
                sequence=number + 1,
            )
            await uow.commit()
        ids.append(event.id)
    return ids


def relay(
    schema: MessagingSchema,
    producer: FakeProducer,
    batch_size: int = 200,
    metrics: OutboxMetrics | None = None,
) -> OutboxRelay:
    return OutboxRelay(
        schema.engine,
        schema.outbox,
        producer.enqueue,
        service="test",
        metrics=metrics or OutboxMetrics("test", CollectorRegistry()),
        published_offsets=schema.published_offsets,
        end_offsets=producer.end_offsets,
        batch_size=batch_size,
    )


async def unpublished(schema: MessagingSchema) -> int:
    async with schema.engine.connect() as connection:
        count = await connection.scalar(
            sa.select(sa.func.count()).where(schema.outbox.c.published_at.is_(None))
        )
    return int(count or 0)


async def test_events_go_out_in_commit_order_keyed_by_aggregate(schema: MessagingSchema) -> None:
    ids = await write_events(schema, ["a", "b", "a", "c", "a"])
    producer = FakeProducer()
    assert await relay(schema, producer).publish_pending() == 5
    assert [event_id for _, _, event_id in producer.sent] == ids
    assert [key for _, key, _ in producer.sent] == [b"a", b"b", b"a", b"c", b"a"]
    assert {topic for topic, _, _ in producer.sent} == {"gridloop.reports.v1"}
    assert await unpublished(schema) == 0
    assert await relay(schema, producer).publish_pending() == 0


async def test_records_carry_the_structured_mode_content_type_and_no_ce_headers(
    schema: MessagingSchema,
) -> None:
    await write_events(schema, ["a"])
    producer = FakeProducer()
    await relay(schema, producer).publish_pending()
    assert producer.headers == [{"content-type": "application/cloudevents+json"}]


async def test_what_a_broker_lost_is_published_again_in_its_order(
    schema: MessagingSchema,
) -> None:
    ids = await write_events(schema, ["a", "b", "a", "c"])
    broker = FakeProducer()
    metrics = OutboxMetrics("test", CollectorRegistry())
    first = relay(schema, broker, metrics=metrics)
    await first.publish_pending()
    assert await first.check_broker() == 0  # the broker holds everything

    broker.lose_everything()
    assert await first.check_broker() == 4
    assert await unpublished(schema) == 4
    assert metrics.republished.labels(service="test")._value.get() == 4
    assert await first.publish_pending() == 4
    assert [event_id for _, _, event_id in broker.sent] == ids + ids
    assert await first.check_broker() == 0


async def test_a_record_landing_below_what_was_published_reveals_the_loss_at_once(
    schema: MessagingSchema,
) -> None:
    """The broker restarted between two batches and the producer reconnected by itself: the
    next batch goes into the new, empty log before any check. Comparing end offsets later
    could no longer tell (the new batch overwrote what was recorded), so the landing itself
    must reveal the loss."""
    ids = await write_events(schema, ["a", "b", "a", "c"])
    broker = FakeProducer()
    metrics = OutboxMetrics("test", CollectorRegistry())
    live = relay(schema, broker, metrics=metrics)
    await live.publish_pending()
    broker.lose_everything()

    later = await write_events(schema, ["a"])  # lands at offset 0, where "a" had reached 2
    assert await live.publish_pending() == 1
    assert await unpublished(schema) == 5  # everything goes out again, in its order
    assert metrics.broker_losses.labels(service="test")._value.get() == 1
    assert await live.publish_pending() == 5
    assert [event_id for _, _, event_id in broker.sent] == ids + later + ids + later
    assert await live.check_broker() == 0
    assert await live.publish_pending() == 0


async def test_a_new_relay_finds_the_loss_from_what_the_database_recorded(
    schema: MessagingSchema,
) -> None:
    """The service itself restarted after the broker did: the offsets it published up to are
    in its database, not in memory."""
    await write_events(schema, ["a", "b"])
    broker = FakeProducer()
    await relay(schema, broker).publish_pending()
    broker.lose_everything()

    assert await relay(schema, broker).check_broker() == 2


async def test_rows_older_than_the_window_are_not_published_again(
    schema: MessagingSchema,
) -> None:
    await write_events(schema, ["a", "b"])
    async with schema.engine.begin() as connection:
        await connection.execute(
            schema.outbox.update()
            .where(schema.outbox.c.message_key == "a")
            .values(created_at=datetime.now(UTC) - timedelta(days=30))
        )
    broker = FakeProducer()
    windowed = relay(schema, broker)
    await windowed.publish_pending()
    broker.lose_everything()

    assert await windowed.check_broker() == 1


async def test_a_refused_event_and_everything_after_it_are_sent_again(
    schema: MessagingSchema,
) -> None:
    ids = await write_events(schema, ["a", "b", "c", "d"])
    flaky = FakeProducer(refuse={ids[1]})
    with pytest.raises(ConnectionError):
        await relay(schema, flaky).publish_pending()
    assert await unpublished(schema) == 3  # b failed; c and d went out but are not marked

    flaky.refuse.clear()  # the broker takes records again
    sent_before = len(flaky.sent)
    assert await relay(schema, flaky).publish_pending() == 3
    assert [event_id for _, _, event_id in flaky.sent[sent_before:]] == ids[1:]
    assert await unpublished(schema) == 0


async def test_batches_continue_until_the_outbox_is_empty(schema: MessagingSchema) -> None:
    await write_events(schema, [f"s{n}" for n in range(7)])
    producer = FakeProducer()
    small = relay(schema, producer, batch_size=3)
    assert [await small.publish_pending() for _ in range(4)] == [3, 3, 1, 0]


async def test_only_one_relay_per_postgres_database_leads(postgres_url: str) -> None:
    first_engine, second_engine = create_engine(postgres_url), create_engine(postgres_url)
    metadata = sa.MetaData()
    from common.db import messaging_tables

    tables = messaging_tables(metadata)
    first = OutboxRelay(
        first_engine,
        tables.outbox,
        FakeProducer().enqueue,
        service="lead-test",
        metrics=OutboxMetrics("lead-test", CollectorRegistry()),
        published_offsets=tables.published_offsets,
    )
    second = OutboxRelay(
        second_engine,
        tables.outbox,
        FakeProducer().enqueue,
        service="lead-test",
        metrics=OutboxMetrics("lead-test", CollectorRegistry()),
        published_offsets=tables.published_offsets,
    )
    try:
        assert await first._ensure_leadership() is True
        assert await second._ensure_leadership() is False
        await first._drop_leadership()
        assert await second._ensure_leadership() is True
        assert await first._ensure_leadership() is False
    finally:
        await first._drop_leadership()
        await second._drop_leadership()
        await first_engine.dispose()
        await second_engine.dispose()
