"""Signed webhook POSTs with httpx.

Headers (documented in docs/notifications.md):

- ``X-Gridloop-Delivery``: the delivery id, the same on every retry (deduplicate on it);
- ``X-Gridloop-Timestamp``: Unix seconds when this attempt was signed;
- ``X-Gridloop-Signature``: ``v1=<hex>`` per valid secret, comma-separated, where ``<hex>`` is
  HMAC-SHA256(secret, ``<timestamp>.<body>``); during a rotation two are sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from notification.domain.delivery import SendResult

DELIVERY_HEADER = "X-Gridloop-Delivery"
TIMESTAMP_HEADER = "X-Gridloop-Timestamp"
SIGNATURE_HEADER = "X-Gridloop-Signature"

TRANSIENT_STATUSES = frozenset({408, 425, 429})


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over ``<timestamp>.<body>``, hex."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date; None if absent or
    unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


class WebhookClient:
    def __init__(self, client: httpx.AsyncClient | None = None, timeout: float = 5.0) -> None:
        self._client = client or httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(
        self, url: str, secrets: list[str], delivery_id: str, payload: dict[str, object]
    ) -> SendResult:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            DELIVERY_HEADER: delivery_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: ",".join(f"v1={signature(s, timestamp, body)}" for s in secrets),
        }
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return SendResult.retry("timeout")
        except httpx.HTTPError as error:
            return SendResult.retry(f"{type(error).__name__}: {error}"[:300])
        status = response.status_code
        if 200 <= status < 300:
            return SendResult.sent(status)
        if status >= 500 or status in TRANSIENT_STATUSES:
            return SendResult.retry(
                f"HTTP {status}", status, retry_after_seconds(response.headers.get("Retry-After"))
            )
        return SendResult.refused(f"HTTP {status}", status)
