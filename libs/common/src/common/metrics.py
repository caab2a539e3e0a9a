"""Prometheus metrics shared by the services: one registry per service process.

Names follow the Prometheus conventions (base units, ``_total`` counters, bounded labels);
every series carries a ``service`` label so one dashboard covers the four services.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

CONSUME_OUTCOMES = ("processed", "duplicate", "ignored", "dead_lettered", "stale")


@dataclass
class MessagingMetrics:
    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        labels = ["service"]
        r = self.registry
        self.http_requests = Counter(
            "gridloop_http_requests_total",
            "HTTP requests answered",
            [*labels, "method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "gridloop_http_request_duration_seconds",
            "HTTP request duration",
            [*labels, "method", "route"],
            registry=r,
        )
        self.outbox_published = Counter(
            "gridloop_outbox_published_total", "Outbox events published", labels, registry=r
        )
        self.outbox_backlog = Gauge(
            "gridloop_outbox_backlog", "Outbox events not yet published", labels, registry=r
        )
        self.outbox_oldest_age = Gauge(
            "gridloop_outbox_oldest_age_seconds",
            "Age of the oldest unpublished outbox event",
            labels,
            registry=r,
        )
        self.outbox_leader = Gauge(
            "gridloop_outbox_relay_leader",
            "1 if this process holds the outbox relay lock",
            labels,
            registry=r,
        )
        self.events_consumed = Counter(
            "gridloop_events_consumed_total",
            "Events taken from a topic, by outcome",
            [*labels, "consumer", "event_type", "outcome"],
            registry=r,
        )
        self.event_duration = Histogram(
            "gridloop_event_handling_duration_seconds",
            "Time to handle one event, retries included",
            [*labels, "consumer"],
            registry=r,
        )
        self.dead_letters = Counter(
            "gridloop_dead_letters_total",
            "Messages sent to the dead-letter topic",
            [*labels, "consumer", "reason"],
            registry=r,
        )
        self.handling_retries = Counter(
            "gridloop_event_handling_retries_total",
            "Transient failures retried while handling an event",
            [*labels, "consumer"],
            registry=r,
        )
        for gauge in (self.outbox_backlog, self.outbox_oldest_age, self.outbox_leader):
            gauge.labels(service=self.service).set(0)
        self.outbox_published.labels(service=self.service)

    def prepare_consumer(self, consumer: str, event_types: list[str]) -> None:
        """Export zeroes for the series we know will exist, so dashboards have no gaps."""
        for event_type in event_types:
            for outcome in CONSUME_OUTCOMES:
                self.events_consumed.labels(self.service, consumer, event_type, outcome)
        self.handling_retries.labels(self.service, consumer)
