"""Riders submitting reports over HTTP through every fault, without ever filing one twice.

Each planned report gets its own ``Idempotency-Key`` up front; a submission is retried with
that same key after a connection error, a timeout, any 5xx and 429, with capped, jittered
back-off (honouring ``Retry-After``), so a retry the server had already stored answers with the
original report instead of a second one. What matters afterwards is which submissions were
accepted (201) and under which report id.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from common.tokens import DEVELOPMENT_SECRET, issue_token
from gridloop_tools.cli.simulate.client import describe_error
from gridloop_tools.cli.simulate.geometry import read_grids
from gridloop_tools.cli.simulate.planning import PlannedReport, plan_reports, rider_ids

DISTRICT = "370812"


@dataclass(frozen=True)
class Submission:
    planned: PlannedReport
    idempotency_key: str


@dataclass(frozen=True)
class Accepted:
    submission: Submission
    report_id: str
    attempts: int
    replayed: bool
    """The 201 came from a retry the server had already stored (``Idempotent-Replayed``)."""


@dataclass
class LoadResult:
    accepted: list[Accepted] = field(default_factory=list)
    refused: list[tuple[Submission, str]] = field(default_factory=list)
    """Submissions that ended without a 201, with the last answer."""
    retries: Counter[str] = field(default_factory=Counter)
    """Retried attempts by cause (``HTTP 503``, ``ConnectError`` …)."""
    seconds: float = 0.0

    @property
    def replayed(self) -> int:
        return sum(1 for accepted in self.accepted if accepted.replayed)


REPEAT_RATIO = 0.1
"""The share of reports telling of a problem already reported (merged by dispatch, 并单)."""


def plan_submissions(
    seed: int, *, reports: int, riders: int, outside_ratio: float
) -> list[Submission]:
    """Every report of the run with its rider, body and Idempotency-Key, from the seed."""
    grids, _ = read_grids(None, DISTRICT)
    plan = plan_reports(
        count=reports,
        riders=rider_ids(riders),
        outside_ratio=outside_ratio,
        grids=grids,
        rng=random.Random(seed),
        repeat_ratio=REPEAT_RATIO,
    )
    return [Submission(planned, str(uuid.uuid4())) for planned in plan]


@dataclass
class LoadDriver:
    """Submits ``submissions`` to reporting at ``url`` with ``concurrency`` in flight and at
    most ``rate`` new submissions a second (0: as fast as accepted)."""

    url: str
    submissions: Sequence[Submission]
    concurrency: int = 8
    rate: float = 0.0
    give_up_after: float = 600.0
    """A submission still not accepted after this many seconds of retrying is refused."""
    max_delay: float = 5.0
    jwt_secret: str = DEVELOPMENT_SECRET
    transport: httpx.AsyncBaseTransport | None = None
    """Replaces the network (tests)."""
    result: LoadResult = field(default_factory=LoadResult)

    @property
    def progress(self) -> float:
        """Share of the submissions that have been answered for good (accepted or refused)."""
        done = len(self.result.accepted) + len(self.result.refused)
        return done / max(1, len(self.submissions))

    async def run(self) -> LoadResult:
        started = time.monotonic()
        tokens = {
            rider: issue_token(
                self.jwt_secret, role="rider", subject=rider, district=DISTRICT, ttl_seconds=86_400
            )
            for rider in {s.planned.rider_id for s in self.submissions}
        }
        slots = asyncio.Semaphore(self.concurrency)
        timeout = httpx.Timeout(30.0, connect=5.0)
        limits = httpx.Limits(max_connections=self.concurrency * 2)
        async with httpx.AsyncClient(
            timeout=timeout, limits=limits, transport=self.transport
        ) as client:
            tasks = []
            for index, submission in enumerate(self.submissions):
                if self.rate > 0:
                    due = started + index / self.rate
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                await slots.acquire()
                token = tokens[submission.planned.rider_id]
                task = asyncio.create_task(self._submit(client, submission, token))
                task.add_done_callback(lambda _: slots.release())
                tasks.append(task)
            await asyncio.gather(*tasks)
        self.result.seconds = time.monotonic() - started
        return self.result

    async def _submit(self, client: httpx.AsyncClient, submission: Submission, token: str) -> None:
        headers = {
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": submission.idempotency_key,
        }
        deadline = time.monotonic() + self.give_up_after
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                response = await client.post(
                    f"{self.url}/v1/reports", json=submission.planned.body(), headers=headers
                )
            except httpx.TransportError as error:
                cause = type(error).__name__
                last = f"{cause}: {error}"
            else:
                if response.status_code == 201:
                    self.result.accepted.append(
                        Accepted(
                            submission,
                            str(response.json()["id"]),
                            attempt,
                            response.headers.get("Idempotent-Replayed") == "true",
                        )
                    )
                    return
                last = describe_error(response)
                if response.status_code != 429 and response.status_code < 500:
                    self.result.refused.append((submission, last))
                    return
                cause = f"HTTP {response.status_code}"
                retry_after = _seconds(response.headers.get("Retry-After"))
            self.result.retries[cause] += 1
            if time.monotonic() >= deadline:
                self.result.refused.append((submission, f"gave up after {attempt} tries: {last}"))
                return
            ceiling = min(self.max_delay, 0.2 * 2 ** min(attempt - 1, 10))
            delay = random.uniform(ceiling / 2, ceiling)
            await asyncio.sleep(min(self.max_delay, max(delay, retry_after or 0.0)))


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
