"""The reporting HTTP API through FastAPI against a real SQLite database (no broker)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.auth import issue_token
from common.contracts.envelope import CloudEvent
from common.contracts.topics import Topic
from gridloop_tools.testing.builders import (
    district_catalogue_published,
    keyed_event,
    published_category,
    report_rejected,
)
from gridloop_tools.testing.service_fixtures import Auth, Deliver, assert_problem
from gridloop_tools.testing.service_suite import metric_sample

CoveringAuth = Callable[..., dict[str, str]]
REPORT = {"category": "0101", "lat": 35.5531, "lon": 116.8287, "text": "3号楼2单元楼道堆放杂物"}


async def publish(deliver: Deliver, **catalogue: Any) -> None:
    """Dispatch publishes a district's catalogue (370812's default one unless told)."""
    await deliver(keyed_event(district_catalogue_published(**catalogue)), Topic.DISTRICTS)


async def submit(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any] | None = None
) -> httpx.Response:
    return await client.post("/v1/reports", json=body or REPORT, headers=headers)


# --- metrics and the catalogue ----------------------------------------------------------------


async def test_a_submission_is_counted_in_the_metrics(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    assert (await submit(client, auth())).status_code == 201
    text = (await client.get("/metrics")).text
    assert metric_sample(text, "gridloop_reports_submitted_total", service="reporting") == 1.0
    assert (
        metric_sample(
            text,
            "gridloop_http_requests_total",
            service="reporting",
            route="/v1/reports",
            method="POST",
            status="201",
        )
        == 1.0
    )


async def test_categories_without_a_token_lists_every_district_labelled(
    client: httpx.AsyncClient, deliver: Deliver
) -> None:
    await publish(deliver, district="370811", district_name="任城区")
    response = await client.get("/v1/categories")
    assert response.status_code == 200
    catalogues = response.json()
    assert [(c["district"], c["district_name"]) for c in catalogues] == [
        ("370811", "任城区"),
        ("370812", "兖州区"),
    ]
    codes = {c["code"]: c for c in catalogues[1]["categories"]}
    assert len(codes) == 29
    assert codes["0102"] == {
        "code": "0102",
        "name": "消防/疏散通道堵占",
        "group_code": "01",
        "group_name": "楼道与公共空间堆物",
        "priority": "urgent",
        "handle_limit": "4 工作时",
        "active": True,
        "photo_required": False,
    }
    assert catalogues[1]["revision"] == 1


async def test_categories_of_one_district_or_of_the_callers(
    client: httpx.AsyncClient, auth: Auth, auth_covering: CoveringAuth, deliver: Deliver
) -> None:
    await publish(deliver, district="370811")
    asked = (await client.get("/v1/categories", params={"district": "370811"})).json()
    assert [c["district"] for c in asked] == ["370811"]
    mine = (await client.get("/v1/categories", headers=auth())).json()
    assert [c["district"] for c in mine] == ["370812"]
    covering = await client.get("/v1/categories", headers=auth_covering("370899", "370811"))
    assert [c["district"] for c in covering.json()] == ["370812", "370811"]


async def test_the_categories_of_a_district_not_served_are_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/categories", params={"district": "370899"})
    assert_problem(response, 404, "district 370899 is not served here")


async def test_the_category_list_refuses_a_bad_token_it_does_not_need(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/categories", headers={"Authorization": "Bearer nonsense"})
    assert_problem(response, 401, "invalid")
    assert response.headers["www-authenticate"].startswith("Bearer")


# --- submitting -------------------------------------------------------------------------------


async def test_submit_returns_the_new_report(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await submit(client, auth(subject="rider-7"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/reports/{body['id']}"
    assert "idempotent-replayed" not in response.headers
    assert body["reporter_id"] == "rider-7"
    assert body["district"] == "370812"
    assert body["category"] == "0101"
    assert body["category_name"] == "楼道杂物堆放"
    assert (body["lat"], body["lon"]) == (35.5531, 116.8287)
    assert body["text"] == REPORT["text"]
    assert body["status"] == "submitted"
    assert body["status_label"] == "已上报，待受理"
    assert body["grid_id"] is None and body["work_order_id"] is None
    assert body["work_order_state"] is None and body["deadline"] is None
    assert body["submitted_at"] == body["updated_at"]
    assert body["timeline"] == [
        {
            "step": "submitted",
            "label": "已上报",
            "at": body["submitted_at"],
            "work_order_id": None,
            "detail": "楼道杂物堆放",
            "photos": [],
        }
    ]


async def test_submitted_report_is_readable_and_listed(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    rider = auth(subject="rider-1")
    created = (await submit(client, rider)).json()
    fetched = await client.get(f"/v1/reports/{created['id']}", headers=rider)
    assert fetched.status_code == 200
    assert fetched.json() == created
    listed = await client.get("/v1/reports", headers=rider)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item == {key: value for key, value in created.items() if key != "timeline"}
    assert (listed.json()["limit"], listed.json()["next_cursor"]) == (50, None)


async def test_the_outbox_holds_report_submitted(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    created = (await submit(client, auth())).json()
    async with app.state.runtime.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.text("SELECT topic, message_key, event_type, payload FROM outbox")
            )
        ).all()
    assert [tuple(row[:3]) for row in rows] == [
        ("gridloop.reports.v1", created["id"], "gridloop.report.submitted")
    ]
    assert CloudEvent.from_bytes(rows[0][3]).data["reporter_districts"] == ["370812"]


async def test_a_rider_covering_several_districts_reports_for_them_all(
    client: httpx.AsyncClient, auth_covering: CoveringAuth, app: FastAPI, deliver: Deliver
) -> None:
    """A category of another district the token covers is accepted; dispatch hears which
    districts the rider covers and triages against them."""
    only_there = [published_category("0201")]
    await publish(deliver, district="370811", categories=only_there)
    headers = auth_covering("370811", "370899")
    response = await submit(client, headers, {**REPORT, "category": "0201"})
    assert response.status_code == 201, response.text
    assert response.json()["category_name"] == "非法小广告"
    async with app.state.runtime.engine.connect() as connection:
        payload = await connection.scalar(sa.text("SELECT payload FROM outbox"))
    assert CloudEvent.from_bytes(payload).data["reporter_districts"] == [
        "370812",
        "370811",
        "370899",
    ]


async def test_a_list_keeps_only_the_statuses_asked_for(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    rider = auth(subject="rider-s")
    kept = (await submit(client, rider)).json()["id"]
    rejected = (await submit(client, rider, {**REPORT, "category": "0102"})).json()["id"]
    await deliver(keyed_event(report_rejected(report_id=rejected, reporter_id="rider-s")))
    listed = await client.get("/v1/reports?mine&status=submitted", headers=rider)
    assert [item["id"] for item in listed.json()["items"]] == [kept]
    both = await client.get("/v1/reports?status=submitted&status=rejected", headers=rider)
    assert [item["id"] for item in both.json()["items"]] == [rejected, kept]
    wrong = await client.get("/v1/reports?status=lost", headers=rider)
    assert_problem(wrong, 422)


async def test_a_list_shows_only_the_callers_reports(client: httpx.AsyncClient, auth: Auth) -> None:
    await submit(client, auth(subject="rider-1"))
    await submit(client, auth(subject="rider-2"))
    await submit(client, auth(subject="rider-2"), {**REPORT, "category": "0102"})
    mine = (await client.get("/v1/reports", headers=auth(subject="rider-2"))).json()["items"]
    assert len(mine) == 2
    assert {item["reporter_id"] for item in mine} == {"rider-2"}
    first = (await client.get("/v1/reports?limit=1", headers=auth(subject="rider-2"))).json()
    params = {"limit": 1, "cursor": first["next_cursor"]}
    second = await client.get("/v1/reports", params=params, headers=auth(subject="rider-2"))
    assert [item["id"] for item in first["items"] + second.json()["items"]] == [
        item["id"] for item in mine
    ]


async def test_text_of_exactly_500_characters_is_accepted(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    response = await submit(client, auth(), {**REPORT, "text": "字" * 500})
    assert response.status_code == 201
    assert len(response.json()["text"]) == 500


# --- idempotency ------------------------------------------------------------------------------


async def test_retry_with_the_same_key_returns_the_original(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    headers = {**auth(), "Idempotency-Key": "k-123"}
    first = await submit(client, headers)
    second = await submit(client, headers)
    assert first.status_code == second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    listed = (await client.get("/v1/reports", headers=auth())).json()["items"]
    assert len(listed) == 1


async def test_reusing_a_key_for_another_report_is_a_conflict(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    headers = {**auth(), "Idempotency-Key": "k-123"}
    assert (await submit(client, headers)).status_code == 201
    response = await submit(client, headers, {**REPORT, "text": "完全不同的问题"})
    assert_problem(response, 409, "Idempotency-Key")
    assert len((await client.get("/v1/reports", headers=auth())).json()["items"]) == 1


async def test_an_over_long_idempotency_key_is_refused(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    response = await submit(client, {**auth(), "Idempotency-Key": "k" * 129})
    assert_problem(response, 422, "Idempotency-Key")


# --- bad input --------------------------------------------------------------------------------


async def test_malformed_json_is_400(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.post(
        "/v1/reports",
        content=b'{"category": "0101", "lat": ',
        headers={**auth(), "content-type": "application/json"},
    )
    assert_problem(response, 400, "not valid JSON")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lat": 90.0001}, "lat"),
        ({"lat": -91}, "lat"),
        ({"lon": 180.5}, "lon"),
        ({"lon": -181}, "lon"),
        ({"text": "x" * 501}, "text"),
        ({"text": ""}, "text"),
        ({"category": "abc"}, "category"),
        ({"category": "01011"}, "category"),
        ({"photo": "x.jpg"}, "photo"),
        # Strict types: numbers are JSON numbers, booleans are not numbers, strings are strings.
        ({"lat": "35.55"}, "lat"),
        ({"lat": True}, "lat"),
        ({"lon": "116.8287"}, "lon"),
        ({"lon": False}, "lon"),
        ({"category": 101}, "category"),
        ({"text": 42}, "text"),
        ({"text": ["楼道"]}, "text"),
    ],
)
async def test_invalid_fields_are_422_naming_the_field(
    client: httpx.AsyncClient, auth: Auth, change: dict[str, Any], field: str
) -> None:
    response = await submit(client, auth(), {**REPORT, **change})
    body = assert_problem(response, 422, field)
    assert field in {error["field"] for error in body["errors"]}


async def test_a_missing_field_is_422(client: httpx.AsyncClient, auth: Auth) -> None:
    body = {key: value for key, value in REPORT.items() if key != "lat"}
    assert_problem(await submit(client, auth(), body), 422, "lat")


async def test_nan_coordinates_are_refused(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.post(
        "/v1/reports",
        content=b'{"category": "0101", "lat": NaN, "lon": 116.8, "text": "x"}',
        headers={**auth(), "content-type": "application/json"},
    )
    assert_problem(response, 422, "lat")


async def test_a_whole_number_is_a_valid_coordinate(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await submit(client, auth(), {**REPORT, "lat": 35, "lon": 117})
    assert response.status_code == 201, response.text
    assert (response.json()["lat"], response.json()["lon"]) == (35.0, 117.0)


async def test_unknown_category_is_422(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await submit(client, auth(), {**REPORT, "category": "0000"})
    body = assert_problem(response, 422, "0000", "district 370812", "/v1/categories")
    assert body["title"] == "Unknown category"
    assert [error["field"] for error in body["errors"]] == ["category"]
    assert (await client.get("/v1/reports", headers=auth())).json()["items"] == []


async def test_a_category_the_district_withdrew_is_422(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    withdrawn = [published_category("0101", active=False), published_category("0102")]
    await publish(deliver, revision=2, categories=withdrawn)
    response = await submit(client, auth())
    body = assert_problem(response, 422, "'0101'", "no longer reported in district 370812")
    assert body["title"] == "Inactive category"
    assert [error["field"] for error in body["errors"]] == ["category"]
    assert (await submit(client, auth(), {**REPORT, "category": "0102"})).status_code == 201


async def test_a_rider_of_a_district_not_served_is_refused_at_the_door(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    response = await submit(client, auth(subject="rider-x", district="370899"))
    body = assert_problem(response, 403, "district 370899 is not served here")
    assert body["title"] == "District not served"


async def test_a_district_is_served_once_its_catalogue_arrives(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    rider = auth(subject="rider-x", district="370811")
    assert (await submit(client, rider)).status_code == 403
    await publish(deliver, district="370811")
    assert (await submit(client, rider)).status_code == 201


@pytest.mark.parametrize("role", ["grid_worker", "supervisor", "admin", "department"])
async def test_only_riders_may_submit(client: httpx.AsyncClient, auth: Auth, role: str) -> None:
    response = await submit(client, auth(role=role))
    assert_problem(response, 403, f"role '{role}'", "rider")


async def test_only_riders_may_list_their_reports(client: httpx.AsyncClient, auth: Auth) -> None:
    assert_problem(await client.get("/v1/reports", headers=auth(role="supervisor")), 403)


async def test_a_method_the_path_does_not_serve_is_405_naming_every_one_it_does(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    response = await client.delete("/v1/reports", headers=auth())
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET, POST"


async def test_unknown_report_is_404(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.get("/v1/reports/no-such-report", headers=auth())
    assert_problem(response, 404, "no-such-report")


# --- who sees what ----------------------------------------------------------------------------


async def test_another_riders_report_is_404(client: httpx.AsyncClient, auth: Auth) -> None:
    created = (await submit(client, auth(subject="rider-1"))).json()
    response = await client.get(f"/v1/reports/{created['id']}", headers=auth(subject="rider-2"))
    assert_problem(response, 404, created["id"])


async def test_staff_of_the_district_see_any_report(client: httpx.AsyncClient, auth: Auth) -> None:
    created = (await submit(client, auth(subject="rider-1"))).json()
    for role in ("supervisor", "admin", "service"):
        response = await client.get(
            f"/v1/reports/{created['id']}", headers=auth(role=role, subject="staff")
        )
        assert response.status_code == 200, role
        assert response.json()["id"] == created["id"]


@pytest.mark.parametrize(
    ("role", "district"),
    [("supervisor", "370811"), ("grid_worker", "370812"), ("department", "370811")],
)
async def test_others_do_not_see_the_report(
    client: httpx.AsyncClient, auth: Auth, role: str, district: str
) -> None:
    created = (await submit(client, auth(subject="rider-1"))).json()
    response = await client.get(
        f"/v1/reports/{created['id']}", headers=auth(role=role, subject="x", district=district)
    )
    # Staff and departments of another district, and a grid worker whose grids do not hold
    # the report, simply find nothing.
    assert_problem(response, 404, created["id"])


async def test_staff_whose_token_covers_the_district_see_the_report(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    created = (await submit(client, auth(subject="rider-1"))).json()
    token = issue_token(
        app.state.jwt_secret, role="supervisor", subject="city", district="370811",
        districts=["370812"],
    )  # fmt: skip
    response = await client.get(
        f"/v1/reports/{created['id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
