"""Work orders over HTTP, on the real app and a real SQLite file: every step of their life
(claim, resolve with evidence, return, verify, void, accept and reject after review), each
checking the caller's role and scope and the order's state; reading one; listing with filters,
as each role sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gridloop_tools.testing.dispatch import (
    EAST,
    RENCHENG,
    RENCHENG_POINT,
    SOUTH,
    WEST,
    YANZHOU,
    Point,
    bearer,
    load_over_http,
    north_of,
    outbox,
    report_event,
    short,
)
from gridloop_tools.testing.service_fixtures import Deliver, assert_problem

Headers = dict[str, str]
CALLERS: dict[str, dict[str, Any]] = {
    "w-west-1": {"role": "grid_worker", "subject": "w-west-1", "grids": ["g-west"]},
    "w-west-2": {"role": "grid_worker", "subject": "w-west-2", "grids": ["g-west"]},
    "w-east": {"role": "grid_worker", "subject": "w-east", "grids": ["g-east"]},
    "chengguan": {"role": "department", "subject": "370812-chengguan"},
    "s-gulou": {"role": "supervisor", "subject": "s-gulou"},
    "s-yanzhou": {"role": "supervisor", "subject": "s-yanzhou"},
    "s-rencheng": {"role": "supervisor", "subject": "s-rencheng", "district": RENCHENG},
    "s-city": {"role": "supervisor", "subject": "s-city", "districts": [RENCHENG]},
    "admin": {"role": "admin", "subject": "admin-1"},
    "rider": {"role": "rider", "subject": "rider-1"},
}


class Staff:
    """Calls the work-order API as one of :data:`CALLERS`."""

    def __init__(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        self.client = client
        self.app = app

    def headers(self, who: str) -> Headers:
        return bearer(self.app, **CALLERS[who])

    async def post(
        self, who: str, work_order_id: str, step: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        return await self.client.post(
            f"/v1/workorders/{work_order_id}/{step}", json=body, headers=self.headers(who)
        )

    async def ok(
        self, who: str, work_order_id: str, step: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        response = await self.post(who, work_order_id, step, body)
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return view

    async def get(self, who: str, work_order_id: str) -> httpx.Response:
        return await self.client.get(f"/v1/workorders/{work_order_id}", headers=self.headers(who))

    async def order(self, work_order_id: str) -> dict[str, Any]:
        response = await self.get("s-city", work_order_id)
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return view

    async def listed(self, who: str, **query: Any) -> list[str]:
        """The report ids of the orders ``who`` lists, newest first."""
        response = await self.client.get("/v1/workorders", params=query, headers=self.headers(who))
        assert response.status_code == 200, response.text
        return [item["report_id"] for item in response.json()["items"]]


@pytest.fixture
def staff(client: httpx.AsyncClient, app: FastAPI) -> Staff:
    return Staff(client, app)


class Reports:
    """Files reports through the consumer; each call returns the work order's id."""

    def __init__(self, app: FastAPI, deliver: Deliver) -> None:
        self.app = app
        self.deliver = deliver

    async def __call__(
        self, report_id: str, *, at: Point = WEST, category: str = "0501", **fields: Any
    ) -> str:
        districts = [YANZHOU, RENCHENG]
        event = report_event(report_id, at=at, category=category, districts=districts, **fields)
        await self.deliver(event)
        for published in reversed(await outbox(self.app)):
            if published.data.get("report_id") == report_id and "work_order_id" in published.data:
                return str(published.data["work_order_id"])
        raise AssertionError(f"{report_id} filed no work order")


@pytest.fixture
async def file(client: httpx.AsyncClient, app: FastAPI, deliver: Deliver) -> Reports:
    for district in (YANZHOU, RENCHENG):
        await load_over_http(client, app, district)
    return Reports(app, deliver)


@pytest.fixture
async def wo(file: Reports) -> str:
    """A 0501 order in g-west, dispatched to w-west-1."""
    return await file("rep-1")


def conflict(response: httpx.Response, state: str) -> None:
    body = assert_problem(response, 409, state)
    assert body["state"] == state and body["state_label"]


async def types_of(app: FastAPI, work_order_id: str) -> list[str]:
    return [short(e.type) for e in await outbox(app) if e.subject == work_order_id]


