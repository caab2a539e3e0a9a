"""Playing the districts' staff: the grid workers, departments and supervisors who carry the
work orders the riders' reports opened through their life — accepted after review, claimed,
resolved, verified (some sent back for rework) and closed.

Each round, per district, one district supervisor lists the district's open orders; the
orders of this run (their report is one of the run's) are worked by whoever dispatch assigned
them to: the assignee lists their own queue with their own token (``GET /v1/workorders?
state=dispatched&state=rework&state=claimed&assignee=…``), claims and resolves each order of
the run in it; the street's supervisor accepts what waits for review and verifies what is
resolved — failing a configurable share of first verifications (返工). Rounds are
``staff_poll_interval`` apart and every request goes through the run's connection gate.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from dispatch.domain.reference import Roster
from gridloop_tools.cli.simulate.client import (
    StackClient,
    describe_error,
    response_json,
    transport_reason,
)
from gridloop_tools.cli.simulate.outcomes import ReportOutcome
from gridloop_tools.staff import StaffError, StaffMember, assignee_member, member_of

__all__ = [
    "OPEN_STATES",
    "DistrictLives",
    "OrderLife",
    "StaffPlayer",
    "fold_lives",
]

OPEN_STATES = (
    "pending_review",
    "filed",
    "dispatched",
    "claimed",
    "resolved",
    "rework",
    "returned",
    "reopened",
)
QUEUE_STATES = ("dispatched", "rework", "claimed")
"""What an assignee still has to do something about."""
PAGE_SIZE = 200
RESOLUTION_NOTE = "已到现场处置完毕（模拟）"
ACCEPT_NOTE = "核实属实，予以立案（模拟）"
VERIFIED_NOTE = "核查通过，予以结案（模拟）"
REWORK_NOTE = "整改不到位，请返工（模拟）"


@dataclass
class OrderLife:
    """One work order the run's reports opened, as the staff saw it."""

    id: str
    district: str
    state: str
    report_ids: set[str] = field(default_factory=set)
    submitted_at: float | None = None
    verifications: int = 0
    reworked: bool = False
    closed_at: float | None = None

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def close_time_s(self) -> float | None:
        """Seconds from the first report's submission to closing."""
        if self.closed_at is None or self.submitted_at is None:
            return None
        return self.closed_at - self.submitted_at


@dataclass(frozen=True)
class DistrictLives:
    """How the lives of one district's orders went."""

    orders: int
    closed: int
    reworked: int
    still_open: int
    close_times_s: tuple[float, ...] = ()


def fold_lives(lives: Sequence[OrderLife], districts: Sequence[str]) -> dict[str, DistrictLives]:
    out = {}
    for district in districts:
        own = [life for life in lives if life.district == district]
        out[district] = DistrictLives(
            orders=len(own),
            closed=sum(1 for life in own if life.state == "closed"),
            reworked=sum(1 for life in own if life.reworked),
            still_open=sum(1 for life in own if life.open),
            close_times_s=tuple(t for life in own if (t := life.close_time_s) is not None),
        )
    return out


