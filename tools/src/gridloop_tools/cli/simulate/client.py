"""HTTP access to the four services of a running stack, with retries and error texts."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from gridloop_tools.cli.simulate.config import (
    SimulationConfig,
    SimulationError,
    StackGoneError,
    StackUnavailableError,
)

__all__ = [
    "RETRYABLE_STATUSES",
    "ConnectionGate",
    "StackClient",
    "describe_error",
    "problem_detail",
    "response_json",
    "transport_reason",
]

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
INBOX_PAGE_SIZE = 200
"""The largest page the notification service serves."""


def response_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def problem_detail(body: object) -> str | None:
    """The ``detail`` (else ``title``) of a parsed problem answer, if it has one."""
    if isinstance(body, dict):
        for key in ("detail", "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def describe_error(response: httpx.Response) -> str:
    """``HTTP 422: <problem detail>`` for an error response."""
    detail = problem_detail(response_json(response))
    if detail is None:
        detail = response.text.strip()[:200] or response.reason_phrase
    return f"HTTP {response.status_code}: {detail}"


class ConnectionGate:
    """Backs every request off, with jitter, while the stack refuses connections, and says the
    stack is gone when it has refused them for ``give_up_after`` seconds.

    One gate serves all requests of a run, so a stopped stack costs a few attempts a second in
    all, not a tight loop per rider.
    """

    def __init__(
        self,
        *,
        give_up_after: float = 30.0,
        first_delay: float = 0.2,
        max_delay: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.give_up_after = give_up_after
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._clock = clock
        self.failures = 0
        self.refused_since: float | None = None
        self._resume_at = 0.0

    async def wait(self) -> None:
        delay = self._resume_at - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)

    def refused(self, where: str) -> None:
        now = self._clock()
        if self.refused_since is None:
            self.refused_since = now
        self.failures += 1
        if now - self.refused_since >= self.give_up_after:
            raise StackGoneError(
                f"the stack stopped answering: {where} has refused connections for "
                f"{now - self.refused_since:.0f} s (since {self.failures} attempts); is "
                "`make run` still running?"
            )
        ceiling = min(self.max_delay, self.first_delay * 2 ** min(self.failures - 1, 16))
        self._resume_at = max(self._resume_at, now + random.uniform(ceiling / 2, ceiling))

    def answered(self) -> None:
        self.failures = 0
        self.refused_since = None


class StackClient:
    """The four services behind one client, with bounded concurrency and retries."""

    def __init__(self, config: SimulationConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.client = client
        self.urls = config.service_urls()
        # Submissions and polls are bounded separately, so a burst of submissions never
        # delays the inbox polls that time the loop (and the reverse).
        self.submit_slots = asyncio.Semaphore(config.concurrency)
        self.poll_slots = asyncio.Semaphore(config.concurrency)
        self.poll_failures: Counter[str] = Counter()
        self.gate = ConnectionGate(
            give_up_after=config.stack_gone_after, first_delay=config.retry_backoff
        )

    async def send(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        retries: int | None = None,
        submission: bool = False,
    ) -> tuple[httpx.Response, float]:
        """Send with retries; returns the response and when the first attempt started.

        Raises the last :class:`httpx.TransportError` once the retries are used up.
        """
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        attempts = 1 + (self.config.max_retries if retries is None else retries)
        started = 0.0
        for attempt in range(attempts):
            last = attempt == attempts - 1
            response: httpx.Response | None = None
            await self.gate.wait()
            async with self.submit_slots if submission else self.poll_slots:
                if attempt == 0:
                    started = time.perf_counter()
                try:
                    response = await self.client.request(
                        method, url, headers=all_headers, json=json_body
                    )
                except httpx.UnsupportedProtocol:
                    raise
                except httpx.TransportError as error:
                    if isinstance(error, httpx.ConnectError):
                        self.gate.refused(url)
                    if last:
                        raise
                else:
                    self.gate.answered()
            if response is not None and (response.status_code not in RETRYABLE_STATUSES or last):
                return response, started
            await asyncio.sleep(self.config.retry_backoff * 2**attempt * (0.5 + random.random()))
        raise AssertionError("unreachable")  # pragma: no cover

    async def check(self) -> None:
        """Fail fast, with a clear message, when a service does not answer."""

        async def probe(base: str) -> httpx.Response | str:
            try:
                response, _ = await self.send("GET", f"{base}/healthz", retries=1)
            except httpx.TransportError as error:
                return transport_reason(error)
            return response

        names = list(self.urls)
        results = await asyncio.gather(*(probe(self.urls[name]) for name in names))
        unreachable = {
            name: (self.urls[name], result)
            for name, result in zip(names, results, strict=True)
            if isinstance(result, str)
        }
        if unreachable:
            raise StackUnavailableError(unreachable)
        for name, result in zip(names, results, strict=True):
            if isinstance(result, httpx.Response) and result.status_code >= 500:
                raise SimulationError(
                    f"the {name} service at {self.urls[name]} is not healthy: "
                    f"{describe_error(result)}"
                )

    async def balance(self, rider_id: str, token: str) -> int | None:
        url = f"{self.urls['ledger']}/v1/accounts/{rider_id}/balance"
        try:
            response, _ = await self.send("GET", url, token=token)
        except httpx.TransportError as error:
            self.poll_failures[f"balance: {transport_reason(error)}"] += 1
            return None
        if response.status_code == 404:
            return 0  # no account yet: the rider has never earned a point
        body = response_json(response)
        if response.status_code != 200 or not isinstance(body, dict):
            self.poll_failures[f"balance: {describe_error(response)}"] += 1
            return None
        value = body.get("balance")
        if isinstance(value, bool) or not isinstance(value, int):
            self.poll_failures["balance: response without an integer 'balance'"] += 1
            return None
        return value

    async def balances(self, tokens: Mapping[str, str]) -> dict[str, int | None]:
        riders = list(tokens)
        values = await asyncio.gather(*(self.balance(rider, tokens[rider]) for rider in riders))
        return dict(zip(riders, values, strict=True))

    async def settled_balances(self, tokens: Mapping[str, str]) -> dict[str, int | None]:
        """Balances once two reads in a row agree (the ledger may still be catching up)."""
        current = await self.balances(tokens)
        deadline = time.perf_counter() + self.config.balance_settle_seconds
        while time.perf_counter() < deadline:
            await asyncio.sleep(self.config.balance_settle_interval)
            again = await self.balances(tokens)
            if again == current:
                break
            current = again
        return current

    async def inbox(self, rider_id: str, token: str) -> tuple[list[dict[str, Any]], float] | None:
        """Every message in a rider's inbox, page by page along ``next_cursor``, and when the
        first (newest) page came back; None when a page could not be read."""
        url = f"{self.urls['notification']}/v1/inbox/{rider_id}?limit={INBOX_PAGE_SIZE}"
        items: list[dict[str, Any]] = []
        seen_at: float | None = None
        cursor: str | None = None
        while True:
            # A cursor is URL-safe base64: it goes into the query as it is.
            page_url = f"{url}&cursor={cursor}" if cursor else url
            try:
                response, _ = await self.send("GET", page_url, token=token, retries=0)
            except httpx.TransportError as error:
                self.poll_failures[f"inbox: {transport_reason(error)}"] += 1
                return None
            seen_at = seen_at or time.perf_counter()
            body = response_json(response)
            if response.status_code != 200 or not isinstance(body, dict):
                self.poll_failures[f"inbox: {describe_error(response)}"] += 1
                return None
            page = body.get("items")
            if not isinstance(page, list):
                self.poll_failures["inbox: response without an 'items' list"] += 1
                return None
            items += [item for item in page if isinstance(item, dict)]
            cursor = body.get("next_cursor")
            if not isinstance(cursor, str) or not cursor:
                return items, seen_at

    async def report(self, report_id: str, token: str) -> dict[str, Any] | None:
        url = f"{self.urls['reporting']}/v1/reports/{report_id}"
        try:
            response, _ = await self.send("GET", url, token=token, retries=0)
        except httpx.TransportError as error:
            self.poll_failures[f"report status: {transport_reason(error)}"] += 1
            return None
        body = response_json(response)
        if response.status_code != 200 or not isinstance(body, dict):
            self.poll_failures[f"report status: {describe_error(response)}"] += 1
            return None
        return body


def transport_reason(error: httpx.TransportError) -> str:
    if isinstance(error, httpx.ConnectError):
        return "connection refused or host unreachable"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    return type(error).__name__