# --- the whole life ---------------------------------------------------------------------------


async def test_claimed_resolved_with_evidence_verified_and_closed(
    staff: Staff, wo: str, app: FastAPI
) -> None:
    claimed = await staff.ok("w-west-1", wo, "claim")
    assert (claimed["state"], claimed["state_label"]) == ("claimed", "处置中")
    resolution = {"note": "已拆除飞线", "evidence": ["photo-1.jpg", "photo-2.jpg"]}
    resolved = await staff.ok("w-west-1", wo, "resolve", resolution)
    assert resolved["state"] == "resolved"
    closed = await staff.ok("s-gulou", wo, "verify", {"passed": True, "note": "合格"})

    assert (closed["state"], closed["version"]) == ("closed", 5)
    assert closed["closed_at"] is not None
    assert [(s["action"], s["actor"], s["to_state"]) for s in closed["history"]] == [
        ("file", "system", "filed"),
        ("dispatch", "system", "dispatched"),
        ("claim", "w-west-1", "claimed"),
        ("resolve", "w-west-1", "resolved"),
        ("verify", "s-gulou", "closed"),
    ]
    assert closed["history"][3]["evidence"] == ["photo-1.jpg", "photo-2.jpg"]
    assert (await staff.order(wo))["history"] == closed["history"]
    assert await types_of(app, wo) == [
        "filed",
        "dispatched",
        "claimed",
        "resolved",
        "verified",
        "closed",
    ]


async def test_a_return_sends_it_to_someone_else(staff: Staff, wo: str, app: FastAPI) -> None:
    returned = await staff.ok("w-west-1", wo, "return", {"reason": "不属于本人负责"})
    assert (returned["state"], returned["assignee"]["id"]) == ("dispatched", "w-west-2")
    assert returned["return_count"] == 1
    assert_problem(await staff.post("w-west-1", wo, "claim"), 403, "only the assignee")
    assert (await staff.ok("w-west-2", wo, "claim"))["state"] == "claimed"
    assert (await types_of(app, wo))[2:4] == ["returned", "dispatched"]


async def test_a_failed_verification_is_rework_on_a_new_clock(staff: Staff, wo: str) -> None:
    await staff.ok("w-west-1", wo, "claim")
    first = (await staff.ok("w-west-1", wo, "resolve", {"note": "已处理"}))["deadlines"]
    failed = await staff.ok("s-gulou", wo, "verify", {"passed": False, "note": "仍有飞线"})

    assert (failed["state"], failed["rework_count"]) == ("rework", 1)
    assert failed["deadlines"]["started_at"] == failed["history"][-1]["at"]
    assert failed["deadlines"]["started_at"] > first["started_at"]
    assert failed["deadlines"]["handle_due"] >= first["handle_due"]
    assert (await staff.ok("w-west-1", wo, "claim"))["state"] == "claimed"


async def test_a_supervisor_voids_an_open_order(staff: Staff, wo: str) -> None:
    voided = await staff.ok("s-yanzhou", wo, "void", {"reason": "重复上报"})
    assert (voided["state"], voided["assignee"]) == ("voided", None)
    assert voided["history"][-1]["reason"] == "重复上报"


async def test_accepted_after_review_it_is_dispatched(
    staff: Staff, file: Reports, app: FastAPI
) -> None:
    wo = await file("rep-1", category="0701")
    assert (await staff.order(wo))["state"] == "pending_review"
    assert_problem(await staff.post("w-west-1", wo, "accept", {}), 403, "only a supervisor")
    accepted = await staff.ok("s-gulou", wo, "accept", {"note": "情况属实"})
    assert (accepted["state"], accepted["assignee"]["id"]) == ("dispatched", "w-west-1")
    assert await types_of(app, wo) == ["review_requested", "filed", "dispatched"]


async def test_rejected_after_review_the_reporter_hears_why(
    staff: Staff, file: Reports, app: FastAPI
) -> None:
    wo = await file("rep-1", category="0701")
    rejected = await staff.ok("s-gulou", wo, "reject", {"reason": "属于民事纠纷"})
    assert rejected["state"] == "rejected"
    (event,) = [e for e in await outbox(app) if short(e.type) == "rejected"]
    assert (event.subject, event.data["reason_code"]) == ("rep-1", "rejected_on_review")
    assert "属于民事纠纷" in event.data["reason"]


