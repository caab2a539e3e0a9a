"""GET /v1/stats (综合评价) on a real SQLite database: orders in every state across two
districts, written through the real repository with their history at chosen moments, and every
figure checked against a count by hand (the orders' stories are told next to each)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from common.auth import issue_token
from dispatch.adapters.unit_of_work import SqlDispatchUnitOfWork
from dispatch.domain.calendar import SHANGHAI
from dispatch.domain.triage import Rejected, RejectionCode
from dispatch.domain.work_orders import Assignee, AssigneeKind
from gridloop_tools.testing.service_fixtures import Auth, assert_problem
from gridloop_tools.testing.work_orders import OrderStory

A, B = "370812", "370811"
MARCH = {"from": "2025-03-01", "to": "2025-03-31"}
FAR = datetime(2099, 1, 1, tzinfo=SHANGHAI)
"""A deadline that has not passed."""
WORKER = Assignee(AssigneeKind.GRID_WORKER, "w-1", "网格员")
DEPARTMENT = Assignee(AssigneeKind.DEPARTMENT, "d-1", "城管执法中队")


def at(day: int, hour: int = 9, minute: int = 0, *, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=SHANGHAI)


def district_a() -> list[OrderStory]:
    return [
        # A1: a report merged into it (并单); closed on time, rated 5. Claim 30 min, handling 5 h.
        OrderStory("a1", A, at(3), grid="a-1")
        .dispatch(at(3), due=at(3, 17), to=WORKER)
        .claim(at(3, 9, 30))
        .merge("rep-m1", at(3, 10))
        .resolve(at(3, 12))
        .verify(at(3, 14))
        .rate(at(4, 10), 5),
        # A2: failed verification once (返工), closed after its new deadline. Claim 1 h,
        # handling 31 h.
        OrderStory("a2", A, at(5), grid="a-1")
        .dispatch(at(5), due=at(5, 13), to=WORKER)
        .claim(at(5, 10))
        .resolve(at(5, 12))
        .verify(at(5, 14), rework_due=at(6, 14))
        .claim(at(5, 15))
        .resolve(at(6, 10))
        .verify(at(6, 16)),
        # A3: closed on time, rated 2 (not satisfied). Claim 2 h, handling 7 h.
        OrderStory("a3", A, at(10), grid="a-1")
        .dispatch(at(10), due=at(10, 17), to=WORKER)
        .claim(at(10, 11))
        .resolve(at(10, 15))
        .verify(at(10, 16))
        .rate(at(11), 2),
        # A4: never claimed, past its deadline: due, open and overdue. Grid a-2.
        OrderStory("a4", A, at(12), grid="a-2").dispatch(at(12), due=at(12, 17), to=WORKER),
        # A5: claimed after 1 h, deadline far ahead: not due, open.
        OrderStory("a5", A, at(20), grid="a-1")
        .dispatch(at(20), due=FAR, to=WORKER)
        .claim(at(20, 10)),
        # A6: waiting for review: never filed, open, no clock.
        OrderStory("a6", A, at(15), grid="a-1", review=True),
        # A7: filed when accepted after review on the 25th, dispatched, deadline far ahead.
        OrderStory("a7", A, at(25), grid="a-1", review=True)
        .accept(at(25, 10))
        .dispatch(at(25, 10), due=FAR, to=WORKER),
        # A8: refused after review (不予立案) on the 26th.
        OrderStory("a8", A, at(26), grid="a-1", review=True).reject(at(26, 11)),
        # A9: voided an hour after filing: filed, never due.
        OrderStory("a9", A, at(8), grid="a-1")
        .dispatch(at(8), due=at(8, 17), to=WORKER)
        .void(at(8, 10)),
        # A10: filed in February (a report merged then too), closed in March: not of the
        # period's cohort.
        OrderStory("a10", A, at(27, month=2), grid="a-1")
        .dispatch(at(27, month=2), due=at(27, 17, month=2), to=WORKER)
        .claim(at(27, 10, month=2))
        .merge("rep-m2", at(28, month=2))
        .resolve(at(1))
        .verify(at(2)),
        # A11: filed 23:30 on the last day (in), due after the period ends: not due; overdue now.
        OrderStory("a11", A, at(31, 23, 30), grid="a-1").dispatch(
            at(31, 23, 30), due=at(1, 8, month=4), to=WORKER
        ),
        # A12: filed half an hour after the period: out; open.
        OrderStory("a12", A, at(1, 0, 30, month=4), grid="a-1").dispatch(
            at(1, 0, 30, month=4), due=FAR, to=WORKER
        ),
        # A13: closed, then reopened (发回重办) and dispatched again: due, not closed, overdue.
        # Claim 15 min.
        OrderStory("a13", A, at(14), grid="a-1")
        .dispatch(at(14), due=at(14, 17), to=WORKER)
        .claim(at(14, 9, 15))
        .resolve(at(14, 10))
        .verify(at(14, 11))
        .reopen(at(15))
        .dispatch(at(15), due=at(15, 17), to=WORKER),
        # A14: reported in February, accepted after review on 1 March: filed in the period.
        OrderStory("a14", A, at(28, month=2), grid="a-1", review=True)
        .accept(at(1, 10))
        .dispatch(at(1, 10), due=FAR, to=WORKER),
    ]


def district_b() -> list[OrderStory]:
    return [
        # B1: the department's, closed on time, rated 4 (satisfied). Claim 10 min, handling 4 h.
        OrderStory("b1", B, at(4), street="城关街道", grid="b-1")
        .dispatch(at(4), due=at(4, 17), to=DEPARTMENT)
        .claim(at(4, 9, 10))
        .resolve(at(4, 12))
        .verify(at(4, 13))
        .rate(at(5), 4),
        # B2: returned by the worker, now the department's, past its deadline.
        OrderStory("b2", B, at(6), street="城关街道", grid="b-1")
        .dispatch(at(6), due=at(6, 17), to=WORKER)
        .return_(at(6, 10))
        .dispatch(at(6, 10), due=at(7, 10), to=DEPARTMENT),
        # B3: resolved, waiting for verification past its deadline: due, open, not overdue.
        # Claim 30 min.
        OrderStory("b3", B, at(18), street="新驿镇", grid="b-2")
        .dispatch(at(18), due=at(18, 17), to=WORKER)
        .claim(at(18, 9, 30))
        .resolve(at(18, 16)),
    ]


async def seed(app: FastAPI) -> None:
    unit_of_work = app.state.runtime.unit_of_work_factory(SqlDispatchUnitOfWork)
    async with unit_of_work() as uow:
        for story in district_a() + district_b():
            await uow.work_orders.add(story.order)
        refusals: list[tuple[str, str | None, RejectionCode, datetime]] = [
            ("rep-x1", A, RejectionCode.UNKNOWN_CATEGORY, at(7)),
            ("rep-x2", A, RejectionCode.DISTRICT_MISMATCH, at(10, month=2)),  # February
            ("rep-x3", None, RejectionCode.OUTSIDE_SERVICE_AREA, at(7, 10)),  # no district
            ("rep-a8", A, RejectionCode.REJECTED_ON_REVIEW, at(26, 11)),  # A8, as on review
            ("rep-x4", B, RejectionCode.INACTIVE_CATEGORY, at(9)),
        ]
        for report_id, district, code, when in refusals:
            await uow.work_orders.record_rejection(
                report_id=report_id,
                reporter_id="rider-x",
                district=district,
                category="0501",
                lat=35.5,
                lon=116.8,
                decision=Rejected(code, "不予立案", district),
                at=when,
            )
        await uow.commit()


# The figures, counted by hand from the stories above.
A_FIGURES: dict[str, Any] = {
    "reports": 13,  # 11 orders created in March (a1–a9, a11, a13) + 1 merged + 1 refused
    "filed": 10,  # a1 a2 a3 a4 a5 a7 a9 a11 a13 a14 (a6 waits for review, a8 refused)
    "merged": 1,
    "rejected": 2,  # unknown category + a8 after review
    "due": 5,  # a1 a2 a3 (closed), a4 and a13 (deadline passed)
    "closed": 3,  # a1 a2 a3
    "closed_on_time": 2,  # a1 a3
    "reworked": 1,  # a2
    "closing_rate": 0.6,
    "on_time_closing_rate": 0.4,
    "rework_rate": 0.2,
    "claimed": 5,  # a1 a2 a3 a5 a13: 1800 + 3600 + 7200 + 3600 + 900 = 17100 s
    "average_claim_seconds": 3420.0,
    "average_handling_seconds": 51600.0,  # (18000 + 111600 + 25200) / 3
    "rated": 2,
    "satisfied": 1,
    "satisfaction_rate": 0.5,
    "open_now": 8,  # a4 a5 a6 a7 a11 a12 a13 a14
    "overdue_now": 3,  # a4 a11 a13
}
B_FIGURES: dict[str, Any] = {
    "reports": 4,  # b1 b2 b3 + 1 refused (inactive category)
    "filed": 3,
    "merged": 0,
    "rejected": 1,
    "due": 3,  # b1 (closed), b2 and b3 (deadline passed)
    "closed": 1,
    "closed_on_time": 1,
    "reworked": 0,
    "closing_rate": 0.3333,
    "on_time_closing_rate": 0.3333,
    "rework_rate": 0.0,
    "claimed": 2,  # b1 600 s, b3 1800 s
    "average_claim_seconds": 1200.0,
    "average_handling_seconds": 14400.0,
    "rated": 1,
    "satisfied": 1,
    "satisfaction_rate": 1.0,
    "open_now": 2,  # b2 b3
    "overdue_now": 1,  # b2 (b3 waits for verification)
}
TOTAL_FIGURES: dict[str, Any] = {
    "reports": 17,
    "filed": 13,
    "merged": 1,
    "rejected": 3,
    "due": 8,
    "closed": 4,
    "closed_on_time": 3,
    "reworked": 1,
    "closing_rate": 0.5,
    "on_time_closing_rate": 0.375,
    "rework_rate": 0.125,
    "claimed": 7,
    "average_claim_seconds": 2785.7,  # 19500 / 7
    "average_handling_seconds": 42300.0,  # 169200 / 4
    "rated": 3,
    "satisfied": 2,
    "satisfaction_rate": 0.6667,
    "open_now": 10,
    "overdue_now": 4,
}


@pytest.fixture
def city(app: FastAPI) -> Callable[..., dict[str, str]]:
    """A token covering both districts (a city command centre's)."""

    def make(*, role: str = "supervisor", subject: str = "s-city") -> dict[str, str]:
        token = issue_token(
            app.state.jwt_secret, role=role, subject=subject, district=A, districts=[B]
        )
        return {"Authorization": f"Bearer {token}"}

    return make


async def stats(
    client: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> httpx.Response:
    return await client.get("/v1/stats", params=params, headers=headers)


def figures_of(body: dict[str, Any]) -> dict[str, Any]:
    return {key: body[key] for key in A_FIGURES}


async def test_every_figure_of_two_districts_and_their_total(
    app: FastAPI, client: httpx.AsyncClient, city: Callable[..., dict[str, str]]
) -> None:
    await seed(app)
    response = await stats(client, city(), **MARCH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["period"] == {
        "from": "2025-03-01",
        "to": "2025-03-31",
        "start": "2025-03-01T00:00:00+08:00",
        "end": "2025-04-01T00:00:00+08:00",
        "cutoff": "2025-04-01T00:00:00+08:00",
    }
    assert body["scope"] == {"districts": [B, A], "street": None, "grid": None, "department": None}
    districts = {row["district"]: row for row in body["districts"]}
    assert [row["district"] for row in body["districts"]] == [B, A]
    assert figures_of(districts[A]) == A_FIGURES
    assert figures_of(districts[B]) == B_FIGURES
    assert figures_of(body["total"]) == TOTAL_FIGURES


async def test_the_same_figures_as_csv(
    app: FastAPI, client: httpx.AsyncClient, city: Callable[..., dict[str, str]]
) -> None:
    await seed(app)
    by_accept = await client.get(
        "/v1/stats", params=MARCH, headers={**city(), "Accept": "text/csv"}
    )
    by_format = await stats(client, city(), **MARCH, format="csv")
    assert by_accept.status_code == by_format.status_code == 200, by_accept.text
    assert by_accept.headers["content-type"] == "text/csv; charset=utf-8"
    assert "gridloop-stats-2025-03-01-2025-03-31.csv" in by_accept.headers["content-disposition"]
    assert by_accept.text == by_format.text
    rows = list(csv.DictReader(io.StringIO(by_accept.text)))
    assert [(row["district"], row["from"], row["to"]) for row in rows] == [
        (B, "2025-03-01", "2025-03-31"),
        (A, "2025-03-01", "2025-03-31"),
        ("all", "2025-03-01", "2025-03-31"),
    ]
    assert rows[2]["name"] == "合计"
    for row, expected in zip(rows, (B_FIGURES, A_FIGURES, TOTAL_FIGURES), strict=True):
        assert {key: row[key] for key in expected} == {k: str(v) for k, v in expected.items()}


async def test_format_json_wins_over_accept(
    app: FastAPI, client: httpx.AsyncClient, city: Callable[..., dict[str, str]]
) -> None:
    response = await client.get(
        "/v1/stats", params={**MARCH, "format": "json"}, headers={**city(), "Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.json()["total"]["reports"] == 0


async def test_a_rate_over_nothing_is_empty_in_csv_and_null_in_json(
    client: httpx.AsyncClient, city: Callable[..., dict[str, str]]
) -> None:
    as_json = (await stats(client, city(), **MARCH)).json()
    assert as_json["total"]["closing_rate"] is None
    as_csv = list(
        csv.DictReader(io.StringIO((await stats(client, city(), **MARCH, format="csv")).text))
    )
    assert as_csv[-1]["closing_rate"] == ""
    assert as_csv[-1]["due"] == "0"


# --- scope ------------------------------------------------------------------------------------


async def test_a_supervisor_sees_only_the_districts_the_token_covers(
    app: FastAPI, client: httpx.AsyncClient, auth: Auth
) -> None:
    await seed(app)
    of_b = auth(role="supervisor", subject="s-b", district=B)
    body = (await stats(client, of_b, **MARCH)).json()
    assert [row["district"] for row in body["districts"]] == [B]
    assert figures_of(body["total"]) == B_FIGURES
    assert_problem(await stats(client, of_b, district=A, **MARCH), 403, A)


async def test_an_admin_may_ask_for_one_district(
    app: FastAPI, client: httpx.AsyncClient, city: Callable[..., dict[str, str]]
) -> None:
    await seed(app)
    body = (await stats(client, city(role="admin"), district=A, **MARCH)).json()
    assert [row["district"] for row in body["districts"]] == [A]
    assert figures_of(body["total"]) == A_FIGURES


@pytest.mark.parametrize("role", ["rider", "grid_worker", "department", "service"])
async def test_only_supervisors_and_admins_may_ask(
    client: httpx.AsyncClient, auth: Auth, role: str
) -> None:
    assert_problem(await stats(client, auth(role=role, subject="x"), **MARCH), 403)


async def test_without_a_token_it_is_401(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/stats"), 401)


@pytest.mark.parametrize(
    ("narrowed", "expected"),
    [
        # b1 b2; the refusal at triage has no street, so it does not count
        (
            {"street": "城关街道"},
            {
                "reports": 2,
                "filed": 2,
                "rejected": 0,
                "due": 2,
                "closed": 1,
                "closing_rate": 0.5,
                "open_now": 1,
                "overdue_now": 1,
            },
        ),
        # a4
        (
            {"grid": "a-2"},
            {
                "reports": 1,
                "filed": 1,
                "due": 1,
                "closed": 0,
                "closing_rate": 0.0,
                "overdue_now": 1,
            },
        ),
        # b1 and b2, now the department's (b2 after the worker returned it)
        (
            {"department": "d-1"},
            {
                "filed": 2,
                "due": 2,
                "closed": 1,
                "closed_on_time": 1,
                "claimed": 1,
                "average_claim_seconds": 600.0,
                "open_now": 1,
                "overdue_now": 1,
            },
        ),
    ],
)
async def test_a_street_a_grid_or_a_department_counts_only_their_orders(
    app: FastAPI,
    client: httpx.AsyncClient,
    city: Callable[..., dict[str, str]],
    narrowed: dict[str, str],
    expected: dict[str, Any],
) -> None:
    await seed(app)
    body = (await stats(client, city(), **narrowed, **MARCH)).json()
    assert {key: body["total"][key] for key in expected} == expected
    scope = {"street": None, "grid": None, "department": None} | narrowed
    assert body["scope"] == {"districts": [B, A], **scope}


async def test_a_period_still_running_is_cut_off_now(
    app: FastAPI, client: httpx.AsyncClient, city: Callable[..., dict[str, str]]
) -> None:
    now = datetime.now(SHANGHAI)
    moment = now - timedelta(seconds=2)
    late = OrderStory("late", A, moment).dispatch(moment, due=now - timedelta(seconds=1), to=WORKER)
    timely = OrderStory("timely", A, moment).dispatch(
        moment, due=now + timedelta(hours=1), to=WORKER
    )
    unit_of_work = app.state.runtime.unit_of_work_factory(SqlDispatchUnitOfWork)
    async with unit_of_work() as uow:
        for story in (late, timely):
            await uow.work_orders.add(story.order)
        await uow.commit()
    today = moment.date().isoformat()
    body = (await stats(client, city(), **{"from": today, "to": today})).json()
    cutoff = datetime.fromisoformat(body["period"]["cutoff"])
    assert now <= cutoff < datetime.fromisoformat(body["period"]["end"])
    # both filed today; only the one whose deadline has passed by now is due
    assert (body["total"]["filed"], body["total"]["due"], body["total"]["overdue_now"]) == (2, 1, 1)


async def test_without_dates_it_is_the_month_so_far(
    client: httpx.AsyncClient, city: Callable[..., dict[str, str]]
) -> None:
    period = (await stats(client, city())).json()["period"]
    assert period["from"][8:] == "01"
    assert period["from"][:7] == period["to"][:7]


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2025-02-30", "to": "2025-03-01"}, "query.from"),
        ({"from": "2025-03-01", "to": "yesterday"}, "query.to"),
        ({"from": "2025-03-02", "to": "2025-03-01"}, "query.from"),
        ({"from": "2024-01-01", "to": "2025-01-01"}, "query.to"),
        ({"format": "xml"}, "query.format"),
        ({"district": "37081"}, "query.district"),
    ],
)
async def test_bad_parameters_are_a_422_problem_naming_the_field(
    client: httpx.AsyncClient,
    city: Callable[..., dict[str, str]],
    params: dict[str, str],
    field: str,
) -> None:
    body = assert_problem(await stats(client, city(), **params), 422)
    assert field in [error["field"] for error in body["errors"]], body
