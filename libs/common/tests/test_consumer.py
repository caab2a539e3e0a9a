"""The idempotent consumer against real databases, with a recording dead-letter sink."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from sqlmodel import select

from common.contracts.envelope import CloudEvent
from common.contracts.events import ReportSubmitted
from common.db import session_factory
from common.messaging.consumer import EventConsumer, IncomingRecord, RetryPolicy, handles
from common.messaging.ports import EventMeta, HandlerOutcome, UnprocessableEvent
from common.messaging.unit_of_work import SqlUnitOfWork
from common.metrics import ConsumerMetrics
from gridloop_tools.testing.builders import as_event, report_submitted
from gridloop_tools.testing.infrastructure import MessagingSchema

SUBMITTED = ReportSubmitted.event_type
offsets = itertools.count()


class DeadLetters:
    def __init__(self, fail: bool = False) -> None:
        self.records: list[tuple[str, bytes, bytes, dict[str, str]]] = []
        self.fail = fail

    async def __call__(self, topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        if self.fail:
            raise ConnectionError("broker unavailable")
        self.records.append((topic, key, value, headers))


def submitted(report_id: str = "rep-1", event_id: str | None = None) -> CloudEvent:
    return as_event(report_submitted(report_id=report_id), id_=event_id)


def record(value: bytes, key: bytes = b"k") -> IncomingRecord:
    return IncomingRecord(
        topic="gridloop.reports.v1", partition=2, offset=next(offsets), key=key, value=value
    )


class Harness:
    def __init__(
        self,
        schema: MessagingSchema,
        *,
        failures: int = 0,
        failure: Exception | None = None,
        failing: dict[str, int] | None = None,
        dead_letters: DeadLetters | None = None,
    ) -> None:
        self.failing = dict(failing or {})
        """report id -> how many more times its handler fails"""
        self.failure = failure or RuntimeError("handler bug")
        self.seen: list[str] = []
        self.schema = schema
        self.effects: list[str] = []
        self.failures_left = failures
        self.attempts = 0
        self.dead_letters = dead_letters or DeadLetters()
        sessions = session_factory(schema.engine)

        async def handler(
            data: ReportSubmitted, meta: EventMeta, uow: SqlUnitOfWork
        ) -> HandlerOutcome:
            self.attempts += 1
            self.seen.append(data.report_id)
            if data.text == "refuse":
                raise UnprocessableEvent("refused by the domain")
            await uow.session.exec(select(sa.literal(1)))
            if self.failures_left:
                self.failures_left -= 1
                raise self.failure
            if self.failing.get(data.report_id):
                self.failing[data.report_id] -= 1
                raise self.failure
            uow.after_commit(lambda: self.effects.append(data.report_id))
            return "processed"

        self.consumer = EventConsumer(
            name="test",
            service="test",
            unit_of_work=lambda: SqlUnitOfWork(
                sessions,
                outbox_table=schema.outbox,
                processed_events_table=schema.processed_events,
                service="test",
                district="370812",
            ),
            handlers=dict([handles(ReportSubmitted, handler)]),
            dead_letter=self.dead_letters,
            metrics=ConsumerMetrics("test", CollectorRegistry()),
            retry=RetryPolicy(attempts=3, first_delay=0.01, max_delay=0.02),
        )

    async def processed_event_rows(self) -> int:
        async with self.schema.engine.connect() as connection:
            return int(
                await connection.scalar(
                    sa.select(sa.func.count()).select_from(self.schema.processed_events)
                )
                or 0
            )


async def test_an_event_delivered_twice_takes_effect_once(schema: MessagingSchema) -> None:
    harness = Harness(schema)
    event = submitted()
    await harness.consumer.handle(record(event.to_bytes()))
    await harness.consumer.handle(record(event.to_bytes()))
    assert harness.effects == ["rep-1"]
    assert await harness.processed_event_rows() == 1


async def test_transient_failures_are_retried_and_leave_no_trace(schema: MessagingSchema) -> None:
    harness = Harness(schema, failures=2)
    await harness.consumer.handle(record(submitted().to_bytes()))
    assert harness.attempts == 3
    assert harness.effects == ["rep-1"]
    assert await harness.processed_event_rows() == 1
    assert harness.dead_letters.records == []


async def test_a_message_that_keeps_failing_is_dead_lettered_with_its_origin(
    schema: MessagingSchema,
) -> None:
    harness = Harness(schema, failures=10)
    message = record(submitted().to_bytes())
    await harness.consumer.handle(message)
    assert harness.attempts == 3
    assert harness.effects == []
    assert await harness.processed_event_rows() == 0  # a later replay may still succeed
    [(topic, key, value, headers)] = harness.dead_letters.records
    assert (topic, key, value) == ("gridloop.deadletter.v1", b"k", message.value)
    assert headers["gridloop-dlq-reason"] == "retries_exhausted"
    assert headers["gridloop-dlq-original-topic"] == "gridloop.reports.v1"
    assert headers["gridloop-dlq-original-partition"] == "2"
    assert headers["gridloop-dlq-original-offset"] == str(message.offset)
    assert "handler bug" in headers["gridloop-dlq-error"]


async def test_an_unreachable_database_is_waited_for_and_never_dead_letters(
    schema: MessagingSchema,
) -> None:
    """Ten failures to reach the database, more than the three tries an event has: the
    consumer keeps its partition waiting, then applies the event once."""
    harness = Harness(schema, failures=10, failure=ConnectionError("database unreachable"))
    harness.consumer.retry = RetryPolicy(
        attempts=3, first_delay=0.001, max_delay=0.002, unavailable_max_delay=0.005
    )
    await harness.consumer.handle(record(submitted().to_bytes()))
    assert harness.attempts == 11
    assert harness.effects == ["rep-1"]
    assert harness.dead_letters.records == []
    assert await harness.processed_event_rows() == 1


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "unparseable"),
        (submitted().model_copy(update={"data": {"report_id": 1}}).to_bytes(), "invalid"),
    ],
)
async def test_unreadable_and_invalid_messages_go_straight_to_dead_letter(
    schema: MessagingSchema, value: bytes, reason: str
) -> None:
    harness = Harness(schema)
    await harness.consumer.handle(record(value))
    assert [h["gridloop-dlq-reason"] for *_, h in harness.dead_letters.records] == [reason]
    await harness.consumer.handle(record(submitted("rep-2").to_bytes()))
    assert harness.effects == ["rep-2"]


async def test_a_domain_refusal_is_dead_lettered_without_retries(
    schema: MessagingSchema,
) -> None:
    harness = Harness(schema)
    refused = submitted().model_copy(update={"data": {**submitted().data, "text": "refuse"}})
    await harness.consumer.handle(record(refused.to_bytes()))
    assert harness.attempts == 1
    assert harness.dead_letters.records[0][3]["gridloop-dlq-reason"] == "invalid"


async def test_other_event_types_are_acknowledged_and_ignored(schema: MessagingSchema) -> None:
    harness = Harness(schema)
    other = submitted().model_copy(update={"type": "gridloop.report.withdrawn"})
    await harness.consumer.handle(record(other.to_bytes()))
    assert harness.attempts == 0
    assert harness.dead_letters.records == []


async def test_if_even_dead_lettering_fails_the_record_is_not_acknowledged(
    schema: MessagingSchema,
) -> None:
    harness = Harness(schema, dead_letters=DeadLetters(fail=True))
    with pytest.raises(ConnectionError):
        await harness.consumer.handle(record(b"{not json"))


# --- batches ----------------------------------------------------------------------------------


def event_record(report_id: str, *, key: bytes | None = None, text: str = "x") -> IncomingRecord:
    event = as_event(report_submitted(report_id=report_id, text=text))
    return record(event.to_bytes(), key=key or report_id.encode())


async def test_a_batch_takes_effect_once_in_arrival_order(schema: MessagingSchema) -> None:
    harness = Harness(schema)
    await harness.consumer.handle_batch([event_record(f"rep-{n}") for n in range(5)])
    assert harness.effects == [f"rep-{n}" for n in range(5)]
    assert harness.attempts == 5  # one transaction, each handler once
    assert await harness.processed_event_rows() == 5


async def test_poison_records_in_a_batch_are_dead_lettered_and_the_rest_commit(
    schema: MessagingSchema,
) -> None:
    harness = Harness(schema)
    bad_data = submitted("rep-x").model_copy(update={"data": {"report_id": 1}})
    batch = [
        event_record("rep-1"),
        record(b"{not json"),
        event_record("rep-2"),
        record(bad_data.to_bytes()),
        event_record("rep-3"),
    ]
    await harness.consumer.handle_batch(batch)
    assert harness.effects == ["rep-1", "rep-2", "rep-3"]
    letters = harness.dead_letters.records
    assert [h["gridloop-dlq-reason"] for *_, h in letters] == ["unparseable", "invalid"]
    assert [h["gridloop-dlq-original-offset"] for *_, h in letters] == [
        str(batch[1].offset),
        str(batch[3].offset),
    ]


async def test_a_failing_event_is_retried_alone_after_the_rest_and_its_key_waits_for_it(
    schema: MessagingSchema,
) -> None:
    """rep-2 fails in the batch and in its savepoint: rep-1 and rep-4 commit together; rep-2
    is retried alone and rep-3, of the same key, is applied only after it — per-key order
    holds."""
    harness = Harness(schema, failing={"rep-2": 2})
    batch = [
        event_record("rep-1", key=b"a"),
        event_record("rep-2", key=b"b"),
        event_record("rep-3", key=b"b"),
        event_record("rep-4", key=b"c"),
    ]
    await harness.consumer.handle_batch(batch)
    assert harness.effects == ["rep-1", "rep-4", "rep-2", "rep-3"]
    assert await harness.processed_event_rows() == 4
    assert harness.dead_letters.records == []


async def test_an_event_that_keeps_failing_in_a_batch_is_dead_lettered_alone(
    schema: MessagingSchema,
) -> None:
    harness = Harness(schema, failing={"rep-2": 100})
    batch = [event_record("rep-1"), event_record("rep-2"), event_record("rep-3")]
    await harness.consumer.handle_batch(batch)
    assert harness.effects == ["rep-1", "rep-3"]
    [(_, _, value, headers)] = harness.dead_letters.records
    assert value == batch[1].value
    assert headers["gridloop-dlq-reason"] == "retries_exhausted"
    assert await harness.processed_event_rows() == 2  # a replay may still apply rep-2


async def test_an_event_the_domain_refuses_in_a_batch_is_dead_lettered_without_retries(
    schema: MessagingSchema,
) -> None:
    harness = Harness(schema)
    batch = [event_record("rep-1"), event_record("rep-2", text="refuse"), event_record("rep-3")]
    await harness.consumer.handle_batch(batch)
    assert harness.effects == ["rep-1", "rep-3"]
    assert harness.seen.count("rep-2") == 2  # the batch, then its savepoint: no retry loop
    assert [h["gridloop-dlq-reason"] for *_, h in harness.dead_letters.records] == ["invalid"]


async def test_a_batch_redelivered_after_its_commit_changes_nothing(
    schema: MessagingSchema,
) -> None:
    """The process died after the database commit, before the offsets were committed: the
    broker hands the same records again."""
    harness = Harness(schema)
    batch = [event_record(f"rep-{n}") for n in range(4)]
    await harness.consumer.handle_batch(batch)
    await harness.consumer.handle_batch(batch)
    assert harness.effects == [f"rep-{n}" for n in range(4)]
    assert harness.attempts == 4
    duplicates = harness.consumer.metrics.events_consumed.labels(
        "test", "test", SUBMITTED, "duplicate"
    )
    assert duplicates._value.get() == 4


async def test_the_same_event_twice_in_one_batch_takes_effect_once(
    schema: MessagingSchema,
) -> None:
    harness = Harness(schema)
    same = event_record("rep-1")
    await harness.consumer.handle_batch([same, event_record("rep-2"), same])
    assert harness.effects == ["rep-1", "rep-2"]


async def test_a_batch_waits_for_an_unreachable_database_and_then_commits_once(
    schema: MessagingSchema,
) -> None:
    harness = Harness(schema, failures=4, failure=ConnectionError("database unreachable"))
    harness.consumer.retry = RetryPolicy(
        attempts=2, first_delay=0.001, max_delay=0.002, unavailable_max_delay=0.005
    )
    await harness.consumer.handle_batch([event_record(f"rep-{n}") for n in range(3)])
    assert harness.effects == ["rep-0", "rep-1", "rep-2"]
    assert harness.dead_letters.records == []