async def test_a_department_handles_what_it_owns(staff: Staff, file: Reports) -> None:
    wo = await file("rep-1", category="0202", at=EAST)
    assert (await staff.order(wo))["assignee"]["id"] == "370812-chengguan"
    assert_problem(await staff.post("w-east", wo, "claim"), 403, "only the assignee")
    await staff.ok("chengguan", wo, "claim")
    assert (await staff.ok("chengguan", wo, "resolve", {"note": "已清理"}))["state"] == "resolved"


async def test_a_supervisor_of_last_resort_handles_it_like_an_assignee(
    staff: Staff, file: Reports
) -> None:
    wo = await file("rep-1", at=SOUTH)  # nobody works g-south, 酒仙桥街道 has no supervisor
    assert (await staff.order(wo))["assignee"] == {
        "kind": "supervisor",
        "id": "s-yanzhou",
        "name": "兖州区督查",
    }
    assert_problem(await staff.post("s-gulou", wo, "claim"), 403, "only the assignee")
    await staff.ok("s-yanzhou", wo, "claim")
    await staff.ok("s-yanzhou", wo, "resolve", {"note": "已处理"})
    assert (await staff.ok("s-yanzhou", wo, "verify", {"passed": True}))["state"] == "closed"


# --- who may, and from which state ------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("w-east", 404),  # a grid worker outside the order's grid
        ("w-west-2", 403),  # another worker of the grid
        ("chengguan", 404),  # a department it is not assigned to
        ("s-rencheng", 404),  # a supervisor of another district
        ("s-gulou", 403),  # a supervisor who is not the assignee
        ("admin", 403),
        ("rider", 403),
    ],
)
@pytest.mark.parametrize(
    ("step", "body"),
    [("claim", None), ("resolve", {"note": "x"}), ("return", {"reason": "x"})],
)
async def test_only_the_assignee_claims_resolves_and_returns(
    staff: Staff, wo: str, who: str, status: int, step: str, body: dict[str, Any] | None
) -> None:
    assert_problem(await staff.post(who, wo, step, body), status)
    assert (await staff.order(wo))["version"] == 2


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("w-west-1", 403),  # even the assignee
        ("chengguan", 404),
        ("s-rencheng", 404),
        ("admin", 403),
        ("rider", 403),
    ],
)
@pytest.mark.parametrize(
    ("step", "body"),
    [
        ("verify", {"passed": True}),
        ("void", {"reason": "x"}),
        ("accept", {}),
        ("reject", {"reason": "x"}),
    ],
)
async def test_only_a_supervisor_of_the_district_verifies_voids_and_reviews(
    staff: Staff, wo: str, who: str, status: int, step: str, body: dict[str, Any]
) -> None:
    assert_problem(await staff.post(who, wo, step, body), status)
    assert (await staff.order(wo))["version"] == 2


@pytest.mark.parametrize(
    ("who", "step", "body", "state"),
    [
        ("w-west-1", "resolve", {"note": "x"}, "dispatched"),
        ("s-gulou", "verify", {"passed": True}, "dispatched"),
        ("s-gulou", "accept", {}, "dispatched"),
        ("s-gulou", "reject", {"reason": "x"}, "dispatched"),
    ],
)
async def test_a_step_the_state_does_not_allow_is_409_naming_the_state(
    staff: Staff, wo: str, who: str, step: str, body: dict[str, Any], state: str
) -> None:
    conflict(await staff.post(who, wo, step, body), state)


async def test_steps_out_of_turn_later_in_the_life_are_409(staff: Staff, wo: str) -> None:
    await staff.ok("w-west-1", wo, "claim")
    conflict(await staff.post("w-west-1", wo, "claim"), "claimed")
    await staff.ok("w-west-1", wo, "resolve", {"note": "x"})
    conflict(await staff.post("w-west-1", wo, "return", {"reason": "x"}), "resolved")
    await staff.ok("s-gulou", wo, "verify", {"passed": True})
    conflict(await staff.post("s-gulou", wo, "void", {"reason": "x"}), "closed")
    conflict(await staff.post("s-gulou", wo, "verify", {"passed": True}), "closed")


