"""One simulation run: submit the planned reports and follow each until its loop closes."""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from common.tokens import issue_token
from dispatch.domain.reference import Roster
from gridloop_tools.cli.simulate.client import (
    StackClient,
    describe_error,
    response_json,
    transport_reason,
)
from gridloop_tools.cli.simulate.config import SimulationConfig, SimulationError
from gridloop_tools.cli.simulate.geometry import read_district_grids
from gridloop_tools.cli.simulate.intake import tour_intake
from gridloop_tools.cli.simulate.lives import StaffPlayer, fold_lives
from gridloop_tools.cli.simulate.outcomes import ReportOutcome
from gridloop_tools.cli.simulate.planning import (
    PlannedReport,
    plan_reports,
    rider_districts,
    rider_ids,
)
from gridloop_tools.cli.simulate.progress import NullProgress, ProgressReporter
from gridloop_tools.cli.simulate.redeem import redeem_a_gift
from gridloop_tools.cli.simulate.summary import SimulationSummary, build_summary
from gridloop_tools.staff import StaffError, StaffMember, districts_root, load_roster

__all__ = [
    "SUCCESS_STATUSES",
    "run_simulation",
]

SUCCESS_STATUSES = frozenset({201, 202})


def _item_key(item: Mapping[str, Any]) -> str:
    identifier = item.get("id")
    if identifier is not None:
        return str(identifier)
    return json.dumps(item, sort_keys=True, default=str)


