"""Prometheus metrics of the runtime, one registry per service process, split by concern:
HTTP, the outbox relay and the idempotent consumers. Services register their domain metrics
on the same registry (``ServiceMetrics.registry``).

Names follow the Prometheus conventions (base units, ``_total`` counters, bounded labels);
every series carries a ``service`` label so one dashboard covers the four services.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

CONSUME_OUTCOMES = ("processed", "duplicate", "ignored", "dead_lettered", "stale")


class HttpMetrics:
    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        self.requests = Counter(
            "gridloop_http_requests_total",
            "HTTP requests answered",
            ["service", "method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "gridloop_http_request_duration_seconds",
            "HTTP request duration",
            ["service", "method", "route"],
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(self.service, method, route, str(status)).inc()
        self.duration.labels(self.service, method, route).observe(seconds)


class OutboxMetrics:
    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        self.published = Counter(
            "gridloop_outbox_published_total",
            "Outbox events published",
            ["service"],
            registry=registry,
        )
        self.backlog = Gauge(
            "gridloop_outbox_backlog",
            "Outbox events not yet published",
            ["service"],
            registry=registry,
        )
        self.oldest_age = Gauge(
            "gridloop_outbox_oldest_age_seconds",
            "Age of the oldest unpublished outbox event",
            ["service"],
            registry=registry,
        )
        self.leader = Gauge(
            "gridloop_outbox_relay_leader",
            "1 if this process holds the outbox relay lock",
            ["service"],
            registry=registry,
        )
        self.broker_losses = Counter(
            "gridloop_outbox_broker_losses_total",
            "Times the broker was found to have lost records the relay had published",
            ["service"],
            registry=registry,
        )
        self.republished = Counter(
            "gridloop_outbox_republished_total",
            "Outbox rows marked for publishing again because the broker lost them",
            ["service"],
            registry=registry,
        )
        for gauge in (self.backlog, self.oldest_age, self.leader):
            gauge.labels(service=service).set(0)
        for counter in (self.published, self.broker_losses, self.republished):
            counter.labels(service=service)

    def count_published(self, rows: int) -> None:
        self.published.labels(service=self.service).inc(rows)

    def count_broker_loss(self, republished_rows: int) -> None:
        self.broker_losses.labels(service=self.service).inc()
        self.republished.labels(service=self.service).inc(republished_rows)

    def set_backlog(self, rows: int, oldest_age_seconds: float) -> None:
        self.backlog.labels(service=self.service).set(rows)
        self.oldest_age.labels(service=self.service).set(oldest_age_seconds)

    def set_leader(self, leading: bool) -> None:
        self.leader.labels(service=self.service).set(1 if leading else 0)


class ConsumerMetrics:
    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        self.events_consumed = Counter(
            "gridloop_events_consumed_total",
            "Events taken from a topic, by outcome",
            ["service", "consumer", "event_type", "outcome"],
            registry=registry,
        )
        self.event_duration = Histogram(
            "gridloop_event_handling_duration_seconds",
            "Time to handle one batch of events, retries included",
            ["service", "consumer"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "gridloop_dead_letters_total",
            "Messages sent to the dead-letter topic",
            ["service", "consumer", "reason"],
            registry=registry,
        )
        self.handling_retries = Counter(
            "gridloop_event_handling_retries_total",
            "Transient failures retried while handling an event",
            ["service", "consumer"],
            registry=registry,
        )
        self._consumed: dict[tuple[str, str, str], Counter] = {}
        self.waiting = Gauge(
            "gridloop_consumer_waiting_for_infrastructure",
            "1 while a consumer holds its partition waiting for an unreachable database",
            ["service", "consumer"],
            registry=registry,
        )

    def prepare(self, consumer: str, event_types: list[str]) -> None:
        """Export zeroes for the series we know will exist, so dashboards have no gaps."""
        for event_type in event_types:
            for outcome in CONSUME_OUTCOMES:
                self.events_consumed.labels(self.service, consumer, event_type, outcome)
        self.handling_retries.labels(self.service, consumer)
        self.waiting.labels(self.service, consumer).set(0)

    def count(self, consumer: str, event_type: str, outcome: str) -> None:
        key = (consumer, event_type, outcome)
        counter = self._consumed.get(key)
        if counter is None:  # labels() validates and locks on every call: once per series
            counter = self._consumed[key] = self.events_consumed.labels(self.service, *key)
        counter.inc()

    def observe_duration(self, consumer: str, seconds: float) -> None:
        self.event_duration.labels(self.service, consumer).observe(seconds)

    def count_dead_letter(self, consumer: str, reason: str) -> None:
        self.dead_letters.labels(self.service, consumer, reason).inc()

    def set_waiting(self, consumer: str, waiting: bool) -> None:
        self.waiting.labels(self.service, consumer).set(1 if waiting else 0)

    def count_retry(self, consumer: str) -> None:
        self.handling_retries.labels(self.service, consumer).inc()


@dataclass
class ServiceMetrics:
    """The process's registry and the runtime's metric families on it."""

    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.http = HttpMetrics(self.service, self.registry)
        self.outbox = OutboxMetrics(self.service, self.registry)
        self.consumers = ConsumerMetrics(self.service, self.registry)