@pytest.mark.parametrize(
    "step", ["claim", "resolve", "return", "verify", "void", "accept", "reject"]
)
async def test_an_unknown_order_is_404(staff: Staff, file: Reports, step: str) -> None:
    body = {"note": "x", "reason": "x", "passed": True}
    body = {k: v for k, v in body.items() if k in STEP_FIELDS[step]}
    assert_problem(await staff.post("s-gulou", "wo-nothing", step, body), 404, "wo-nothing")


STEP_FIELDS = {
    "claim": (),
    "resolve": ("note",),
    "return": ("reason",),
    "verify": ("passed", "note"),
    "void": ("reason",),
    "accept": ("note",),
    "reject": ("reason",),
}


@pytest.mark.parametrize(
    ("who", "step", "body", "needle"),
    [
        ("w-west-1", "return", {}, "reason"),
        ("w-west-1", "return", {"reason": ""}, "reason"),
        ("w-west-1", "return", {"reason": "   "}, "give a reason"),
        ("s-gulou", "void", {}, "reason"),
        ("s-gulou", "void", {"reason": " "}, "give a reason"),
        ("s-gulou", "reject", {}, "reason"),
        ("s-gulou", "verify", {"note": "x"}, "passed"),
        ("s-gulou", "verify", {"passed": "false", "note": "x"}, "passed"),
    ],
)
async def test_a_step_without_its_reason_is_422(
    staff: Staff, wo: str, who: str, step: str, body: dict[str, Any], needle: str
) -> None:
    assert_problem(await staff.post(who, wo, step, body), 422, needle)
    assert (await staff.order(wo))["version"] == 2


async def test_a_resolution_and_a_failed_verification_need_their_notes(
    staff: Staff, wo: str
) -> None:
    await staff.ok("w-west-1", wo, "claim")
    assert_problem(await staff.post("w-west-1", wo, "resolve", {"note": ""}), 422, "note")
    assert_problem(await staff.post("w-west-1", wo, "resolve", {"note": " "}), 422, "a note")
    too_many = {"note": "x", "evidence": [f"p-{n}.jpg" for n in range(10)]}
    assert_problem(await staff.post("w-west-1", wo, "resolve", too_many), 422, "evidence")
    await staff.ok("w-west-1", wo, "resolve", {"note": "x"})
    failed = {"passed": False, "note": ""}
    assert_problem(await staff.post("s-gulou", wo, "verify", failed), 422, "why the verification")


# --- reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("w-west-1", 200),
        ("w-west-2", 200),  # a worker of the grid
        ("w-east", 404),
        ("chengguan", 404),
        ("s-gulou", 200),
        ("s-rencheng", 404),
        ("admin", 200),
        ("rider", 404),
    ],
)
async def test_who_reads_a_work_order(staff: Staff, wo: str, who: str, status: int) -> None:
    response = await staff.get(who, wo)
    if status == 404:
        assert_problem(response, 404, wo)
    else:
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["grid_name"], body["category_name"], body["text"]) == (
            "g-west 网格",
            "私拉电线/飞线充电",
            "楼道堆放杂物",
        )


async def test_a_work_order_nobody_filed_is_404(staff: Staff, file: Reports) -> None:
    assert_problem(await staff.get("s-gulou", "wo-nothing"), 404, "wo-nothing")


# --- listing ----------------------------------------------------------------------------------


@pytest.fixture
async def several(file: Reports, staff: Staff, app: FastAPI) -> None:
    """rep-a 0501 in g-west (w-west-1), rep-b 0202 in g-east (城管), rep-c 0501 in g-south
    (s-yanzhou, resolved), rep-d 0701 in g-west (pending review), rep-e 0501 in 任城区 r-1;
    every dispatched one is then overdue."""
    await file("rep-a")
    await file("rep-b", at=EAST, category="0202")
    c = await file("rep-c", at=SOUTH)
    await file("rep-d", at=north_of(WEST, 500), category="0701")
    await file("rep-e", at=RENCHENG_POINT)
    await staff.ok("s-yanzhou", c, "claim")
    await staff.ok("s-yanzhou", c, "resolve", {"note": "已处理"})
    assert await app.state.scan_time_limits(datetime.now(UTC) + timedelta(days=30)) > 0


