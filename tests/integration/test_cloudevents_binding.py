"""Other city systems read our topics with the official CloudEvents SDK and a librdkafka
consumer: every record of every event type must parse as a structured-mode CloudEvent and
validate against its published JSON Schema."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from common.contracts.events import EVENT_MODELS
from common.contracts.topics import Topic
from gridloop_tools.stack import Stack
from tests.integration.conftest import INJECTED_HEADER, Rider, eventually

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts" / "schemas"
EVENT_TOPICS = (
    Topic.REPORTS,
    Topic.WORKORDERS,
    Topic.POINTS,
    Topic.NOTIFICATIONS,
    Topic.DISTRICTS,
)


def _schemas() -> dict[str, dict[str, Any]]:
    found = {}
    for model in EVENT_MODELS:
        name = model.event_type.removeprefix("gridloop.")
        found[model.event_type] = json.loads((CONTRACTS / f"{name}.v1.schema.json").read_text())
    return found


def read_with_librdkafka(bootstrap: str, topic: str) -> list[KafkaMessage]:
    """Every record on ``topic``, read by confluent-kafka (librdkafka) without a group."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"contract-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = sorted(metadata.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        at_end: set[int] = set()
        messages: list[KafkaMessage] = []
        idle = 0
        while len(at_end) < len(partitions) and idle < 20:
            record = consumer.poll(0.5)
            if record is None:
                idle += 1
                continue
            error = record.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    at_end.add(record.partition() or 0)
                    continue
                raise AssertionError(f"librdkafka: {error}")
            headers: dict[str, bytes] = {}
            for name, value in record.headers() or []:  # type: ignore[str-unpack]
                headers[name] = value if isinstance(value, bytes) else (value or "").encode()
            key = record.key()
            messages.append(
                KafkaMessage(
                    headers=headers,
                    key=key.encode() if isinstance(key, str) else key,
                    value=record.value() or b"",
                )
            )
        return messages
    finally:
        consumer.close()


@dataclass(frozen=True)
class ReadEvent:
    type: str
    subject: str
    district: str
    data: Any


def read_with_the_sdk(bootstrap: str, topics: Iterable[Topic] = EVENT_TOPICS) -> list[ReadEvent]:
    """Every record the services published on ``topics``, as another city system reads it
    (librdkafka, then the CloudEvents SDK's Kafka binding), each checked as it is read:
    structured mode without ``ce_`` headers, the key as the subject, the source naming the
    event's district, the value valid against its published schema. Records other tests
    injected by hand are passed over."""
    schemas = _schemas()
    events: list[ReadEvent] = []
    for topic in topics:
        for message in read_with_librdkafka(bootstrap, topic.value):
            if INJECTED_HEADER in message.headers:
                continue  # published by hand by another test, not by a service
            assert not [h for h in message.headers if h.lower().startswith("ce_")], (
                f"a ce_ header beside a structured-mode value on {topic.value}: {message.headers}"
            )
            assert message.headers.get("content-type") == b"application/cloudevents+json"
            event = from_kafka_event(message)
            attributes = event.get_attributes()
            assert attributes["specversion"] == "1.0"
            key = message.key or b""
            assert attributes["subject"] == (key.decode() if isinstance(key, bytes) else key)
            # The source names the event's own district, whichever district a service is in.
            assert attributes["source"].startswith(f"/gridloop/{attributes['district']}/")
            jsonschema.validate(json.loads(message.value), schemas[attributes["type"]])
            events.append(
                ReadEvent(
                    attributes["type"],
                    attributes["subject"],
                    attributes["district"],
                    event.get_data(),
                )
            )
    return events


def test_every_event_type_reads_with_the_cloudevents_sdk_and_validates(
    stack: Stack,
    rider_factory: Callable[[], Rider],
    district_points: dict[str, tuple[float, float]],
) -> None:
    rider = rider_factory()
    filed = rider.submit("0101", *district_points["inside"])
    rejected = rider.submit("0101", *district_points["outside"])
    eventually(lambda: len(rider.inbox()) == 4)  # filed, dispatched, +10 积分, rejected

    events = read_with_the_sdk(stack.bootstrap_servers)
    seen = {event.type for event in events}
    mine = {
        event.type
        for event in events
        if isinstance(event.data, dict) and event.data.get("report_id") in {filed, rejected}
    }
    loop = {
        "gridloop.report.submitted",
        "gridloop.workorder.filed",
        "gridloop.workorder.dispatched",
        "gridloop.report.rejected",
        "gridloop.points.awarded",
        "gridloop.notification.delivered",
    }
    assert loop | {"gridloop.district.catalogue_published"} <= seen, seen
    assert seen <= {model.event_type for model in EVENT_MODELS}, seen
    assert loop <= mine
