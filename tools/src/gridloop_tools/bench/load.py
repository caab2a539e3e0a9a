"""Submitting the planned reports to reporting's ``POST /v1/reports``, closed or open loop.

Closed loop: ``concurrency`` riders, each submitting a report and waiting until its loop has
closed (``until_closed``) before submitting the next, so ``concurrency`` loops are in flight
and the system's throughput sets the pace. Open loop: submission *i* is due at
``start + i / rate`` whatever happened to the others, with at most ``connections`` requests
on the wire; its times count from when it was due, so a backlog on the client side shows in
the figures instead of hiding (no coordinated omission).

A submission whose connection failed (refused, reset, closed before the answer) is sent again
with the same ``Idempotency-Key`` — reporting then answers with the report it stored, if it
had — up to ``attempts`` times; any answer other than 201 counts as failed, with the answer.

The client is aiohttp: it shares the machine's cores with the stack it measures, and a request
costs it a small fraction of the CPU httpx's pool spends with 32 or more connections open.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp
import orjson

from common.tokens import issue_token
from gridloop_tools.cli.simulate.client import problem_detail
from gridloop_tools.cli.simulate.planning import PlannedReport

__all__ = ["KEEPALIVE_SECONDS", "LoadDriver", "Submitted", "rider_tokens"]

KEEPALIVE_SECONDS = 2.0


@dataclass
class Submitted:
    planned: PlannedReport
    due: float
    """``perf_counter()`` the submission was due (open loop) or started (closed loop)."""
    idempotency_key: str = field(default_factory=lambda: str(uuid.uuid4()))
    answered: float | None = None
    report_id: str | None = None
    error: str | None = None
    attempts: int = 0

    @property
    def submit_seconds(self) -> float | None:
        return None if self.answered is None else self.answered - self.due


def rider_tokens(secret: str, riders: Mapping[str, str]) -> dict[str, str]:
    """A rider token per rider (rider → home district), covering their home district."""
    return {
        rider: issue_token(
            secret, role="rider", subject=rider, district=district, ttl_seconds=86_400
        )
        for rider, district in riders.items()
    }


@dataclass
class LoadDriver:
    urls: Sequence[str]
    """The base URLs of the reporting replicas; submissions go to each in turn, as behind a
    round-robin load balancer."""
    tokens: Mapping[str, str]
    concurrency: int = 32
    rate: float = 0.0
    connections: int = 64
    until_closed: Callable[[str], Awaitable[bool]] | None = None
    """Closed loop: returns once the loop of the report with this id has closed (True) or
    will not (False: nothing more is submitted); without it a closed-loop rider goes on as
    soon as reporting answered."""
    timeout: float = 30.0
    """Seconds an answer may keep the client waiting once the request is sent."""
    attempts: int = 3
    submitted: list[Submitted] = field(default_factory=list)
    """Every submission so far, in the order they started (read while the load runs)."""

    @property
    def retries(self) -> int:
        return sum(max(0, s.attempts - 1) for s in self.submitted)

    async def run(self, reports: Sequence[PlannedReport]) -> list[Submitted]:
        """Submit ``reports``; returns once each is answered (or failed) and, closed loop,
        its loop closed."""
        limit = self.connections if self.rate > 0 else self.concurrency
        first = len(self.submitted)
        async with aiohttp.ClientSession(
            # No bound on waiting for a free connection: in an open loop that wait is the
            # client-side backlog, which shows as latency instead of failing the submission.
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5.0, sock_read=self.timeout),
            connector=aiohttp.TCPConnector(
                limit=limit,
                # Well below the services' keep-alive (75 s; a stack of an older release: 5 s):
                # an idle connection is never reused just as the server closes it.
                keepalive_timeout=KEEPALIVE_SECONDS,
            ),
            json_serialize=lambda value: orjson.dumps(value).decode(),
        ) as client:
            if self.rate > 0:
                await self._open_loop(client, reports)
            else:
                await self._closed_loop(client, reports)
        return self.submitted[first:]

    async def _closed_loop(
        self, client: aiohttp.ClientSession, reports: Sequence[PlannedReport]
    ) -> None:
        queue = list(reversed(reports))

        async def rider() -> None:
            while queue:
                submission = Submitted(queue.pop(), time.perf_counter())
                self.submitted.append(submission)
                await self._submit(client, submission)
                if submission.report_id is None or self.until_closed is None:
                    continue
                if not await self.until_closed(submission.report_id):
                    queue.clear()

        await asyncio.gather(*(rider() for _ in range(min(self.concurrency, len(reports)))))

    async def _open_loop(
        self, client: aiohttp.ClientSession, reports: Sequence[PlannedReport]
    ) -> None:
        started = time.perf_counter()
        tasks: list[asyncio.Task[None]] = []
        for index, planned in enumerate(reports):
            due = started + index / self.rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            submission = Submitted(planned, due)
            self.submitted.append(submission)
            tasks.append(asyncio.create_task(self._submit(client, submission)))
        await asyncio.gather(*tasks)

    async def _submit(self, client: aiohttp.ClientSession, submission: Submitted) -> None:
        planned = submission.planned
        headers = {
            "Authorization": f"Bearer {self.tokens[planned.rider_id]}",
            "Idempotency-Key": submission.idempotency_key,
        }
        url = self.urls[planned.index % len(self.urls)]
        while True:
            submission.attempts += 1
            try:
                async with client.post(
                    f"{url}/v1/reports", json=planned.body(), headers=headers
                ) as response:
                    status, body = response.status, await response.read()
                break
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as error:
                if submission.attempts >= self.attempts:
                    submission.error = _described(error)
                    return
            except (aiohttp.ClientError, TimeoutError) as error:
                submission.error = _described(error)
                return
        submission.answered = time.perf_counter()
        answer = _json(body)
        if status != 201:
            submission.error = f"HTTP {status}: {_problem(answer, body)}"
            return
        report_id = answer.get("id") if isinstance(answer, dict) else None
        if report_id is None:
            submission.error = "HTTP 201 without a report id in the body"
            return
        submission.report_id = str(report_id)


def _described(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".rstrip(": ")


def _json(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _problem(answer: object, body: bytes) -> str:
    """The problem's detail (or title) in an error answer, else the start of its body."""
    return problem_detail(answer) or body.decode(errors="replace").strip()[:200] or "no body"