@pytest.mark.usefixtures("several")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["rep-e", "rep-d", "rep-c", "rep-b", "rep-a"]),
        ({"district": YANZHOU}, ["rep-d", "rep-c", "rep-b", "rep-a"]),
        ({"district": RENCHENG}, ["rep-e"]),
        ({"street": "鼓楼街道"}, ["rep-d", "rep-b", "rep-a"]),
        ({"grid": "g-west"}, ["rep-d", "rep-a"]),
        ({"state": "pending_review"}, ["rep-d"]),
        ({"state": ["resolved", "pending_review"]}, ["rep-d", "rep-c"]),
        ({"category": "0202"}, ["rep-b"]),
        ({"assignee": "w-west-1"}, ["rep-a"]),
        ({"overdue": "true"}, ["rep-e", "rep-b", "rep-a"]),
        ({"overdue": "false"}, ["rep-d", "rep-c"]),
        ({"district": YANZHOU, "overdue": "true", "grid": "g-east"}, ["rep-b"]),
    ],
)
async def test_the_list_filters(staff: Staff, query: dict[str, Any], expected: list[str]) -> None:
    assert await staff.listed("s-city", **query) == expected


@pytest.mark.usefixtures("several")
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("w-west-1", ["rep-d", "rep-a"]),  # the orders of their grid
        ("w-east", ["rep-b"]),  # in their grid, though the department holds it
        ("chengguan", ["rep-b"]),  # what is assigned to it
        ("s-gulou", ["rep-d", "rep-c", "rep-b", "rep-a"]),  # their district's
        ("admin", ["rep-d", "rep-c", "rep-b", "rep-a"]),
        ("s-rencheng", ["rep-e"]),
    ],
)
async def test_each_role_lists_what_it_may_see(staff: Staff, who: str, expected: list[str]) -> None:
    assert await staff.listed(who) == expected


@pytest.mark.usefixtures("several")
async def test_a_department_lists_only_its_own_whatever_it_asks(staff: Staff) -> None:
    assert await staff.listed("chengguan", assignee="w-west-1") == ["rep-b"]


async def test_a_grid_worker_lists_what_is_assigned_to_them_outside_their_grids(
    staff: Staff, file: Reports, client: httpx.AsyncClient, app: FastAPI
) -> None:
    """A token names the grids a worker had when it was issued; an order assigned to them is
    theirs to see in the list, as it is to read and to claim."""
    wo = await file("rep-1")
    stale = bearer(app, role="grid_worker", subject="w-west-1", grids=["g-east"])
    assert (await client.get(f"/v1/workorders/{wo}", headers=stale)).status_code == 200
    listed = await client.get("/v1/workorders", headers=stale)
    assert [item["id"] for item in listed.json()["items"]] == [wo]


@pytest.mark.usefixtures("several")
async def test_the_list_of_another_district_is_403_and_riders_may_not_list(
    staff: Staff, client: httpx.AsyncClient
) -> None:
    response = await client.get(
        "/v1/workorders", params={"district": RENCHENG}, headers=staff.headers("s-gulou")
    )
    assert_problem(response, 403, "does not cover district 370811")
    assert_problem(await client.get("/v1/workorders", headers=staff.headers("rider")), 403)


@pytest.mark.usefixtures("several")
async def test_a_filtered_list_pages_by_cursor(staff: Staff, client: httpx.AsyncClient) -> None:
    headers = staff.headers("s-city")
    first = (await client.get("/v1/workorders", params={"limit": 2}, headers=headers)).json()
    second = await client.get(
        "/v1/workorders", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers
    )
    third = await client.get(
        "/v1/workorders",
        params={"limit": 2, "cursor": second.json()["next_cursor"]},
        headers=headers,
    )
    pages = [first["items"], second.json()["items"], third.json()["items"]]
    assert [[i["report_id"] for i in page] for page in pages] == [
        ["rep-e", "rep-d"],
        ["rep-c", "rep-b"],
        ["rep-a"],
    ]
    assert third.json()["next_cursor"] is None
