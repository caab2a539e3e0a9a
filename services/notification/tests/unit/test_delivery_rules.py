"""Pure rules of delivery: backoff with full jitter, quiet-hour windows."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from notification.adapters.webhook import retry_after_seconds, signature
from notification.domain.delivery import RetryPolicy
from notification.domain.preferences import QuietHours

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(hour: int, minute: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("attempts", "ceiling"), [(1, 2.0), (2, 4.0), (3, 8.0), (10, 600.0), (30, 600.0)]
)
def test_the_backoff_ceiling_doubles_up_to_the_cap(attempts: int, ceiling: float) -> None:
    policy = RetryPolicy(max_attempts=40, base_seconds=2.0, cap_seconds=600.0)
    assert policy.delay(attempts, lambda: 1.0) == ceiling
    assert policy.delay(attempts, lambda: 0.0) == 0.0  # full jitter: anywhere from nothing


def test_retry_after_is_a_floor_under_the_jitter() -> None:
    assert RetryPolicy().delay(1, lambda: 0.5, retry_after=30.0) == 30.0


def test_the_policy_gives_up_at_the_last_attempt() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.gives_up(n) for n in (1, 2, 3)] == [False, False, True]


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (local(21, 59), None),
        (local(22, 0), local(7, 0, day=24)),
        (local(23, 30), local(7, 0, day=24)),
        (local(6, 59), local(7, 0)),
        (local(7, 0), None),
        (local(12, 0), None),
    ],
)
def test_quiet_hours_across_midnight(now: datetime, until: datetime | None) -> None:
    assert QuietHours("r", time(22, 0), time(7, 0)).until(now) == until


def test_quiet_hours_within_a_day() -> None:
    quiet = QuietHours("r", time(12, 0), time(14, 0))
    assert quiet.until(local(13, 0)) == local(14, 0)
    assert quiet.until(local(14, 0)) is None


def test_retry_after_reads_seconds_or_a_date() -> None:
    now = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("UTC"))
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Mon, 23 Nov 2026 08:01:00 GMT", now) == 60.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_the_signature_is_hmac_sha256_over_timestamp_and_body() -> None:

    expected = hmac.new(b"key", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert signature("key", "1700000000", b"{}") == expected
