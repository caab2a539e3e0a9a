"""Open311 GeoReport v2 on the reporting service, over HTTP against a real SQLite database:
discovery, services and their definitions, partner API keys (issued, listed, revoked, scoped to
their district), requests filed through the same submission as a rider's report and read back
with no reporter identity, the filters of the request list — and every error a 4xx in the
spec's format, never a problem document, never a 500."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from gridloop_tools.testing import builders
from gridloop_tools.testing.builders import keyed_event
from gridloop_tools.testing.service_fixtures import Auth, Deliver, assert_problem
from gridloop_tools.testing.service_suite import metric_sample

V2 = "/open311/v2"
YANZHOU, RENCHENG = "370812", "370811"
WHERE = {"lat": "35.5531", "long": "116.8287"}
Serve = Callable[[FastAPI, str], Awaitable[None]]


def assert_open311_error(response: httpx.Response, status: int, *needles: str) -> str:
    """The response is the spec's error array with ``status``, and says each of ``needles``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, list) and len(body) == 1, body
    assert body[0]["code"] == status, body
    description: str = body[0]["description"]
    for needle in needles:
        assert needle in description, body
    assert "Traceback" not in response.text
    return description


async def issue_key(
    client: httpx.AsyncClient, auth: Auth, district: str = YANZHOU, partner: str = "12345热线平台"
) -> dict[str, Any]:
    response = await client.post(
        "/v1/admin/open311/keys",
        json={"partner": partner, "district": district},
        headers=auth(role="admin", subject="admin-1", district=district),
    )
    assert response.status_code == 201, response.text
    issued: dict[str, Any] = response.json()
    return issued


async def file(client: httpx.AsyncClient, api_key: str, **fields: str) -> httpx.Response:
    form = {"api_key": api_key, "service_code": "0101", **WHERE, **fields}
    return await client.post(f"{V2}/requests.json", data=form)


async def filed_id(client: httpx.AsyncClient, api_key: str, **fields: str) -> str:
    response = await file(client, api_key, **fields)
    assert response.status_code == 200, response.text
    (created,) = response.json()
    request_id: str = created["service_request_id"]
    return request_id


async def read(client: httpx.AsyncClient, request_id: str, **params: str) -> dict[str, Any]:
    response = await client.get(f"{V2}/requests/{request_id}.json", params=params)
    assert response.status_code == 200, response.text
    (found,) = response.json()
    assert isinstance(found, dict)
    return found


@pytest.fixture
async def key(client: httpx.AsyncClient, auth: Auth) -> str:
    api_key: str = (await issue_key(client, auth))["api_key"]
    return api_key


# --- discovery and services -----------------------------------------------------------------


