"""A partner system (a 12345 hotline platform) files a request through Open311 GeoReport v2
and follows it across the four services: the request is filed as a work order, shows open with
its grid and deadline, and shows closed once the grid worker has handled it and the supervisor
has verified it."""

from __future__ import annotations

from typing import Any

import httpx

from common.auth import DEVELOPMENT_SECRET, issue_token
from gridloop_tools.stack import Stack
from tests.integration.conftest import eventually, points_in_grids
from tests.integration.test_work_order_life import Staff

YAN = "370812"
"""兖州区: the 任城区 figures belong to the work-order life test alone."""


def test_a_request_filed_through_open311_is_followed_to_closed(stack: Stack) -> None:
    reporting = stack.url("reporting")
    admin = issue_token(DEVELOPMENT_SECRET, role="admin", subject="it-admin", district=YAN)
    issued = httpx.post(
        f"{reporting}/v1/admin/open311/keys",
        json={"partner": "12345热线平台", "district": YAN},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=15,
    )
    assert issued.status_code == 201, issued.text
    (lat, lon) = points_in_grids(YAN, slice(170, 171))[0]

    created = httpx.post(
        f"{reporting}/open311/v2/requests.json",
        data={
            "api_key": issued.json()["api_key"],
            "jurisdiction_id": YAN,
            "service_code": "0501",
            "lat": str(lat),
            "long": str(lon),
            "address_string": "兖州区某小区5号楼2单元",
            "description": "楼道内飞线给电动车充电",
            "media_url": "https://hotline.example/media/7.jpg",
        },
        timeout=15,
    )
    assert created.status_code == 200, created.text
    request_id = created.json()[0]["service_request_id"]

    def shown() -> dict[str, Any]:
        response = httpx.get(
            f"{reporting}/open311/v2/requests/{request_id}.json",
            params={"jurisdiction_id": YAN},
            timeout=15,
        )
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()[0]
        return found

    dispatched: dict[str, Any] = eventually(
        lambda: (r := shown())["expected_datetime"] is not None and r, timeout=60
    )
    assert dispatched["status"] == "open"
    assert dispatched["agency_responsible"]
    assert dispatched["address"] == "兖州区某小区5号楼2单元"

    staff = Staff(stack, YAN)
    supervisor = httpx.get(
        f"{reporting}/v1/reports/{request_id}",
        headers={"Authorization": f"Bearer {staff.supervisor}"},
        timeout=15,
    )
    assert supervisor.status_code == 200, supervisor.text
    order_id = supervisor.json()["work_order_id"]
    assert staff.order(order_id)["grid_name"] == dispatched["agency_responsible"]

    staff.act(order_id, "claim")
    staff.act(order_id, "resolve", {"note": "已拆除飞线"})
    assert staff.act(order_id, "verify", {"passed": True, "note": "现场核查通过"})["state"] == (
        "closed"
    )
    closed: dict[str, Any] = eventually(lambda: (r := shown())["status"] == "closed" and r)
    assert closed["status_notes"] == "已结案"
    assert "partner:" not in str(closed)
