"""Pytest fixtures for one service's tests: its real FastAPI app on a real SQLite file, and its
real idempotent consumer fed directly (no broker: ``httpx.ASGITransport`` does not run the
lifespan, so neither the broker nor the relay starts; the dead-letter publisher is a list).

A service's ``tests/conftest.py`` defines ``service_under_test`` and re-exports the fixtures::

    from gridloop_tools.testing.service_fixtures import *  # noqa: F403

    @pytest.fixture(scope="session")
    def service_under_test() -> ServiceUnderTest:
        return ServiceUnderTest(bootstrap, LedgerSettings, Topic.WORKORDERS)
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, TypeVar

import httpx
import pytest
from fastapi import FastAPI

from common.contracts.base import EventData
from common.contracts.envelope import CloudEvent
from common.contracts.topics import Topic
from common.db import upgrade_database
from common.messaging.consumer import EventConsumer, IncomingRecord
from common.paging import SortKey
from common.service.settings import ServiceSettings
from common.tokens import issue_token
from gridloop_tools.testing.builders import DISTRICT, as_event

PROBLEM_CONTENT_TYPE = "application/problem+json"

DeadLetter = tuple[str, bytes, bytes, dict[str, str]]
Auth = Callable[..., dict[str, str]]
ItemT = TypeVar("ItemT")


class Deliver(Protocol):
    def __call__(
        self, message: CloudEvent | bytes, topic: Topic | None = None
    ) -> Awaitable[IncomingRecord]: ...


@dataclass(frozen=True)
class ServiceUnderTest:
    bootstrap: ModuleType
    """The service's bootstrap module: ``create_app`` and ``MIGRATIONS``."""
    settings: type[ServiceSettings]
    topic: Topic
    """The topic ``deliver`` feeds unless told otherwise."""

    @property
    def name(self) -> str:
        return str(self.bootstrap.SERVICE)


def assert_problem(response: httpx.Response, status: int, *needles: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with ``status``, a title and a non-empty detail that
    contains each of ``needles``, and no stack trace leaked into it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"], body
    for needle in needles:
        assert needle in body["detail"], body
    assert "Traceback" not in response.text
    return body


class CountingBody:
    """A request body streamed in ``chunk``-byte pieces that counts how many the server read,
    to tell a refusal before reading from one after reading everything."""

    def __init__(self, total_bytes: int, chunk: int = 1024) -> None:
        self.chunk = chunk
        self.chunks = -(-total_bytes // chunk)
        self.read = 0

    @property
    def total_bytes(self) -> int:
        return self.chunks * self.chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.read += 1
            yield b" " * self.chunk


class FakeOutbox:
    """Collects ``(data, subject, sequence)`` for handler tests, and each event's district
    when one was named (``districts``, in the same order)."""

    def __init__(self) -> None:
        self.events: list[tuple[EventData, str, int]] = []
        self.districts: list[str | None] = []

    async def add(
        self, data: EventData, *, subject: str, sequence: int, district: str | None = None
    ) -> CloudEvent:
        self.events.append((data, subject, sequence))
        self.districts.append(district)
        return as_event(data, subject=subject, sequence=sequence)


def newest_first_page(
    items: Iterable[ItemT], key: Callable[[ItemT], SortKey], *, after: SortKey | None, limit: int
) -> list[ItemT]:
    """What ``common.db.newest_first`` selects, for fake repositories: ``(at, id)``
    descending, below ``after``, at most ``limit``."""
    ordered = sorted(items, key=key, reverse=True)
    return [item for item in ordered if after is None or key(item) < after][:limit]


class FakeUnitOfWorkBase:
    """The transaction part of a fake unit of work; a service's fake adds repositories."""

    def __init__(self) -> None:
        self.outbox = FakeOutbox()
        self.committed = False
        self.after_commit_callbacks: list[Callable[[], None]] = []

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *args: object) -> None:
        return None

    async def commit(self) -> None:
        self.committed = True
        callbacks, self.after_commit_callbacks = self.after_commit_callbacks, []
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        self.after_commit_callbacks.append(callback)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test, not from whatever the shell exported."""
    for name in ("GRIDLOOP_JWT_SECRET", "GRIDLOOP_DISTRICT", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def migrated_template(
    service_under_test: ServiceUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The service's schema, migrated once per session; every test copies it."""
    path = tmp_path_factory.mktemp(f"{service_under_test.name}-template") / "template.db"
    upgrade_database(f"sqlite+aiosqlite:///{path}", service_under_test.bootstrap.MIGRATIONS)
    return path


@pytest.fixture
def database_path(
    service_under_test: ServiceUnderTest, tmp_path: Path, migrated_template: Path
) -> Path:
    path = tmp_path / f"{service_under_test.name}.db"
    shutil.copyfile(migrated_template, path)
    return path


@pytest.fixture
def build_app(service_under_test: ServiceUnderTest, database_path: Path) -> Callable[[], FastAPI]:
    """Builds the service's app on the test's database, with the settings the environment
    holds when it is called (a test may set ``<PREFIX>…`` variables first)."""

    def build() -> FastAPI:
        settings = service_under_test.settings(
            database_url=f"sqlite+aiosqlite:///{database_path}", migrate_on_start=False
        )
        application: FastAPI = service_under_test.bootstrap.create_app(settings)
        return application

    return build


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` over ASGI (its lifespan is not run: no broker, no relay); the app's
    database engine is disposed when the client closes."""
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http
    finally:
        await app.state.runtime.engine.dispose()


@pytest.fixture
async def app(build_app: Callable[[], FastAPI]) -> AsyncIterator[FastAPI]:
    application = build_app()
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
def consumer(app: FastAPI) -> EventConsumer[Any]:
    found: EventConsumer[Any] = app.state.runtime.consumers[0].consumer
    return found


@pytest.fixture
def dead_letters(consumer: EventConsumer[Any]) -> list[DeadLetter]:
    published: list[DeadLetter] = []

    async def fake_publish(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        published.append((topic, key, value, headers))

    consumer.dead_letter = fake_publish
    return published


@pytest.fixture
def deliver(
    service_under_test: ServiceUnderTest,
    consumer: EventConsumer[Any],
    dead_letters: list[DeadLetter],
) -> Deliver:
    """Feed one record to the service's consumer at the next offset."""
    offsets = itertools.count()

    async def send(message: CloudEvent | bytes, topic: Topic | None = None) -> IncomingRecord:
        value = message.to_bytes() if isinstance(message, CloudEvent) else message
        record = IncomingRecord(
            topic=(topic or service_under_test.topic).value,
            partition=0,
            offset=next(offsets),
            key=b"k",
            value=value,
        )
        await consumer.handle(record)
        return record

    return send


__all__ = [
    "DISTRICT",
    "PROBLEM_CONTENT_TYPE",
    "Auth",
    "CountingBody",
    "DeadLetter",
    "Deliver",
    "FakeOutbox",
    "FakeUnitOfWorkBase",
    "ServiceUnderTest",
    "_isolated_environment",
    "app",
    "assert_problem",
    "auth",
    "build_app",
    "client",
    "consumer",
    "database_path",
    "dead_letters",
    "deliver",
    "migrated_template",
    "newest_first_page",
    "serving",
]
