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
from common.messaging.consumer import (
    EventConsumer,
    HandlerOutcome,
    IncomingRecord,
    RetryPolicy,
    UnprocessableEvent,
)
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


def record(value: bytes) -> IncomingRecord:
    return IncomingRecord(
        topic="gridloop.reports.v1", partition=2, offset=next(offsets), key=b"k", value=value
    )


class Harness:
    def __init__(
        self,
        schema: MessagingSchema,
        *,
        failures: int = 0,
        failure: Exception | None = None,
        dead_letters: DeadLetters | None = None,
    ) -> None:
        self.failure = failure or RuntimeError("handler bug")
        self.schema = schema
        self.effects: list[str] = []
        self.failures_left = failures
        self.attempts = 0
        self.dead_letters = dead_letters or DeadLetters()
        sessions = session_factory(schema.engine)

        async def handler(event: CloudEvent, uow: SqlUnitOfWork) -> HandlerOutcome:
            self.attempts += 1
            data = ReportSubmitted.model_validate(event.data)
            if data.text == "refuse":
                raise UnprocessableEvent("refused by the domain")
            await uow.session.exec(select(sa.literal(1)))
            if self.failures_left:
                self.failures_left -= 1
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
                source="/t",
                district="370812",
            ),
            handlers={SUBMITTED: handler},
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
