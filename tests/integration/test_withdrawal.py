"""A rider withdraws their report (撤回) across the four services: reporting shows it withdrawn
at once and tells dispatch, which voids the work order nobody has claimed; the report keeps
showing withdrawn, with the void on its timeline."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from gridloop_tools.stack import Stack
from tests.integration.conftest import Rider, eventually, points_in_grids
from tests.integration.test_work_order_life import YAN, Staff

WITHDRAWN_BY_REPORTER = "withdrawn_by_reporter"


def withdraw(stack: Stack, rider: Rider, report_id: str) -> httpx.Response:
    return rider.client.post(
        f"{stack.url('reporting')}/v1/reports/{report_id}/withdraw",
        json={"reason": "拍错了位置"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )


def order_voided(staff: Staff, rider: Rider, report_id: str) -> dict[str, Any]:
    """The report's work order once dispatch has voided it (its id as reporting shows it)."""
    work_order_id = eventually(lambda: rider.report(report_id)["work_order_id"], timeout=60)
    order: dict[str, Any] = eventually(
        lambda: (o := staff.order(work_order_id))["state"] == "voided" and o, timeout=60
    )
    return order


def shows_void(rider: Rider, report_id: str) -> dict[str, Any]:
    """The report once its timeline shows the void; it stays withdrawn."""
    report: dict[str, Any] = eventually(
        lambda: (r := rider.report(report_id))["work_order_state"] == "voided" and r, timeout=60
    )
    assert (report["status"], report["status_label"]) == ("withdrawn", "已撤回")
    # the work order's steps (the points paid at filing, and taken back at the void, join the
    # timeline whenever the ledger's events arrive)
    steps = [s["step"] for s in report["timeline"] if not s["step"].startswith("points_")]
    assert steps[:2] == ["submitted", "withdrawn"] or steps[:3] == [
        "submitted",
        "pending_review",
        "withdrawn",
    ], steps
    assert steps[-1] == "voided", steps
    return report


def test_withdrawn_reports_end_with_their_orders_voided(stack: Stack) -> None:
    review_point, normal_point = points_in_grids(YAN, slice(170, 172))
    staff = Staff(stack, YAN)
    reviewed, hasty = Rider(stack, district=YAN), Rider(stack, district=YAN)

    # a category a street supervisor reviews first: withdrawn while it waits
    disputed = reviewed.submit("0701", *review_point, "楼上邻居长期噪音纠纷")
    eventually(lambda: reviewed.report(disputed)["status"] == "pending_review", timeout=60)
    response = withdraw(stack, reviewed, disputed)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "withdrawn"
    order = order_voided(staff, reviewed, disputed)
    last = order["history"][-1]
    assert (last["action"], last["actor"], last["from_state"]) == (
        "withdraw",
        reviewed.id,
        "pending_review",
    )
    shows_void(reviewed, disputed)

    # a normal category, withdrawn right after it was submitted: nobody claimed it yet, so it
    # ends voided (unless reporting had already shown it accepted: then it is 409 and goes on)
    parked = hasty.submit("0402", *normal_point, "共享单车堵住单元门口")
    response = withdraw(stack, hasty, parked)
    if response.status_code == 409:
        assert response.json()["report_status"] in {"filed", "dispatched"}, response.text
        return
    assert response.status_code == 200, response.text
    order = order_voided(staff, hasty, parked)
    assert order["assignee"] is None
    assert order["history"][-1]["action"] == "withdraw"
    report = shows_void(hasty, parked)
    assert report["work_order_id"] == order["id"]