class StaffPlayer:
    """The staff of ``rosters``' districts, working the orders of ``outcomes``' reports."""

    def __init__(
        self,
        stack: StackClient,
        rosters: Mapping[str, Roster],
        outcomes: Sequence[ReportOutcome],
        *,
        mint: Callable[[StaffMember], str],
        rework_ratio: float,
        rng: random.Random,
        interval: float,
    ) -> None:
        self.stack = stack
        self.rosters = rosters
        self.outcomes = outcomes
        self.mint = mint
        self.rework_ratio = rework_ratio
        self.rng = rng
        self.interval = interval
        self.lives: dict[str, OrderLife] = {}
        self.failures: Counter[str] = Counter()
        self._tokens: dict[StaffMember, str] = {}
        #: The run's reports by id, and the work orders reporting named for them, as of the
        #: start of the round.
        self._reports: dict[str, ReportOutcome] = {}
        self._work_orders: set[str] = set()

    # --- the run's view ---------------------------------------------------------------------

    def settled(self) -> bool:
        """Every order the run knows of has ended its life."""
        known = {o.work_order_id for o in self.outcomes if o.work_order_id}
        return all(not life.open for life in self.lives.values()) and known <= set(self.lives)

    def _track(self, order: Mapping[str, Any]) -> None:
        life = self.lives.get(str(order["id"]))
        if life is None:
            life = OrderLife(str(order["id"]), str(order["district"]), str(order["state"]))
            self.lives[life.id] = life
        self._update(life, order)

    def _update(self, life: OrderLife, order: Mapping[str, Any]) -> None:
        life.state = str(order.get("state", life.state))
        attached = [r.get("report_id") for r in order.get("reports") or [] if isinstance(r, dict)]
        life.report_ids.update(str(r) for r in [order.get("report_id"), *attached] if r)
        starts = [
            started
            for report_id in life.report_ids
            if (outcome := self._reports.get(report_id)) is not None
            and (started := outcome.started_at) is not None
        ]
        if starts:
            life.submitted_at = min(starts)
        if life.state == "rework":
            life.reworked = True
        if life.state == "closed" and life.closed_at is None:
            life.closed_at = time.perf_counter()

    def _ours(self, order: Mapping[str, Any]) -> bool:
        return str(order.get("report_id")) in self._reports or order.get("id") in self._work_orders

    # --- rounds -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Play rounds until cancelled."""
        while True:
            started = time.perf_counter()
            await self.round()
            await asyncio.sleep(max(self.interval - (time.perf_counter() - started), 0.05))

    async def round(self) -> None:
        self._reports = {o.report_id: o for o in self.outcomes if o.report_id is not None}
        self._work_orders = {o.work_order_id for o in self.outcomes if o.work_order_id}
        await asyncio.gather(*(self._district_round(code) for code in self.rosters))

    async def _district_round(self, district: str) -> None:
        """A district supervisor lists the open orders; the run's are worked on."""
        roster = self.rosters[district]
        overseers = roster.district_supervisors()
        if not overseers:
            self.failures[f"district {district} has no district supervisor"] += 1
            return
        overseer = member_of(roster, overseers[0].id)
        assert overseer is not None
        orders = await self._list(overseer, {"district": district, "state": OPEN_STATES})
        if orders is None:
            return
        ours = [order for order in orders if self._ours(order)]
        for order in ours:
            self._track(order)
        listed = {str(order["id"]) for order in ours}
        gone = [
            life
            for life in self.lives.values()
            if life.district == district and life.open and life.id not in listed
        ]
        await asyncio.gather(*(self._refresh(life, overseer) for life in gone))
        busy: dict[str, StaffMember] = {}
        for order in ours:
            if order["state"] in QUEUE_STATES and isinstance(order.get("assignee"), dict):
                try:
                    member = assignee_member(
                        order["assignee"],
                        district=district,
                        grid_id=str(order["grid_id"]),
                        roster=roster,
                    )
                except StaffError as error:
                    self.failures[str(error)] += 1
                    continue
                busy.setdefault(member.id, member)
        reviews = [order for order in ours if order["state"] == "pending_review"]
        resolved = [order for order in ours if order["state"] == "resolved"]
        await asyncio.gather(
            *(self._work_queue(member, district) for member in busy.values()),
            *(self._accept(order, roster, overseer) for order in reviews),
            *(self._verify(order, roster, overseer) for order in resolved),
        )

    async def _work_queue(self, member: StaffMember, district: str) -> None:
        """The assignee reads their own queue and takes each of the run's orders in it on."""
        queue = await self._list(
            member, {"district": district, "state": QUEUE_STATES, "assignee": member.id}
        )
        for order in queue or []:
            if not self._ours(order):
                continue
            state = order["state"]
            if state in ("dispatched", "rework"):
                state = await self._act(member, order, "claim", None)
            if state == "claimed":
                await self._act(member, order, "resolve", {"note": RESOLUTION_NOTE})

    async def _accept(
        self, order: Mapping[str, Any], roster: Roster, overseer: StaffMember
    ) -> None:
        supervisor = self._street_supervisor(roster, str(order.get("street", ""))) or overseer
        await self._act(supervisor, order, "accept", {"note": ACCEPT_NOTE})

    async def _verify(
        self, order: Mapping[str, Any], roster: Roster, overseer: StaffMember
    ) -> None:
        """The street's supervisor checks the fix: the first verification of an order fails
        with the rework ratio's odds, any later one passes."""
        life = self.lives[str(order["id"])]
        supervisor = self._street_supervisor(roster, str(order.get("street", ""))) or overseer
        passed = life.verifications > 0 or self.rng.random() >= self.rework_ratio
        body = {"passed": passed, "note": VERIFIED_NOTE if passed else REWORK_NOTE}
        if await self._act(supervisor, order, "verify", body) is not None:
            life.verifications += 1

    async def _refresh(self, life: OrderLife, overseer: StaffMember) -> None:
        """Re-read an order that left the open list without the staff's doing (voided…)."""
        url = f"{self.stack.urls['dispatch']}/v1/workorders/{life.id}"
        view = await self._call("GET", url, overseer, None, what="work order")
        if isinstance(view, dict) and "state" in view:
            self._update(life, view)

    @staticmethod
    def _street_supervisor(roster: Roster, street: str) -> StaffMember | None:
        found = roster.street_supervisors(street)
        return member_of(roster, found[0].id) if found else None

    # --- HTTP ----------------------------------------------------------------------------------

    def _token(self, member: StaffMember) -> str:
        if member not in self._tokens:
            self._tokens[member] = self.mint(member)
        return self._tokens[member]

    async def _list(
        self, member: StaffMember, query: Mapping[str, str | Sequence[str]]
    ) -> list[dict[str, Any]] | None:
        """Every page of ``GET /v1/workorders`` as ``member`` sees it; None on a failure."""
        base = f"{self.stack.urls['dispatch']}/v1/workorders?"
        params = [*((k, v) for k, vs in query.items() for v in _values(vs)), ("limit", PAGE_SIZE)]
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            url = base + urlencode([*params, *([("cursor", cursor)] if cursor else [])])
            body = await self._call("GET", url, member, None, what="work orders")
            page = body.get("items") if isinstance(body, dict) else None
            if not isinstance(page, list):
                return None
            items += [item for item in page if isinstance(item, dict)]
            cursor = body.get("next_cursor") if isinstance(body, dict) else None
            if not isinstance(cursor, str) or not cursor:
                return items

    async def _act(
        self,
        member: StaffMember,
        order: Mapping[str, Any],
        action: str,
        body: Mapping[str, Any] | None,
    ) -> str | None:
        """POST the action as ``member``; the order's state after it (None: not known)."""
        url = f"{self.stack.urls['dispatch']}/v1/workorders/{order['id']}/{action}"
        view = await self._call("POST", url, member, body, what=action)
        if isinstance(view, dict) and "state" in view:
            life = self.lives.get(str(order["id"]))
            if life is not None and "id" in view:
                self._update(life, view)
            return str(view["state"])
        return None

    async def _call(
        self,
        method: str,
        url: str,
        member: StaffMember,
        body: Mapping[str, Any] | None,
        *,
        what: str,
    ) -> Any:
        """One request as ``member`` (no retry: a claim must not be sent twice); the JSON
        body of a 200, the problem of a 409 (the order moved on: the next round sees where),
        else None with the failure counted."""
        try:
            response, _ = await self.stack.send(
                method, url, token=self._token(member), json_body=body, retries=0
            )
        except httpx.TransportError as error:
            self.failures[f"{what}: {transport_reason(error)}"] += 1
            return None
        if response.status_code == 409:
            return None
        if response.status_code != 200:
            self.failures[f"{what} as {member.id}: {describe_error(response)}"] += 1
            return None
        return response_json(response)

    def warnings(self) -> list[str]:
        return [f"{count}× staff: {failure}" for failure, count in self.failures.most_common(3)]


def _values(value: str | Sequence[str]) -> Sequence[str]:
    return [value] if isinstance(value, str) else value
