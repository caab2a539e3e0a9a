"""The outbox relay against real databases: order, marking, failures, one leader."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from common.db import create_engine, session_factory
from common.messaging.relay import OutboxRelay
from common.messaging.unit_of_work import SqlUnitOfWork
from common.metrics import OutboxMetrics
from gridloop_tools.testing.builders import report_submitted
from gridloop_tools.testing.infrastructure import MessagingSchema


class FakeProducer:
    """Records what the relay hands over; can refuse chosen events."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.sent: list[tuple[str, bytes, str]] = []
        self.refuse = refuse or set()

    async def enqueue(
        self, topic: str, key: bytes, value: bytes, headers: dict[str, str]
    ) -> Awaitable[object]:
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if headers["ce_id"] in self.refuse:
            future.set_exception(ConnectionError("broker unavailable"))
        else:
            self.sent.append((topic, key, headers["ce_id"]))
            future.set_result(None)
        return future


async def write_events(schema: MessagingSchema, subjects: list[str]) -> list[str]:
    sessions = session_factory(schema.engine)
    ids = []
    for number, subject in enumerate(subjects):
        uow = SqlUnitOfWork(
            sessions,
            outbox_table=schema.outbox,
            processed_events_table=schema.processed_events,
            source="/test",
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


def relay(schema: MessagingSchema, producer: FakeProducer, batch_size: int = 200) -> OutboxRelay:
    return OutboxRelay(
        schema.engine,
        schema.outbox,
        producer.enqueue,
        service="test",
        metrics=OutboxMetrics("test", CollectorRegistry()),
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


async def test_a_refused_event_and_everything_after_it_are_sent_again(
    schema: MessagingSchema,
) -> None:
    ids = await write_events(schema, ["a", "b", "c", "d"])
    flaky = FakeProducer(refuse={ids[1]})
    with pytest.raises(ConnectionError):
        await relay(schema, flaky).publish_pending()
    assert await unpublished(schema) == 3  # b failed; c and d went out but are not marked

    healthy = FakeProducer()
    assert await relay(schema, healthy).publish_pending() == 3
    assert [event_id for _, _, event_id in healthy.sent] == ids[1:]
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

    outbox, _ = messaging_tables(metadata)
    first = OutboxRelay(
        first_engine,
        outbox,
        FakeProducer().enqueue,
        service="lead-test",
        metrics=OutboxMetrics("lead-test", CollectorRegistry()),
    )
    second = OutboxRelay(
        second_engine,
        outbox,
        FakeProducer().enqueue,
        service="lead-test",
        metrics=OutboxMetrics("lead-test", CollectorRegistry()),
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
