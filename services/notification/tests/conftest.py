"""Fixtures for the notification service tests.

Service tests run the real FastAPI app against a real SQLite file, migrated once per session
into a template that every test copies. ASGITransport does not run the lifespan, so the broker
and the outbox relay never start; events that normally arrive from Kafka are fed straight into
the service's own :class:`EventConsumer`, whose dead-letter publisher is replaced by a list.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from common.auth import issue_token
from common.contracts.envelope import CloudEvent
from common.contracts.topics import Topic
from common.db import upgrade_database
from common.messaging.consumer import EventConsumer, IncomingRecord
from notification import bootstrap
from notification.config import NotificationSettings

DISTRICT = "370812"

DeadLetter = tuple[str, bytes, bytes, dict[str, str]]
Deliver = Callable[..., Awaitable[IncomingRecord]]
Auth = Callable[..., dict[str, str]]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test, not from whatever the shell exported."""
    for name in ("GRIDLOOP_JWT_SECRET", "GRIDLOOP_DISTRICT", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("notification-template") / "template.db"
    upgrade_database(f"sqlite+aiosqlite:///{path}", bootstrap.MIGRATIONS)
    return path


@pytest.fixture
def database_path(tmp_path: Path, migrated_template: Path) -> Path:
    path = tmp_path / "notification.db"
    shutil.copyfile(migrated_template, path)
    return path


@pytest.fixture
async def app(database_path: Path) -> AsyncIterator[FastAPI]:
    application = bootstrap.create_app(
        NotificationSettings(
            database_url=f"sqlite+aiosqlite:///{database_path}", migrate_on_start=False
        )
    )
    yield application
    await application.state.runtime.engine.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def auth(app: FastAPI) -> Auth:
    """``auth(role="rider", subject="r-1")`` -> an Authorization header."""

    def make(
        *,
        role: str = "rider",
        subject: str = "rider-1",
        district: str = DISTRICT,
        grids: tuple[str, ...] = (),
    ) -> dict[str, str]:
        token = issue_token(
            app.state.jwt_secret, role=role, subject=subject, district=district, grids=grids
        )
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def consumer(app: FastAPI) -> EventConsumer:
    found: EventConsumer = app.state.runtime.consumers[0].consumer
    return found


@pytest.fixture
def dead_letters(consumer: EventConsumer) -> list[DeadLetter]:
    published: list[DeadLetter] = []

    async def fake_publish(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        published.append((topic, key, value, headers))

    consumer.dead_letter = fake_publish
    return published


@pytest.fixture
def deliver(consumer: EventConsumer, dead_letters: list[DeadLetter]) -> Deliver:
    """Feed one record to the consumer at the next offset (work-order topic unless told)."""
    offsets = itertools.count()

    async def send(message: CloudEvent | bytes, topic: Topic = Topic.WORKORDERS) -> IncomingRecord:
        value = message.to_bytes() if isinstance(message, CloudEvent) else message
        record = IncomingRecord(
            topic=topic.value,
            partition=0,
            offset=next(offsets),
            key=b"k",
            value=value,
        )
        await consumer.handle(record)
        return record

    return send