async def test_discovery_names_the_v2_json_endpoint(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{V2}/discovery.json")
    assert response.status_code == 200, response.text
    (endpoint,) = response.json()["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://test/open311/v2"
    assert endpoint["formats"] == ["application/json"]
    assert response.json()["key_service"]


async def test_services_are_the_districts_active_categories(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await client.get(f"{V2}/services.json")
    assert response.status_code == 200, response.text
    services = {service["service_code"]: service for service in response.json()}
    assert "0101" in services and "0501" in services
    clutter = services["0101"]
    assert clutter["service_name"] == "楼道杂物堆放"
    assert clutter["metadata"] is False and clutter["type"] == "realtime"
    assert clutter["group"] and clutter["description"]
    with_jurisdiction = await client.get(f"{V2}/services.json", params={"jurisdiction_id": YANZHOU})
    assert with_jurisdiction.json() == response.json()


async def test_a_service_definition_has_no_attributes(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{V2}/services/0101.json")
    assert response.status_code == 200, response.text
    assert response.json() == {"service_code": "0101", "attributes": []}
    assert_open311_error(await client.get(f"{V2}/services/9999.json"), 404, "9999")


async def test_jurisdiction_is_required_once_several_districts_are_served(
    client: httpx.AsyncClient, app: FastAPI, serve: Serve
) -> None:
    await serve(app, RENCHENG)
    assert_open311_error(
        await client.get(f"{V2}/services.json"), 400, "jurisdiction_id is required"
    )
    served = await client.get(f"{V2}/services.json", params={"jurisdiction_id": RENCHENG})
    assert served.status_code == 200 and served.json()
    for path in ("services.json", "services/0101.json", "requests.json", "requests/x.json"):
        unknown = await client.get(f"{V2}/{path}", params={"jurisdiction_id": "110101"})
        assert_open311_error(unknown, 404, "110101")


# --- API keys -------------------------------------------------------------------------------


async def test_an_admin_issues_lists_and_revokes_keys(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    admin = auth(role="admin", subject="admin-1")
    issued = await issue_key(client, auth)
    assert len(issued["api_key"]) >= 40
    assert issued["district"] == YANZHOU and issued["revoked_at"] is None
    assert issued["reporter_id"] == f"partner:{issued['id']}"

    listed = await client.get("/v1/admin/open311/keys", headers=admin)
    assert listed.status_code == 200, listed.text
    (shown,) = listed.json()
    assert shown["id"] == issued["id"] and shown["partner"] == "12345热线平台"
    assert issued["api_key"] not in listed.text and "api_key" not in shown

    assert (await file(client, issued["api_key"])).status_code == 200
    revoked = await client.delete(f"/v1/admin/open311/keys/{issued['id']}", headers=admin)
    assert revoked.status_code == 204, revoked.text
    again = await client.delete(f"/v1/admin/open311/keys/{issued['id']}", headers=admin)
    assert again.status_code == 204
    (after,) = (await client.get("/v1/admin/open311/keys", headers=admin)).json()
    assert after["revoked_at"] is not None
    assert_open311_error(await file(client, issued["api_key"]), 403, "revoked")


async def test_only_an_admin_of_the_district_manages_its_keys(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    body = {"partner": "某App", "district": YANZHOU}
    rider = await client.post("/v1/admin/open311/keys", json=body, headers=auth())
    assert_problem(rider, 403)
    supervisor = await client.get(
        "/v1/admin/open311/keys", headers=auth(role="supervisor", subject="s-1")
    )
    assert_problem(supervisor, 403)
    elsewhere = auth(role="admin", subject="admin-2", district=RENCHENG)
    other = await client.post("/v1/admin/open311/keys", json=body, headers=elsewhere)
    assert_problem(other, 403, YANZHOU)

    issued = await issue_key(client, auth)
    assert (await client.get("/v1/admin/open311/keys", headers=elsewhere)).json() == []
    not_theirs = await client.delete(f"/v1/admin/open311/keys/{issued['id']}", headers=elsewhere)
    assert_problem(not_theirs, 404)
    assert_problem(
        await client.delete("/v1/admin/open311/keys/k-none", headers=auth(role="admin")), 404
    )
    invalid = await client.post(
        "/v1/admin/open311/keys", json={"partner": ""}, headers=auth(role="admin")
    )
    assert_problem(invalid, 422)


async def test_the_key_is_stored_only_as_a_hash(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    issued = await issue_key(client, auth)
    async with app.state.runtime.engine.connect() as connection:
        rows = (await connection.execute(sa.text("SELECT * FROM open311_api_keys"))).all()
    assert issued["api_key"] not in str(rows)


# --- filing a request -----------------------------------------------------------------------


async def submitted_events(app: FastAPI) -> list[CloudEvent]:
    async with app.state.runtime.engine.connect() as connection:
        rows = await connection.execute(
            sa.text(
                "SELECT payload FROM outbox WHERE event_type = 'gridloop.report.submitted' "
                "ORDER BY position"
            )
        )
        return [CloudEvent.from_bytes(row[0]) for row in rows]


async def test_a_partner_files_a_request_as_a_report_and_reads_it_back(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    issued = await issue_key(client, auth)
    response = await file(
        client,
        issued["api_key"],
        jurisdiction_id=YANZHOU,
        description="3号楼楼道堆满纸箱",
        address_string="兖州区建设东路88号3号楼",
        media_url="https://partner.example/photos/1.jpg",
        email="citizen@example.com",
        first_name="三",
        last_name="张",
        phone="13800000000",
        device_id="dev-1",
        account_id="acct-1",
    )
    assert response.status_code == 200, response.text
    (created,) = response.json()
    assert created["account_id"] is None and created["service_notice"]
    request_id = created["service_request_id"]

    (event,) = await submitted_events(app)
    assert event.data["report_id"] == request_id
    assert event.data["reporter_id"] == f"partner:{issued['id']}"
    assert event.data["category"] == "0101" and event.data["text"] == "3号楼楼道堆满纸箱"
    assert event.district == YANZHOU

    found = await read(client, request_id)
    assert found["service_request_id"] == request_id
    assert found["status"] == "open" and found["status_notes"] == "已上报，待受理"
    assert found["service_code"] == "0101" and found["service_name"] == "楼道杂物堆放"
    assert found["description"] == "3号楼楼道堆满纸箱"
    assert found["address"] == "兖州区建设东路88号3号楼"
    assert found["media_url"] == "https://partner.example/photos/1.jpg"
    assert (found["lat"], found["long"]) == (35.5531, 116.8287)
    assert found["agency_responsible"] is None and found["expected_datetime"] is None
    assert datetime.fromisoformat(found["requested_datetime"]) <= datetime.now(UTC)
    text = json.dumps(found, ensure_ascii=False)
    for private in ("citizen@example.com", "13800000000", "partner:", "reporter", "张"):
        assert private not in text


async def test_a_request_without_description_is_described_by_its_service(
    client: httpx.AsyncClient, key: str
) -> None:
    request_id = await filed_id(client, key)
    found = await read(client, request_id)
    assert found["description"] == "楼道杂物堆放" and found["address"] is None


async def test_the_request_follows_its_work_order_to_closed(
    client: httpx.AsyncClient, key: str, deliver: Deliver
) -> None:
    request_id = await filed_id(client, key)
    order: dict[str, Any] = {"report_id": request_id}
    deadline = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    await deliver(keyed_event(builders.work_order_filed(**order), sequence=1))
    await deliver(
        keyed_event(builders.work_order_dispatched(handle_due=deadline, **order), sequence=2)
    )
    dispatched = await read(client, request_id)
    assert dispatched["status"] == "open" and dispatched["status_notes"] == "已派遣"
    assert dispatched["agency_responsible"] == "鼓楼街道第1社区第1网格"
    assert datetime.fromisoformat(dispatched["expected_datetime"]) == deadline

    await deliver(keyed_event(builders.work_order_verified(**order), sequence=3))
    await deliver(keyed_event(builders.work_order_closed(**order), sequence=4))
    closed = await read(client, request_id)
    assert closed["status"] == "closed" and closed["status_notes"] == "已结案"


async def test_a_rejected_report_is_closed_with_its_reason(
    client: httpx.AsyncClient, key: str, deliver: Deliver
) -> None:
    request_id = await filed_id(client, key)
    await deliver(keyed_event(builders.report_rejected(report_id=request_id)))
    found = await read(client, request_id)
    assert found["status"] == "closed" and found["status_notes"].startswith("不予立案：")


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"service_code": "9999"}, "9999"),
        ({"service_code": ""}, "service_code is required"),
        ({"lat": "", "long": "", "address_string": "建设东路88号"}, "lat and long are required"),
        ({"lat": "", "long": ""}, "location is required"),
        ({"long": ""}, "together"),
        ({"lat": "north"}, "lat must be a decimal number"),
        ({"lat": "91"}, "lat must be between"),
        ({"long": "nan"}, "long must be between"),
        ({"media_url": "ftp://partner.example/1.jpg"}, "http or https"),
        ({"media_url": "https://p.example/" + "a" * 2000}, "2000"),
        ({"description": "长" * 501}, "500"),
        ({"address_string": "路" * 501}, "500"),
    ],
)
async def test_an_invalid_request_is_a_400(
    client: httpx.AsyncClient, key: str, fields: dict[str, str], needle: str
) -> None:
    assert_open311_error(await file(client, key, **fields), 400, needle)


async def test_a_request_must_be_form_encoded(client: httpx.AsyncClient, key: str) -> None:
    as_json = await client.post(
        f"{V2}/requests.json", json={"api_key": key, "service_code": "0101", **WHERE}
    )
    assert_open311_error(as_json, 400, "application/x-www-form-urlencoded")
    multipart = await client.post(
        f"{V2}/requests.json",
        data={"api_key": key, "service_code": "0101", **WHERE},
        files={"media": ("photo.jpg", b"\xff\xd8\xff", "image/jpeg")},
    )
    assert_open311_error(multipart, 400, "media_url")


async def test_api_key_in_the_query_string_is_accepted(client: httpx.AsyncClient, key: str) -> None:
    response = await client.post(
        f"{V2}/requests.json",
        params={"api_key": key, "jurisdiction_id": YANZHOU},
        data={"service_code": "0501", **WHERE},
    )
    assert response.status_code == 200, response.text


async def test_a_missing_or_unknown_key_is_a_403(client: httpx.AsyncClient) -> None:
    missing = await client.post(f"{V2}/requests.json", data={"service_code": "0101", **WHERE})
    assert_open311_error(missing, 403, "api_key is required")
    assert_open311_error(await file(client, "not-a-key"), 403, "not valid")


async def test_a_key_files_only_in_its_own_district(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI, serve: Serve
) -> None:
    await serve(app, RENCHENG)
    yanzhou = (await issue_key(client, auth, YANZHOU))["api_key"]
    rencheng = (await issue_key(client, auth, RENCHENG))["api_key"]
    assert_open311_error(await file(client, yanzhou, jurisdiction_id=RENCHENG), 403, YANZHOU)
    assert_open311_error(await file(client, yanzhou, jurisdiction_id="110101"), 404, "110101")

    in_yanzhou = await filed_id(client, yanzhou)
    in_rencheng = await filed_id(client, rencheng, jurisdiction_id=RENCHENG)
    assert (await read(client, in_rencheng, jurisdiction_id=RENCHENG))["status"] == "open"
    hidden = await client.get(
        f"{V2}/requests/{in_rencheng}.json", params={"jurisdiction_id": YANZHOU}
    )
    assert_open311_error(hidden, 404, in_rencheng)
    listed = await client.get(f"{V2}/requests.json", params={"jurisdiction_id": YANZHOU})
    assert [r["service_request_id"] for r in listed.json()] == [in_yanzhou]


async def test_a_key_of_a_district_not_served_yet_files_nothing(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    unserved = (await issue_key(client, auth, RENCHENG))["api_key"]
    assert_open311_error(await file(client, unserved), 404, RENCHENG)


# --- the request list -----------------------------------------------------------------------


async def test_requests_are_listed_newest_first_with_their_filters(
    client: httpx.AsyncClient, key: str, deliver: Deliver, auth: Auth
) -> None:
    first = await filed_id(client, key)
    second = await filed_id(client, key, service_code="0501")
    rider = await client.post(
        "/v1/reports",
        json={"category": "0101", "lat": 35.55, "lon": 116.83, "text": "骑手上报"},
        headers=auth(subject="rider-7"),
    )
    by_rider = rider.json()["id"]
    order: dict[str, Any] = {"report_id": first}
    await deliver(keyed_event(builders.work_order_filed(**order), sequence=1))
    await deliver(keyed_event(builders.work_order_verified(**order), sequence=2))
    await deliver(keyed_event(builders.work_order_closed(**order), sequence=3))

    async def listed(**params: str) -> list[str]:
        response = await client.get(f"{V2}/requests.json", params=params)
        assert response.status_code == 200, response.text
        assert "rider-7" not in response.text and "partner:" not in response.text
        return [item["service_request_id"] for item in response.json()]

    assert await listed() == [by_rider, second, first]
    assert await listed(status="closed") == [first]
    assert await listed(status="open") == [by_rider, second]
    assert await listed(status="open,closed") == [by_rider, second, first]
    assert await listed(service_code="0501") == [second]
    assert await listed(service_code="0501,0101", status="open") == [by_rider, second]
    assert await listed(service_request_id=f"{first},{second},nope") == [second, first]
    long_ago = {"start_date": "2020-01-01T00:00:00Z", "end_date": "2020-02-01T00:00:00Z"}
    assert await listed(**long_ago) == []
    today = datetime.now(UTC)
    recent = {"start_date": (today - timedelta(days=1)).isoformat()}
    assert await listed(**recent) == [by_rider, second, first]
    assert await listed(end_date=(today + timedelta(days=1)).isoformat()) == [
        by_rider,
        second,
        first,
    ]


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"status": "pending"}, "status must be open or closed"),
        ({"start_date": "yesterday"}, "start_date must be a W3C datetime"),
        ({"end_date": "2026-13-01"}, "end_date must be a W3C datetime"),
        (
            {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
            "90 days",
        ),
        (
            {"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
            "before start_date",
        ),
        ({"service_request_id": ",".join(str(n) for n in range(1001))}, "at most 1000"),
    ],
)
async def test_an_invalid_filter_is_a_400(
    client: httpx.AsyncClient, params: dict[str, str], needle: str
) -> None:
    assert_open311_error(await client.get(f"{V2}/requests.json", params=params), 400, needle)


async def test_an_unknown_request_is_a_404(client: httpx.AsyncClient) -> None:
    assert_open311_error(await client.get(f"{V2}/requests/nope.json"), 404, "nope")


# --- what is not served ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["discovery.xml", "services.xml", "services/0101.xml", "requests.xml", "requests/x.xml"]
)
async def test_xml_is_refused_in_json(client: httpx.AsyncClient, path: str) -> None:
    assert_open311_error(await client.get(f"{V2}/{path}"), 400, "only JSON")


async def test_other_paths_and_methods_answer_in_the_spec_format(
    client: httpx.AsyncClient,
) -> None:
    assert_open311_error(await client.get(f"{V2}/tokens/abc.json"), 404, "no Open311 resource")
    assert_open311_error(await client.get(f"{V2}/services"), 404)
    not_allowed = await client.delete(f"{V2}/requests.json")
    assert_open311_error(not_allowed, 405, "DELETE")
    assert not_allowed.headers["allow"] == "GET, POST"
    assert_open311_error(await client.put(f"{V2}/services.json"), 405)


async def test_an_oversized_form_is_refused_before_it_is_read(
    client: httpx.AsyncClient, key: str
) -> None:
    """The service-wide body limit answers first, as a problem document (docs/open311.md)."""
    assert_problem(await file(client, key, description="x" * 100_000), 413)


async def test_requests_are_counted_by_operation_and_outcome(
    client: httpx.AsyncClient, key: str
) -> None:
    await filed_id(client, key)
    await file(client, "bad")
    await client.get(f"{V2}/services.json")
    await client.get(f"{V2}/requests/nope.json")
    text = (await client.get("/metrics")).text
    name = "gridloop_open311_requests_total"
    assert metric_sample(text, name, operation="create", outcome="ok") == 1
    assert metric_sample(text, name, operation="create", outcome="forbidden") == 1
    assert metric_sample(text, name, operation="services", outcome="ok") == 1
    assert metric_sample(text, name, operation="get", outcome="not_found") == 1


async def test_open311_routes_stay_out_of_the_openapi_document(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    assert not [path for path in paths if path.startswith(V2)]
    assert "/v1/admin/open311/keys" in paths
