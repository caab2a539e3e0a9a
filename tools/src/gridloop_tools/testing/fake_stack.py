"""The four services' HTTP endpoints in memory, for testing the tools that drive a stack (the
simulator, ``gridloop token --as-assignee-of``) without one.

Reports are triaged by a tiny asynchronous pipeline: located in the given districts' grids,
rejected outside every grid or outside the districts the rider's token covers, else filed with
a work order, an inbox message and 10 points. With rosters, the work orders live through
dispatch's states (``pending_review`` for categories that need review, then dispatched to the
grid's on-duty worker or the category's department, claimed, resolved, verified → closed or
rework), answering ``/v1/workorders`` with dispatch's scoping rules: a grid worker sees the
orders of their grids and those assigned to them, a department those assigned to it, a
supervisor or service their districts'. Every staff request is recorded in ``requests``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from shapely.geometry import Point, Polygon

from common.tokens import DEVELOPMENT_SECRET, Principal, Role, TokenError, verify_token

__all__ = ["REVIEW_CATEGORIES", "FakeOrder", "FakeStack", "StaffRequest", "fake_roster"]

REVIEW_CATEGORIES = frozenset({"0701", "9901"})
"""Categories whose orders wait for a supervisor's review, as in the demo catalogues."""
DEPARTMENT_CATEGORIES = {"0401": "traffic"}
"""Categories a department owns: code → department key (``<district>-<key>``)."""
OPEN = {"pending_review", "filed", "dispatched", "claimed", "resolved", "rework"}
STREET = "测试街道"

Grids = Mapping[str, Sequence[tuple[str, Polygon]]]


def fake_roster(district: str, grid_ids: Sequence[str]) -> dict[str, Any]:
    """A roster in dispatch's format: a worker per grid, a traffic department, a street and a
    district supervisor."""
    return {
        "district": district,
        "grid_workers": [
            {"id": f"{district}-w-{n}", "name": f"网格员{n}", "grid_ids": [grid], "on_duty": True}
            for n, grid in enumerate(grid_ids, start=1)
        ],
        "departments": [
            {"id": f"{district}-traffic", "name": "交警", "members": [f"{district}-traffic-01"]}
        ],
        "supervisors": [
            {"id": f"{district}-s-01", "name": "街道督查", "level": "street", "street": STREET},
            {"id": f"{district}-d-01", "name": "区督查", "level": "district"},
        ],
    }


@dataclass(frozen=True)
class StaffRequest:
    """A request to /v1/workorders: who, with which role, what."""

    subject: str
    role: str
    method: str
    path: str
    query: str = ""


@dataclass
class FakeOrder:
    """A work order as the fake dispatch keeps it."""

    id: str
    district: str
    report_id: str
    grid_id: str
    state: str
    category: str
    assignee: dict[str, str] | None = None
    reports: list[str] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "district": self.district,
            "report_id": self.report_id,
            "category": self.category,
            "grid_id": self.grid_id,
            "street": STREET,
            "state": self.state,
            "assignee": self.assignee,
            "reports": [{"report_id": r} for r in self.reports],
        }