class _Run:
    """One simulation's moving parts: submissions, per-rider trackers, final sweep."""

    def __init__(
        self,
        config: SimulationConfig,
        stack: StackClient,
        tokens: Mapping[str, str],
        plan: Sequence[PlannedReport],
        progress: ProgressReporter,
        staff: Callable[[Sequence[ReportOutcome]], StaffPlayer] | None = None,
    ) -> None:
        self.config = config
        self.stack = stack
        self.tokens = tokens
        self.progress = progress
        self.outcomes = [ReportOutcome(planned) for planned in plan]
        self.staff = staff(self.outcomes) if staff is not None else None
        self.by_id: dict[str, ReportOutcome] = {}
        self.by_rider: dict[str, list[ReportOutcome]] = {}
        for outcome in self.outcomes:
            self.by_rider.setdefault(outcome.planned.rider_id, []).append(outcome)
        self.deadline = math.inf
        self.submit_time_s: float | None = None

    async def submit(self, outcome: ReportOutcome) -> None:
        planned = outcome.planned
        if time.perf_counter() >= self.deadline:
            outcome.error = "not submitted: the timeout was reached first"
            self.progress.submission_failed()
            return
        url = f"{self.stack.urls['reporting']}/v1/reports"
        try:
            response, started = await self.stack.send(
                "POST",
                url,
                token=self.tokens[planned.rider_id],
                json_body=planned.body(),
                headers={"Idempotency-Key": str(uuid.uuid4())},
                submission=True,
            )
        except httpx.TransportError as error:
            outcome.error = f"reporting at {url} did not answer: {transport_reason(error)}"
            self.progress.submission_failed()
            return
        body = response_json(response)
        if response.status_code not in SUCCESS_STATUSES:
            outcome.error = describe_error(response)
            self.progress.submission_failed()
            return
        report_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(report_id, str | int) or isinstance(report_id, bool) or report_id == "":
            outcome.error = f"HTTP {response.status_code} without a report id in the body"
            self.progress.submission_failed()
            return
        outcome.started_at = started
        outcome.last_status_check = time.perf_counter()
        outcome.report_id = str(report_id)
        outcome.status = str(body.get("status") or "submitted")
        self.by_id[outcome.report_id] = outcome
        self.progress.submitted()

    def _apply_inbox(self, rider_id: str, items: Sequence[Mapping[str, Any]], seen: float) -> None:
        for item in items:
            report_id = item.get("report_id")
            outcome = self.by_id.get(str(report_id)) if report_id is not None else None
            if outcome is None or outcome.planned.rider_id != rider_id:
                continue
            outcome.inbox_item_ids.add(_item_key(item))
            if outcome.first_inbox_at is None:
                outcome.first_inbox_at = seen

    def _apply_status(self, outcome: ReportOutcome, body: Mapping[str, Any]) -> None:
        status = body.get("status")
        if isinstance(status, str) and status:
            outcome.status = status
        for attribute in ("rejection_reason", "work_order_id", "grid_id"):
            value = body.get(attribute)
            if value is not None:
                setattr(outcome, attribute, str(value))
        code = body.get("rejection_reason_code")  # the short code, when reporting gives one
        if isinstance(code, str) and code:
            outcome.rejection_reason = code

    async def track(self, rider_id: str) -> None:
        """Poll one rider's inbox, and the status of their untriaged reports, until stopped."""
        own = self.by_rider.get(rider_id, [])
        token = self.tokens[rider_id]
        while True:
            tick_started = time.perf_counter()
            active = [outcome for outcome in own if outcome.report_id and not outcome.done]
            if active:
                if any(outcome.first_inbox_at is None for outcome in active):
                    fetched = await self.stack.inbox(rider_id, token)
                    if fetched is not None:
                        self._apply_inbox(rider_id, *fetched)
                now = time.perf_counter()
                due = [
                    outcome
                    for outcome in active
                    if not outcome.triaged
                    and (
                        outcome.first_inbox_at is not None
                        or now - outcome.last_status_check >= self.config.status_poll_interval
                    )
                ]
                for outcome in due:
                    outcome.last_status_check = now
                bodies = await asyncio.gather(
                    *(self.stack.report(outcome.report_id or "", token) for outcome in due)
                )
                for outcome, body in zip(due, bodies, strict=True):
                    if body is not None:
                        self._apply_status(outcome, body)
                for outcome in active:
                    if outcome.done:
                        self.progress.completed()
            elapsed = time.perf_counter() - tick_started
            await asyncio.sleep(max(self.config.poll_interval - elapsed, 0.0))

    def _finished(self, submissions: asyncio.Future[Any]) -> bool:
        return (
            submissions.done()
            and all(outcome.done or outcome.report_id is None for outcome in self.outcomes)
            and (self.staff is None or self.staff.settled())
        )

    async def drive(self) -> float:
        """Submit everything and track it until done or the timeout; returns the wall time."""
        started = time.perf_counter()
        self.deadline = started + self.config.timeout
        submissions = asyncio.gather(*(self.submit(outcome) for outcome in self.outcomes))

        def submissions_done(_: asyncio.Future[Any]) -> None:
            self.submit_time_s = time.perf_counter() - started

        submissions.add_done_callback(submissions_done)
        trackers = [asyncio.create_task(self.track(rider)) for rider in self.by_rider]
        if self.staff is not None:
            trackers.append(asyncio.create_task(self.staff.run()))
        tick = min(self.config.poll_interval, 0.05)
        try:
            while not self._finished(submissions) and time.perf_counter() < self.deadline:
                for tracker in trackers:
                    if tracker.done():
                        tracker.result()  # a tracker (or the staff) only ends by failing
                await asyncio.sleep(tick)
            wall_time = time.perf_counter() - started
        finally:
            for tracker in trackers:
                tracker.cancel()
            if not submissions.done():
                submissions.cancel()
            await asyncio.gather(*trackers, submissions, return_exceptions=True)
        if submissions.done() and not submissions.cancelled():
            submissions.result()  # re-raise a bug in submit(), never swallow it
        for outcome in self.outcomes:
            if outcome.report_id is None and outcome.error is None:
                outcome.error = (
                    "cancelled at the timeout while submitting (the server may have accepted it)"
                )
        return wall_time

    async def final_sweep(self) -> None:
        """Re-read every inbox, and the status of every report still untriaged, until two
        reads in a row find nothing new: messages that arrive after a loop closed (the points
        message follows the filing) count too. Bounded by ``balance_settle_seconds``."""
        deadline = time.perf_counter() + self.config.balance_settle_seconds
        seen = -1
        while True:
            await self._sweep_once()
            now_seen = sum(len(outcome.inbox_item_ids) for outcome in self.outcomes)
            if now_seen == seen or time.perf_counter() >= deadline:
                return
            seen = now_seen
            await asyncio.sleep(self.config.balance_settle_interval)

    async def _sweep_once(self) -> None:

        async def sweep(rider_id: str) -> None:
            own = [outcome for outcome in self.by_rider[rider_id] if outcome.report_id]
            if not own:
                return
            token = self.tokens[rider_id]
            fetched = await self.stack.inbox(rider_id, token)
            if fetched is not None:
                self._apply_inbox(rider_id, *fetched)
            untriaged = [outcome for outcome in own if not outcome.triaged]
            bodies = await asyncio.gather(
                *(self.stack.report(outcome.report_id or "", token) for outcome in untriaged)
            )
            for outcome, body in zip(untriaged, bodies, strict=True):
                if body is not None:
                    self._apply_status(outcome, body)

        await asyncio.gather(*(sweep(rider) for rider in self.by_rider))

    def warnings(self) -> list[str]:
        polls = self.stack.poll_failures.most_common(3)
        staff = self.staff.warnings() if self.staff is not None else []
        return [f"{count}× {failure}" for failure, count in polls] + staff


