"""One work order's messages through the real broker and the four services: the reporter's, the
assignee's and the reviewing street supervisor's inboxes, and the assignee's signed webhook
delivery to a real receiver."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from common.auth import DEVELOPMENT_SECRET, issue_token
from gridloop_tools.stack import Stack
from gridloop_tools.staff import assignee_member, districts_root, find_member, load_roster
from gridloop_tools.testing.webhook_receiver import Receiver, running
from tests.integration.conftest import Rider, eventually, points_in_grids

DISTRICT = "370812"
SECRET = "integration-webhook-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A signature-checking webhook receiver served from its own thread and event loop."""
    receiver = Receiver(secrets=[SECRET])
    ready, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        async with running(receiver):
            ready.set()
            await asyncio.to_thread(stop.wait)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(timeout=10)
    yield receiver
    stop.set()
    thread.join(timeout=10)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_reporter_and_the_assignee_hear_of_one_order_and_the_webhook_gets_it_signed(
    stack: Stack,
    rider_factory: Callable[[], Rider],
    receiver: Receiver,
) -> None:
    notification = stack.url("notification")
    admin = bearer(
        issue_token(DEVELOPMENT_SECRET, role="admin", subject="it-admin", district=DISTRICT)
    )
    webhook = f"{notification}/v1/webhooks/{DISTRICT}/assignee"
    with httpx.Client(timeout=15) as http:
        configured = http.put(webhook, json={"url": receiver.url, "secret": SECRET}, headers=admin)
        assert configured.status_code == 200, configured.text
        try:
            rider = rider_factory()
            # a grid no other test reports in, so the report is not merged into another's order
            (point,) = points_in_grids(DISTRICT, slice(190, 191))
            report_id = rider.submit("0501", *point, "楼道里有人飞线充电")
            report = eventually(
                lambda: (r := rider.report(report_id))["status"] == "dispatched" and r
            )
            order_id = report["work_order_id"]

            supervisor = find_member(f"{DISTRICT}-d-01", districts_root(), [DISTRICT])
            order = http.get(
                f"{stack.url('dispatch')}/v1/workorders/{order_id}",
                headers=bearer(supervisor.token(DEVELOPMENT_SECRET)),
            ).json()
            assignee = assignee_member(
                order["assignee"],
                district=DISTRICT,
                grid_id=order["grid_id"],
                roster=load_roster(districts_root(), DISTRICT),
            )
            as_assignee = bearer(assignee.token(DEVELOPMENT_SECRET))

            def assignee_heard() -> list[dict[str, Any]]:
                page = http.get(f"{notification}/v1/inbox", headers=as_assignee).json()
                return [i for i in page["items"] if i["work_order_id"] == order_id]

            [assigned] = eventually(assignee_heard)
            assert assigned["template"] == "order_assigned"
            assert order_id in assigned["body"]
            heard = eventually(lambda: len(m := rider.inbox()) >= 3 and m)
            assert {"report_filed", "report_dispatched"} <= {m["template"] for m in heard}

            posts = eventually(
                lambda: [r for r in receiver.received if r.body.get("work_order_id") == order_id]
            )
            assert [p.body["template"] for p in posts] == ["order_assigned"]
            assert posts[0].valid_with == [SECRET]
            assert posts[0].body["audience"] == "assignee"
            assert posts[0].body["notification_id"] == assigned["id"]

            rider_headers = dict(rider.client.headers)
            count = http.get(f"{notification}/v1/notifications/unread-count", headers=rider_headers)
            assert count.json()["unread"] >= 3
            http.post(f"{notification}/v1/notifications/read-all", headers=rider_headers)
            count = http.get(f"{notification}/v1/notifications/unread-count", headers=rider_headers)
            assert count.json()["unread"] == 0
        finally:
            http.delete(webhook, headers=admin)


def test_the_street_supervisor_the_assignee_and_the_reporter_each_hear_of_one_reviewed_order(
    stack: Stack, rider_factory: Callable[[], Rider]
) -> None:
    """A report of a category a street supervisor reviews first (0701 邻里纠纷): the supervisor
    is asked to review, accepts it, the assignee is told of the order and the reporter of its
    filing and dispatch — every message about the same work order, each in its own inbox."""
    notification = stack.url("notification")
    roster = load_roster(districts_root(), DISTRICT)
    rider = rider_factory()
    (point,) = points_in_grids(DISTRICT, slice(192, 193))
    report_id = rider.submit("0701", *point, "楼上邻居长期噪音扰民，协商无果")
    pending = eventually(
        lambda: (r := rider.report(report_id))["status"] == "pending_review" and r, timeout=60
    )
    order_id = pending["work_order_id"]
    with httpx.Client(timeout=15) as http:
        district_supervisor = find_member(f"{DISTRICT}-d-01", districts_root(), [DISTRICT])
        orders = f"{stack.url('dispatch')}/v1/workorders"
        as_district = bearer(district_supervisor.token(DEVELOPMENT_SECRET))
        street = http.get(f"{orders}/{order_id}", headers=as_district).json()["street"]
        reviewers = roster.supervising(street)
        assert reviewers, f"nobody supervises {street}"
        reviewer = find_member(reviewers[0].id, districts_root(), [DISTRICT])
        as_reviewer = bearer(reviewer.token(DEVELOPMENT_SECRET))

        def heard(headers: dict[str, str]) -> Callable[[], list[dict[str, Any]]]:
            def about_the_order() -> list[dict[str, Any]]:
                page = http.get(f"{notification}/v1/inbox", headers=headers).json()
                return [i for i in page["items"] if i["work_order_id"] == order_id]

            return about_the_order

        [asked] = eventually(heard(as_reviewer), timeout=60)
        assert asked["template"] == "order_review_requested"
        accepted = http.post(
            f"{orders}/{order_id}/accept",
            json={"note": "已核实"},
            headers={**as_reviewer, "Idempotency-Key": f"accept-{order_id}"},
        )
        assert accepted.status_code == 200, accepted.text
        order = eventually(
            lambda: (
                (o := http.get(f"{orders}/{order_id}", headers=as_district).json())["assignee"]
                and o
            )
        )
        assignee = assignee_member(
            order["assignee"], district=DISTRICT, grid_id=order["grid_id"], roster=roster
        )
        [assigned] = eventually(heard(bearer(assignee.token(DEVELOPMENT_SECRET))), timeout=60)
        assert assigned["template"] == "order_assigned"
        told = eventually(
            lambda: (
                {m["template"] for m in rider.inbox() if m["work_order_id"] == order_id}
                >= {"report_filed", "report_dispatched"}
            )
        )
        assert told
