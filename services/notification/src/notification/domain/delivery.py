"""Deliveries beyond the inbox: one row per (event, recipient, channel, template), sent by the
sender apart from the consumer, retried with exponential backoff and full jitter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Audience(StrEnum):
    """The role a recipient hears an event in (a webhook is configured per district and
    audience)."""

    REPORTER = "reporter"
    ASSIGNEE = "assignee"
    SUPERVISOR = "supervisor"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Waiting for its next attempt (``next_attempt_at``)."""
    SENT = "sent"
    FAILED = "failed"
    """Refused for good, or every attempt spent."""
    SUPPRESSED = "suppressed"
    """Not sent: the recipient does not want it, or a newer step made it stale."""


@dataclass(frozen=True)
class SendResult:
    """What one attempt met."""

    ok: bool
    transient: bool = False
    error: str | None = None
    status_code: int | None = None
    retry_after: float | None = None
    """Seconds the receiver asked us to wait (``Retry-After``)."""

    @classmethod
    def sent(cls, status_code: int | None = None) -> SendResult:
        return cls(ok=True, status_code=status_code)

    @classmethod
    def retry(
        cls, error: str, status_code: int | None = None, retry_after: float | None = None
    ) -> SendResult:
        return cls(
            ok=False,
            transient=True,
            error=error,
            status_code=status_code,
            retry_after=retry_after,
        )

    @classmethod
    def refused(cls, error: str, status_code: int | None = None) -> SendResult:
        return cls(ok=False, error=error, status_code=status_code)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: the n-th retry waits a uniformly random time in
    ``[0, min(cap, base * 2**(n-1))]`` — or what ``Retry-After`` asked, if longer."""

    max_attempts: int = 8
    base_seconds: float = 2.0
    cap_seconds: float = 3600.0

    def delay(
        self, attempts: int, random: Callable[[], float], retry_after: float | None = None
    ) -> float:
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(attempts - 1, 0))
        waited = random() * ceiling
        return max(waited, retry_after) if retry_after is not None else waited

    def gives_up(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


@dataclass(frozen=True)
class Delivery:
    id: str
    event_id: str
    recipient_id: str
    audience: str
    district: str
    channel: str
    template: str
    payload: dict[str, Any]
    """What the receiver is sent (title, body, ids)."""
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    report_id: str | None = None
    work_order_id: str | None = None
    last_error: str | None = None
    critical: bool = False
    sequence: int = 0
    """The triggering event's ``sequence`` (the work order's version for order events)."""


@dataclass(frozen=True)
class Webhook:
    """Where a district's messages for one audience are POSTed, and the secrets they are
    signed with (the previous one too until it is retired)."""

    district: str
    audience: str
    url: str
    secret: str
    previous_secret: str | None = None

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.secret, self.previous_secret) if s]


@dataclass(frozen=True)
class Attempt:
    delivery_id: str
    attempt: int
    attempted_at: datetime
    outcome: str
    status_code: int | None
    error: str | None