async def run_simulation(
    config: SimulationConfig,
    progress: ProgressReporter | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SimulationSummary:
    """Run one simulation against the stack at the configured URLs.

    ``transport`` replaces the network (tests pass an ``httpx.ASGITransport``). Raises
    :class:`SimulationError` (or its subclass :class:`StackUnavailableError`) for problems the
    user must fix; everything that goes wrong per report ends up in the summary instead.
    """
    config.validate()
    reporter: ProgressReporter = progress if progress is not None else NullProgress()
    district_grids = read_district_grids(config.grids_file, config.districts_dir)
    districts = list(config.districts) or list(district_grids)
    missing = [code for code in districts if code not in district_grids]
    if missing:
        raise SimulationError(
            f"no grids for district {', '.join(missing)}; there are grids for "
            f"{', '.join(district_grids)}"
        )
    seed = config.seed if config.seed is not None else random.SystemRandom().randrange(2**31)
    rng = random.Random(seed)
    riders = rider_ids(config.riders)
    home = rider_districts(riders, districts)
    ttl = max(12 * 3600, int(config.timeout) + 3600)
    tokens = {
        rider: issue_token(
            config.jwt_secret, role="rider", subject=rider, district=home[rider], ttl_seconds=ttl
        )
        for rider in riders
    }
    plan = plan_reports(
        count=config.reports,
        riders=riders,
        outside_ratio=config.outside_ratio,
        grids=[grid for grids in district_grids.values() for grid in grids],
        rng=rng,
        home={code: district_grids[code] for code in districts},
        district_of=home,
    )
    rosters = _rosters(config, districts) if config.play_staff else {}

    def mint(member: StaffMember) -> str:
        return member.token(config.jwt_secret, ttl_seconds=ttl)

    timeout = httpx.Timeout(config.request_timeout)
    limits = httpx.Limits(max_connections=max(config.concurrency * 2, 16))
    try:
        async with httpx.AsyncClient(transport=transport, timeout=timeout, limits=limits) as client:
            stack = StackClient(config, client)
            if config.preflight:
                await stack.check()
            before = await stack.balances(tokens)

            def staff(outcomes: Sequence[ReportOutcome]) -> StaffPlayer:
                return StaffPlayer(
                    stack,
                    rosters,
                    outcomes,
                    mint=mint,
                    rework_ratio=config.rework_ratio,
                    rng=random.Random(seed + 1),
                    interval=config.staff_poll_interval,
                )

            run = _Run(config, stack, tokens, plan, reporter, staff if config.play_staff else None)
            reporter.start(len(plan))
            wall_time = await run.drive()
            await run.final_sweep()
            after = await stack.settled_balances(tokens)
            intake = (
                await tour_intake(
                    client,
                    reporting_url=config.service_urls()["reporting"],
                    jwt_secret=config.jwt_secret,
                    grids={code: district_grids[code] for code in districts},
                    seed=seed,
                )
                if config.intake
                else None
            )
            redemption = await redeem_a_gift(
                client,
                ledger_url=config.service_urls()["ledger"],
                jwt_secret=config.jwt_secret,
                tokens=tokens,
                balances=after,
                districts=home,
                seed=seed,
            )
    except httpx.InvalidURL as error:
        raise SimulationError(f"invalid service URL: {error}") from error
    except httpx.UnsupportedProtocol as error:
        raise SimulationError(f"unsupported service URL: {error}") from error
    return build_summary(
        run.outcomes,
        seed=seed,
        wall_time_s=wall_time,
        balances_before=before,
        balances_after=after,
        warnings=run.warnings(),
        submit_time_s=run.submit_time_s,
        lives=fold_lives(list(run.staff.lives.values()), districts) if run.staff else None,
        intake=intake,
        redemption=redemption,
    )


def _rosters(config: SimulationConfig, districts: Sequence[str]) -> dict[str, Roster]:
    """Each district's roster, for --play-staff."""
    try:
        root = districts_root(config.districts_dir)
        return {code: load_roster(root, code) for code in districts}
    except StaffError as error:
        raise SimulationError(f"--play-staff needs the districts' rosters: {error}") from error
