"""The four services as real processes against a real Kafka-protocol broker and real
databases, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from shapely.geometry import shape

from common.auth import DEVELOPMENT_SECRET, issue_token
from gridloop_tools.chaos.topics import metric_sum, read_topics
from gridloop_tools.embedded_broker import free_port
from gridloop_tools.stack import SERVICES, Stack
from gridloop_tools.testing.infrastructure import (
    kafka_bootstrap_servers,
    postgres_server,
    temporary_postgres_database,
)

DISTRICT = "370812"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One stack per database backend, each with its own broker (unless the environment
    names one), so the two runs never see each other's events."""
    backend: str = request.param
    data_dir = tmp_path_factory.mktemp(f"stack-{backend}")
    with ExitStack() as resources_:
        bootstrap_servers = resources_.enter_context(kafka_bootstrap_servers())
        urls: dict[str, str] = {}
        if backend == "postgres":
            server = resources_.enter_context(postgres_server())
            for name in SERVICES:
                urls[name] = resources_.enter_context(
                    temporary_postgres_database(server, prefix=f"gridloop_it_{name}")
                )
        running = Stack(
            data_dir=data_dir,
            database_urls=urls,
            kafka_bootstrap_servers=bootstrap_servers,
            ports={name: free_port() for name in SERVICES},
        )
        try:
            running.start(timeout=120)
            yield running
        finally:
            running.stop()


class Rider:
    """A rider using the HTTP APIs, as the app would."""

    def __init__(
        self, stack: Stack, rider_id: str | None = None, *, district: str = DISTRICT
    ) -> None:
        self.stack = stack
        self.id = rider_id or f"it-rider-{uuid.uuid4().hex[:10]}"
        token = issue_token(DEVELOPMENT_SECRET, role="rider", subject=self.id, district=district)
        self.client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=15)

    def submit(self, category: str, lat: float, lon: float, text: str = "楼道杂物堆放") -> str:
        response = self.client.post(
            f"{self.stack.url('reporting')}/v1/reports",
            json={"category": category, "lat": lat, "lon": lon, "text": text},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 201, response.text
        report_id: str = response.json()["id"]
        return report_id

    def ask(self, report_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """Rate or reopen the report's closed work order (accepted for dispatch: 202)."""
        response = self.client.post(
            f"{self.stack.url('reporting')}/v1/reports/{report_id}/{action}",
            json=body,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 202, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def report(self, report_id: str) -> dict[str, Any]:
        response = self.client.get(f"{self.stack.url('reporting')}/v1/reports/{report_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def balance(self) -> int:
        response = self.client.get(f"{self.stack.url('ledger')}/v1/accounts/{self.id}/balance")
        assert response.status_code == 200, response.text
        return int(response.json()["balance"])

    def transfers(self) -> list[dict[str, Any]]:
        return self._every_page(f"{self.stack.url('ledger')}/v1/accounts/{self.id}/transfers")

    def inbox(self) -> list[dict[str, Any]]:
        return self._every_page(f"{self.stack.url('notification')}/v1/inbox/{self.id}")

    def _every_page(self, url: str) -> list[dict[str, Any]]:
        """Every item of a cursor-paged list, newest first."""
        items: list[dict[str, Any]] = []
        params: dict[str, str | int] = {"limit": 200}
        while True:
            response = self.client.get(url, params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            items += page["items"]
            if page["next_cursor"] is None:
                return items
            params = {"limit": 200, "cursor": page["next_cursor"]}


def eventually(check: Callable[[], Any], *, timeout: float = 60.0, interval: float = 0.3) -> Any:
    """Poll until ``check`` returns a truthy value (or stops raising AssertionError)."""
    deadline = time.monotonic() + timeout
    last_error: AssertionError | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except AssertionError as error:
            last_error = error
        time.sleep(interval)
    if last_error:
        raise last_error
    raise AssertionError(f"condition not met within {timeout}s")


def metric_value(stack: Stack, service: str, name: str, **labels: str) -> float:
    return metric_sum(httpx.get(f"{stack.url(service)}/metrics", timeout=10).text, name, **labels)


@pytest.fixture(scope="session")
def district_points() -> dict[str, tuple[float, float]]:
    """A point well inside a demo grid, and one far outside the district."""
    (inside,) = points_in_grids(DISTRICT, slice(100, 101))
    return {"inside": inside, "outside": (36.9, 118.2)}


def points_in_grids(district: str, features: slice) -> list[tuple[float, float]]:
    """A point well inside each of the district's demo grids in ``features``."""
    document = json.loads(
        (resources.files("dispatch.demo_data") / district / "grids.geojson").read_text(
            encoding="utf-8"
        )
    )
    points = [shape(f["geometry"]).representative_point() for f in document["features"][features]]
    return [(point.y, point.x) for point in points]


@pytest.fixture(scope="session")
def grid_points() -> list[tuple[float, float]]:
    """A point inside each of 30 demo grids: reports far enough apart (grids, not metres) that
    dispatch files each as its own work order instead of merging it into another (并单)."""
    return points_in_grids(DISTRICT, slice(101, 131))


def read_topic(bootstrap: str, topic: str, *, timeout: float = 10.0) -> list[Any]:
    """Every record currently on ``topic``, read without a consumer group."""
    return asyncio.run(read_topics(bootstrap, [topic], idle=timeout))


INJECTED_HEADER = "gridloop-test-injected"
"""Marks a record a test published by hand (a poison message, a copy of an event without its
headers): the services must cope with it, but it is not one of theirs to vouch for."""


def publish_raw(
    bootstrap: str,
    topic: str,
    key: bytes,
    value: bytes,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    marked = [*(headers or []), (INJECTED_HEADER, b"1")]

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, value=value, key=key, headers=marked)
        finally:
            await producer.stop()

    asyncio.run(send())


@pytest.fixture()
def rider_factory(stack: Stack) -> Callable[[], Rider]:
    return lambda: Rider(stack)


__all__ = [
    "INJECTED_HEADER",
    "Path",
    "Rider",
    "eventually",
    "metric_value",
    "points_in_grids",
    "publish_raw",
    "read_topic",
]