class FakeStack:
    """The four services' HTTP endpoints, in memory, with a tiny asynchronous 'pipeline'."""

    def __init__(
        self,
        *,
        districts: Grids,
        rosters: Mapping[str, Mapping[str, Any]] | None = None,
        delay: float = 0.02,
        fail_categories: frozenset[str] = frozenset(),
        drop_categories: frozenset[str] = frozenset(),
        starting_balances: dict[str, int] | None = None,
        silent_rejections: bool = False,
        page_size: int = 3,
    ) -> None:
        self.districts = districts
        self.rosters = rosters or {}
        self.delay = delay
        self.silent_rejections = silent_rejections
        self.fail_categories = fail_categories
        self.drop_categories = drop_categories
        self.reports: dict[str, dict[str, Any]] = {}
        self.owners: dict[str, str] = {}
        self.coverage: dict[str, tuple[str, ...]] = {}
        self.inbox: dict[str, list[dict[str, Any]]] = {}
        self.inbox_page_size = page_size
        self.balances: dict[str, int] = dict(starting_balances or {})
        self.idempotency: dict[str, str] = {}
        self.failed_posts: list[str] = []
        self.orders: dict[str, FakeOrder] = {}
        self.page_size = page_size
        self.requests: list[StaffRequest] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.app = self._build()

    # --- the pipeline -------------------------------------------------------------------------

    def locate(self, lon: float, lat: float) -> tuple[str, str] | None:
        point = Point(lon, lat)
        for district, grids in self.districts.items():
            for grid_id, polygon in grids:
                if polygon.intersects(point):
                    return district, grid_id
        return None

    async def _process(self, report_id: str) -> None:
        await asyncio.sleep(self.delay)
        report = self.reports[report_id]
        rider = self.owners[report_id]
        if report["category"] in self.drop_categories:
            return
        found = self.locate(report["lon"], report["lat"])
        if found is None or found[0] not in self.coverage[report_id]:
            reason = "outside_service_area" if found is None else "district_mismatch"
            report.update(status="rejected", rejection_reason=reason)
            if not self.silent_rejections:
                self._tell(rider, report_id, "report_rejected")
            return
        district, grid_id = found
        category = report["category"]
        order = FakeOrder(f"wo-{report_id}", district, report_id, grid_id, "filed", category)
        order.reports.append(report_id)
        if district in self.rosters:
            self.orders[order.id] = order
            if order.category in REVIEW_CATEGORIES:
                order.state = "pending_review"  # the reporter hears back once it is accepted
                return
            self._dispatch(order)
        await self._file(report_id, order)

    async def _file(self, report_id: str, order: FakeOrder) -> None:
        report, rider = self.reports[report_id], self.owners[report_id]
        report.update(status="filed", grid_id=order.grid_id, work_order_id=order.id)
        self._tell(rider, report_id, "report_filed")
        await asyncio.sleep(self.delay)
        self.balances[rider] = self.balances.get(rider, 0) + 10
        self._tell(rider, report_id, "points_awarded")

    def _dispatch(self, order: FakeOrder) -> None:
        roster = self.rosters[order.district]
        department = DEPARTMENT_CATEGORIES.get(order.category)
        if department is not None:
            order.assignee = {"kind": "department", "id": f"{order.district}-{department}"}
        else:
            worker = next(
                w
                for w in roster["grid_workers"]
                if order.grid_id in w["grid_ids"] and w.get("on_duty", True)
            )
            order.assignee = {"kind": "grid_worker", "id": worker["id"], "name": worker["name"]}
        order.state = "dispatched"

    def _tell(self, rider: str, report_id: str, template: str) -> None:
        number = sum(len(items) for items in self.inbox.values()) + 1
        self.inbox.setdefault(rider, []).insert(
            0,
            {
                "id": f"m{number}",
                "template": template,
                "title": template,
                "body": "您的上报已处理",
                "report_id": report_id,
                "recipient": rider,
                "created_at": "2025-01-01T00:00:00Z",
            },
        )

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # --- dispatch's rules -----------------------------------------------------------------------

    @staticmethod
    def sees(principal: Principal, order: FakeOrder) -> bool:
        if not principal.covers(order.district):
            return False
        if principal.role in {Role.SUPERVISOR, Role.ADMIN, Role.SERVICE}:
            return True
        assigned = order.assignee is not None and order.assignee["id"] == principal.subject
        return assigned or (principal.role is Role.GRID_WORKER and order.grid_id in principal.grids)

    def act(self, principal: Principal, order: FakeOrder, action: str, body: Any) -> str | None:
        """Move ``order``; None, or why not (a 409 problem's detail)."""
        assigned = order.assignee is not None and order.assignee["id"] == principal.subject
        supervisor = principal.role is Role.SUPERVISOR
        moves = {
            ("claim", "dispatched"): assigned,
            ("claim", "rework"): assigned,
            ("resolve", "claimed"): assigned,
            ("verify", "resolved"): supervisor,
            ("accept", "pending_review"): supervisor,
        }
        allowed = moves.get((action, order.state))
        if allowed is None:
            return f"cannot {action} a work order that is {order.state}"
        if not allowed:
            return f"{principal.subject} may not {action} this work order"
        if action == "claim":
            order.state = "claimed"
        elif action == "resolve":
            order.state = "resolved"
        elif action == "verify":
            order.state = "closed" if body.get("passed") else "rework"
        else:  # accept
            self._dispatch(order)
            self._spawn(self._file(order.report_id, order))
        return None

    # --- HTTP -----------------------------------------------------------------------------------

    def _principal(self, authorization: str | None) -> Principal | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        try:
            return verify_token(DEVELOPMENT_SECRET, authorization.removeprefix("Bearer "))
        except TokenError:
            return None

    @staticmethod
    def _problem(status: int, detail: str, **extra: Any) -> JSONResponse:
        return JSONResponse(
            {"type": "about:blank", "title": "Error", "status": status, "detail": detail, **extra},
            status_code=status,
            media_type="application/problem+json",
        )

    def _staff(self, request: Request, authorization: str | None) -> Principal | JSONResponse:
        principal = self._principal(authorization)
        if principal is None:
            return self._problem(401, "a bearer token is required")
        self.requests.append(
            StaffRequest(
                principal.subject,
                principal.role.value,
                request.method,
                request.url.path,
                request.url.query,
            )
        )
        if principal.role is Role.RIDER:
            return self._problem(403, "riders may not")
        return principal

    def _visible(
        self, request: Request, authorization: str | None, work_order_id: str
    ) -> tuple[Principal, FakeOrder] | JSONResponse:
        """The caller and the order, or the problem: who may not ask, or an order they do not
        see (a 404, as for an order that does not exist)."""
        principal = self._staff(request, authorization)
        if isinstance(principal, JSONResponse):
            return principal
        order = self.orders.get(work_order_id)
        if order is None or not self.sees(principal, order):
            return self._problem(404, f"work order '{work_order_id}' was not found")
        return principal, order

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.post("/v1/reports", response_model=None)
        async def submit(
            request: Request,
            authorization: Annotated[str | None, Header()] = None,
            idempotency_key: Annotated[str | None, Header()] = None,
        ) -> JSONResponse:
            principal = self._principal(authorization)
            if principal is None or principal.role != "rider":
                return self._problem(401, "a rider token is required")
            if not idempotency_key:
                return self._problem(400, "Idempotency-Key is required")
            if idempotency_key in self.idempotency:
                report_id = self.idempotency[idempotency_key]
                return JSONResponse(self.reports[report_id], status_code=201)
            body = await request.json()
            if set(body) != {"category", "lat", "lon", "text"}:
                return self._problem(422, f"unexpected body fields: {sorted(body)}")
            if body["category"] in self.fail_categories:
                self.failed_posts.append(idempotency_key)
                return self._problem(422, f"category: {body['category']} is not configured")
            report_id = f"r{len(self.reports) + 1:04d}"
            self.idempotency[idempotency_key] = report_id
            self.owners[report_id] = principal.subject
            self.coverage[report_id] = principal.all_districts
            self.reports[report_id] = {
                "id": report_id,
                "status": "submitted",
                "work_order_id": None,
                "grid_id": None,
                "rejection_reason": None,
                **body,
            }
            self._spawn(self._process(report_id))
            return JSONResponse(self.reports[report_id], status_code=201)

        @app.get("/v1/reports/{report_id}", response_model=None)
        async def status(
            report_id: str, authorization: Annotated[str | None, Header()] = None
        ) -> dict[str, Any] | JSONResponse:
            principal = self._principal(authorization)
            if principal is None:
                return self._problem(401, "unauthorized")
            if self.owners.get(report_id) != principal.subject:
                return self._problem(404, f"report '{report_id}' was not found")
            return self.reports[report_id]

        @app.get("/v1/inbox/{rider_id}", response_model=None)
        async def inbox(
            rider_id: str,
            limit: int = 50,
            cursor: str = "0",
            authorization: Annotated[str | None, Header()] = None,
        ) -> dict[str, Any] | JSONResponse:
            principal = self._principal(authorization)
            if principal is None or principal.subject != rider_id:
                return self._problem(403, "not your inbox")
            # Small pages, so a client that reads only the first one misses messages.
            return self._page(self.inbox.get(rider_id, []), limit, cursor, self.inbox_page_size)

        @app.get("/v1/accounts/{rider_id}/balance", response_model=None)
        async def balance(
            rider_id: str, authorization: Annotated[str | None, Header()] = None
        ) -> dict[str, Any] | JSONResponse:
            principal = self._principal(authorization)
            if principal is None or principal.subject != rider_id:
                return self._problem(403, "not your account")
            if rider_id not in self.balances:
                return self._problem(404, f"account 'rider:{rider_id}' was not found")
            return {
                "account_id": f"rider:{rider_id}",
                "rider_id": rider_id,
                "balance": self.balances[rider_id],
            }

        @app.get("/v1/districts")
        async def districts() -> list[dict[str, Any]]:
            return [{"code": code, "name": code} for code in sorted(self.districts)]

        @app.get("/v1/workorders", response_model=None)
        async def work_orders(
            request: Request,
            district: str | None = None,
            state: Annotated[list[str] | None, Query()] = None,
            assignee: str | None = None,
            limit: int = 50,
            cursor: str = "0",
            authorization: Annotated[str | None, Header()] = None,
        ) -> dict[str, Any] | JSONResponse:
            principal = self._staff(request, authorization)
            if isinstance(principal, JSONResponse):
                return principal
            if district is not None and not principal.covers(district):
                return self._problem(403, f"the token does not cover district {district}")
            if principal.role is Role.DEPARTMENT:
                assignee = principal.subject
            found = [
                order.view()
                for order in reversed(self.orders.values())  # newest first
                if self.sees(principal, order)
                and (district is None or order.district == district)
                and (not state or order.state in state)
                and (assignee is None or (order.assignee or {}).get("id") == assignee)
            ]
            return self._page(found, limit, cursor, self.page_size)

        @app.get("/v1/workorders/{work_order_id}", response_model=None)
        async def work_order(
            request: Request,
            work_order_id: str,
            authorization: Annotated[str | None, Header()] = None,
        ) -> dict[str, Any] | JSONResponse:
            found = self._visible(request, authorization, work_order_id)
            return found if isinstance(found, JSONResponse) else found[1].view()

        @app.post("/v1/workorders/{work_order_id}/{action}", response_model=None)
        async def move(
            request: Request,
            work_order_id: str,
            action: str,
            authorization: Annotated[str | None, Header()] = None,
        ) -> dict[str, Any] | JSONResponse:
            found = self._visible(request, authorization, work_order_id)
            if isinstance(found, JSONResponse):
                return found
            principal, order = found
            body = await request.json() if await request.body() else {}
            refused = self.act(principal, order, action, body)
            if refused is not None:
                return self._problem(409, refused, state=order.state)
            return order.view()

        return app

    @staticmethod
    def _page(items: list[dict[str, Any]], limit: int, cursor: str, size: int) -> dict[str, Any]:
        start, size = int(cursor), min(limit, size)
        more = start + size < len(items)
        return {
            "items": items[start : start + size],
            "limit": size,
            "next_cursor": str(start + size) if more else None,
        }
