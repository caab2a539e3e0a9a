"""A work order's whole life across the four services, in two districts at once: filed,
dispatched, claimed, resolved, failed at verification, reworked, resolved again, closed and
rated; a second report merged into it (并单); another order voided — with each reporter's
status and inbox following every step, the events keyed and districted, and 综合评价 counting
what happened."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from common.auth import DEVELOPMENT_SECRET
from common.contracts.envelope import CloudEvent
from common.contracts.topics import Topic
from gridloop_tools.stack import Stack
from gridloop_tools.staff import assignee_member, districts_root, find_member, load_roster
from tests.integration.conftest import Rider, eventually, points_in_grids, read_topic
from tests.integration.test_cloudevents_binding import read_with_the_sdk

REN = "370811"
"""任城区: only this test reports there, so its 综合评价 figures are exactly this test's."""
YAN = "370812"
"""兖州区, where the other integration tests report too."""


class Staff:
    """Supervisors and assignees acting on work orders over dispatch's HTTP API."""

    def __init__(self, stack: Stack, district: str) -> None:
        self.orders = f"{stack.url('dispatch')}/v1/workorders"
        self.stack = stack
        self.district = district
        self.roster = load_roster(districts_root(), district)
        supervisor = find_member(f"{district}-d-01", districts_root(), [district])
        self.supervisor = supervisor.token(DEVELOPMENT_SECRET)

    def order(self, work_order_id: str) -> dict[str, Any]:
        return self._call("GET", work_order_id, self.supervisor)

    def assignee_token(self, work_order_id: str) -> str:
        order = self.order(work_order_id)
        member = assignee_member(
            order["assignee"], district=self.district, grid_id=order["grid_id"], roster=self.roster
        )
        return member.token(DEVELOPMENT_SECRET)

    def act(self, work_order_id: str, action: str, body: Any = None) -> dict[str, Any]:
        """``action`` by the order's assignee (claim, resolve) or the district supervisor."""
        token = (
            self.assignee_token(work_order_id)
            if action in {"claim", "resolve"}
            else self.supervisor
        )
        return self._call("POST", f"{work_order_id}/{action}", token, body)

    def stats(self) -> dict[str, Any]:
        response = httpx.get(
            f"{self.stack.url('dispatch')}/v1/stats",
            params={"district": self.district},
            headers={"Authorization": f"Bearer {self.supervisor}"},
            timeout=15,
        )
        assert response.status_code == 200, response.text
        figures: dict[str, Any] = response.json()["total"]
        return figures

    def _call(self, method: str, path: str, token: str, body: Any = None) -> dict[str, Any]:
        response = httpx.request(
            method,
            f"{self.orders}/{path}",
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
            json=body,
            timeout=15,
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


def _values(stack: Stack, topic: Topic) -> list[bytes]:
    return [record.value for record in read_topic(stack.bootstrap_servers, topic.value)]


def status_becomes(rider: Rider, report_id: str, status: str) -> dict[str, Any]:
    found: dict[str, Any] = eventually(
        lambda: (r := rider.report(report_id))["status"] == status and r, timeout=60
    )
    return found


def inbox_gets(rider: Rider, template: str) -> dict[str, Any]:
    """The rider's one message in ``template`` (waiting for it; two would be a double)."""

    def arrived() -> list[dict[str, Any]]:
        return [m for m in rider.inbox() if m["template"] == template]

    messages: list[dict[str, Any]] = eventually(arrived, timeout=60)
    assert len(messages) == 1, messages
    return messages[0]


def test_one_life_in_each_of_two_districts_with_a_merge_a_rework_a_rating_and_a_void(
    stack: Stack,
) -> None:
    ren_points = points_in_grids(REN, slice(3, 5))
    (yan_point,) = points_in_grids(YAN, slice(140, 141))
    ren, yan = Staff(stack, REN), Staff(stack, YAN)
    first, second, third = (Rider(stack, district=REN) for _ in range(3))
    elsewhere = Rider(stack, district=YAN)

    # 立案 and 派遣 in both districts at once
    report = first.submit("0501", *ren_points[0], "楼道里私拉电线充电")
    other_district = elsewhere.submit("0501", *yan_point, "电动车在楼道充电")
    filed = status_becomes(first, report, "dispatched")
    order_id = filed["work_order_id"]
    assert filed["grid_id"].startswith(f"{REN}-")
    assert status_becomes(elsewhere, other_district, "dispatched")["grid_id"].startswith(YAN)
    assert "已立案" in inbox_gets(first, "report_filed")["title"]
    deadline = inbox_gets(first, "report_dispatched")
    assert order_id in deadline["body"]
    assert eventually(lambda: first.balance() == 10)

    # 并单: the same problem at the same place, reported by someone else
    merged_report = second.submit("0501", *ren_points[0], "同一处飞线充电")
    merged = status_becomes(second, merged_report, "merged")
    assert merged["work_order_id"] == order_id
    inbox_gets(second, "report_merged")
    assert [r["report_id"] for r in ren.order(order_id)["reports"]][-1] == merged_report

    # 签收, 处置, 核查不通过, 返工
    assert ren.act(order_id, "claim")["state"] == "claimed"
    status_becomes(first, report, "claimed")
    ren.act(order_id, "resolve", {"note": "已拆除飞线"})
    status_becomes(first, report, "resolved")
    inbox_gets(first, "report_resolved")
    inbox_gets(second, "report_resolved")
    failed = ren.act(order_id, "verify", {"passed": False, "note": "仍有飞线"})
    assert failed["state"] == "rework"
    status_becomes(first, report, "rework")
    inbox_gets(first, "report_rework")

    # 再次处置, 核查通过, 结案, 评价
    ren.act(order_id, "claim")
    ren.act(order_id, "resolve", {"note": "已全部拆除"})
    closed = ren.act(order_id, "verify", {"passed": True, "note": "现场核查通过"})
    assert (closed["state"], closed["rework_count"]) == ("closed", 1)
    assert status_becomes(first, report, "closed")["closed_at"]
    assert status_becomes(second, merged_report, "closed")["work_order_id"] == order_id
    assert "请评价" in inbox_gets(first, "report_closed")["body"]
    first.ask(report, "rate", {"score": 5, "comment": "很及时"})
    rated = status_becomes(first, report, "rated")
    # (the points paid along the way show on the timeline too, as the ledger pays them)
    steps = [step["step"] for step in rated["timeline"] if step["step"] != "points_awarded"]
    assert steps[0] == "submitted" and steps[-2:] == ["closed", "rated"]
    assert {"filed", "dispatched", "claimed", "resolved", "rework"} <= set(steps)
    assert eventually(lambda: ren.order(order_id)["rating"] == 5)

    # 作废: a false report, voided by the supervisor
    voided_report = third.submit("0301", *ren_points[1], "路边垃圾堆积")
    voided_order = status_becomes(third, voided_report, "dispatched")["work_order_id"]
    assert ren.act(voided_order, "void", {"reason": "现场无此问题，虚假上报"})["state"] == "voided"
    status_becomes(third, voided_report, "voided")
    inbox_gets(third, "report_voided")

    # every reporter heard each step once, and only their own; points for 立案, 结案 and 评价
    # to the first, for 并单 to the second
    first_heard = sorted(
        [
            "report_filed",
            "report_dispatched",
            "points_awarded",
            "report_resolved",
            "report_rework",
            "report_resolved",
            "report_closed",
            "points_awarded",
            "points_awarded",
        ]
    )
    assert eventually(lambda: sorted(m["template"] for m in first.inbox()) == first_heard)
    assert eventually(
        lambda: (
            {m["template"] for m in second.inbox()}
            == {
                "report_merged",
                "points_awarded",
                "report_resolved",
                "report_rework",
                "report_closed",
            }
        )
    )

    # the events as another city system reads them (librdkafka and the CloudEvents SDK, each
    # valid against its schema): each order's key, its district, rising sequences
    events = read_with_the_sdk(stack.bootstrap_servers, [Topic.REPORTS, Topic.WORKORDERS])
    ours = [e for e in events if e.subject in {order_id, voided_order}]
    assert {e.district for e in ours} == {REN}
    assert {e.type.removeprefix("gridloop.workorder.") for e in ours} >= {
        "filed",
        "dispatched",
        "merged",
        "claimed",
        "resolved",
        "verified",
        "rework",
        "closed",
        "rated",
        "voided",
    }
    asked = [e for e in events if e.subject in {report, merged_report}]
    assert {e.district for e in asked} == {REN}
    assert {e.type for e in asked} == {"gridloop.report.submitted", "gridloop.report.rated"}
    yan_order = elsewhere.report(other_district)["work_order_id"]
    assert {e.district for e in events if e.subject == yan_order} == {YAN}
    life = [
        e.sequence
        for e in map(CloudEvent.from_bytes, _values(stack, Topic.WORKORDERS))
        if e.subject == order_id
    ]
    assert life == sorted(set(life)), life

    # 综合评价 of 任城区 today: exactly what happened above
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    figures = eventually(lambda: (f := ren.stats())["rated"] == 1 and f)
    assert {
        name: figures[name]
        for name in ("reports", "filed", "merged", "rejected", "closed", "reworked", "satisfied")
    } == {
        "reports": 3,
        "filed": 2,
        "merged": 1,
        "rejected": 0,
        "closed": 1,
        "reworked": 1,
        "satisfied": 1,
    }, (today, figures)
    assert yan.stats()["filed"] >= 1
