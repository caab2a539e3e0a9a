"""The wired messaging and database parts of one service process: engine, broker, outbox
relay, consumers and readiness checks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.contracts.topics import Topic
from common.db import MessagingTables, create_engine, ping, session_factory
from common.messaging.consumer import EventConsumer
from common.messaging.kafka import LogEnds, create_broker, enqueuer_for, publisher_for, subscribe
from common.messaging.relay import OutboxRelay
from common.messaging.unit_of_work import SqlUnitOfWork
from common.metrics import ServiceMetrics
from common.service.settings import ServiceSettings

SqlUnitOfWorkT = TypeVar("SqlUnitOfWorkT", bound=SqlUnitOfWork)


@dataclass
class ConsumerBinding:
    consumer: EventConsumer[Any]
    topics: tuple[Topic, ...]


@dataclass
class ServiceRuntime:
    """The wired parts of one service process."""

    name: str
    settings: ServiceSettings
    migrations_dir: Path
    messaging: MessagingTables
    engine: AsyncEngine = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    metrics: ServiceMetrics = field(init=False)
    relay: OutboxRelay = field(init=False)
    consumers: list[ConsumerBinding] = field(default_factory=list)
    readiness_checks: dict[str, Callable[[], str]] = field(default_factory=dict)
    """Extra named checks for /readyz; each returns "ok" or what is wrong."""

    def __post_init__(self) -> None:
        self.engine = create_engine(self.settings.database_url)
        self.sessions = session_factory(self.engine)
        self.metrics = ServiceMetrics(self.name)
        self.broker = create_broker(
            self.settings.kafka_bootstrap_servers,
            client_id=self.name,
            credentials=self.settings.kafka_credentials(),
        )
        self.publish = publisher_for(self.broker)
        self.log_ends = LogEnds(
            self.settings.kafka_bootstrap_servers, credentials=self.settings.kafka_credentials()
        )
        self.relay = OutboxRelay(
            self.engine,
            self.messaging.outbox,
            enqueuer_for(self.broker),
            service=self.name,
            metrics=self.metrics.outbox,
            published_offsets=self.messaging.published_offsets,
            end_offsets=self.log_ends,
            idle_interval=self.settings.relay_idle_interval_seconds,
            check_interval=self.settings.relay_check_interval_seconds,
            republish_window=timedelta(hours=self.settings.relay_republish_window_hours),
        )

    def unit_of_work_factory(self, kind: type[SqlUnitOfWorkT]) -> Callable[[], SqlUnitOfWorkT]:
        """Units of work of ``kind`` on this service's database, outbox and processed-event
        records; a commit that added events wakes the relay."""

        def unit_of_work() -> SqlUnitOfWorkT:
            return kind(
                self.sessions,
                outbox_table=self.messaging.outbox,
                processed_events_table=self.messaging.processed_events,
                service=self.name,
                district=self.settings.district,
                on_events_committed=self.relay.wake,
            )

        return unit_of_work

    def add_consumer(self, consumer: EventConsumer[Any], *topics: Topic) -> None:
        if self.settings.consumer_group_suffix:
            consumer.name = f"{consumer.name}-{self.settings.consumer_group_suffix}"
            self.metrics.consumers.prepare(consumer.name, list(consumer.handlers))
        self.consumers.append(ConsumerBinding(consumer, topics))
        subscribe(self.broker, consumer, topics)

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(ping(self.engine), timeout=3)
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"unreachable: {type(error).__name__}"
        try:
            reachable = await asyncio.wait_for(self.broker.ping(timeout=3), timeout=4)
            checks["broker"] = "ok" if reachable else "unreachable"
        except Exception as error:
            checks["broker"] = f"unreachable: {type(error).__name__}"
        for name, check in self.readiness_checks.items():
            checks[name] = check()
        return checks
