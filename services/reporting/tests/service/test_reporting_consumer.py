"""The status projection and the catalogues: work-order and district events fed through the
real idempotent consumer into the real database, observed through the HTTP API."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from common.contracts.base import EventData
from common.contracts.envelope import CloudEvent
from common.contracts.topics import Topic
from gridloop_tools.testing import builders
from gridloop_tools.testing.builders import (
    AT,
    as_event,
    district_catalogue_published,
    keyed_event,
    notification_delivered,
    points_awarded,
    points_capped,
    points_reversed,
    published_category,
    report_rejected,
    work_order_filed,
)
from gridloop_tools.testing.service_fixtures import Auth, DeadLetter, Deliver

BOTH = ["rider-1", "rider-2"]


def filed(report_id: str, *, sequence: int = 1, filed_at: datetime = AT) -> CloudEvent:
    data = work_order_filed(report_id=report_id, work_order_id="wo-0001", filed_at=filed_at)
    return as_event(data, sequence=sequence)


def rejected(report_id: str, *, sequence: int = 1) -> CloudEvent:
    return as_event(report_rejected(report_id=report_id), sequence=sequence)


def of_order(data: EventData, sequence: int) -> CloudEvent:
    return keyed_event(data, sequence=sequence)


async def new_report(client: httpx.AsyncClient, auth: Auth, rider: str = "rider-1") -> str:
    response = await client.post(
        "/v1/reports",
        json={"category": "0101", "lat": 35.5531, "lon": 116.8287, "text": "楼道堆放杂物"},
        headers=auth(subject=rider),
    )
    assert response.status_code == 201
    report_id: str = response.json()["id"]
    return report_id


async def view(
    client: httpx.AsyncClient, auth: Auth, report_id: str, rider: str = "rider-1"
) -> dict[str, Any]:
    response = await client.get(f"/v1/reports/{report_id}", headers=auth(subject=rider))
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def filed_report(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, rider: str = "rider-1"
) -> tuple[str, dict[str, Any]]:
    """A new report whose work order was filed (sequence 1), and the builder arguments of
    that order's events."""
    report_id = await new_report(client, auth, rider)
    order: dict[str, Any] = {"report_id": report_id}
    await deliver(of_order(builders.work_order_filed(**order), 1))
    return report_id, order


def steps(body: dict[str, Any]) -> list[str]:
    return [row["step"] for row in body["timeline"]]


async def consumed(client: httpx.AsyncClient, event_type: str, outcome: str) -> float:
    text = (await client.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for metric in family.samples:
            if (
                metric.name == "gridloop_events_consumed_total"
                and metric.labels.get("event_type") == event_type
                and metric.labels.get("outcome") == outcome
            ):
                return float(metric.value)
    return 0.0


# --- filed and rejected -------------------------------------------------------------------------


async def test_work_order_filed_shows_as_filed(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    report_id = await new_report(client, auth)
    await deliver(filed(report_id))
    body = await view(client, auth, report_id)
    assert body["status"] == "filed"
    assert body["status_label"] == "已立案"
    assert body["work_order_id"] == "wo-0001"
    assert body["work_order_state"] == "filed"
    assert body["grid_id"] == "370812-01-001-1"
    assert body["grid_name"] == "鼓楼街道第1社区第1网格"
    assert body["updated_at"] == "2026-11-23T09:30:00Z"
    assert body["timeline"][-1] == {
        "step": "filed",
        "label": "已立案",
        "at": "2026-11-23T09:30:00Z",
        "work_order_id": "wo-0001",
        "detail": None,
        "photos": [],
    }
    assert dead_letters == []


async def test_report_rejected_shows_the_reason(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    report_id = await new_report(client, auth)
    await deliver(rejected(report_id))
    body = await view(client, auth, report_id)
    assert body["status"] == "rejected"
    assert body["status_label"] == "不予立案"
    assert body["rejection_reason_code"] == "outside_service_area"
    assert body["rejection_reason"].startswith("上报位置不在本区服务范围内")
    assert steps(body) == ["submitted", "rejected"]
    assert body["timeline"][-1]["detail"] == body["rejection_reason"]


async def test_the_same_event_twice_changes_nothing_the_second_time(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    report_id = await new_report(client, auth)
    event = filed(report_id)
    await deliver(event)
    first = await view(client, auth, report_id)
    await deliver(event)
    assert await view(client, auth, report_id) == first
    listed = (await client.get("/v1/reports", headers=auth(subject="rider-1"))).json()["items"]
    assert len(listed) == 1
    assert await consumed(client, "gridloop.workorder.filed", "processed") == 1.0
    assert await consumed(client, "gridloop.workorder.filed", "duplicate") == 1.0


async def test_an_older_event_after_a_newer_one_is_stale(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    report_id = await new_report(client, auth)
    await deliver(filed(report_id, sequence=2))
    await deliver(rejected(report_id, sequence=1))
    body = await view(client, auth, report_id)
    assert body["status"] == "filed"
    assert body["rejection_reason_code"] is None
    assert await consumed(client, "gridloop.report.rejected", "stale") == 1.0


async def test_an_event_for_an_unknown_report_is_ignored(
    client: httpx.AsyncClient, deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    await deliver(filed("no-such-report"))
    assert dead_letters == []
    assert await consumed(client, "gridloop.workorder.filed", "ignored") == 1.0


async def test_other_event_types_on_the_topic_are_skipped(
    client: httpx.AsyncClient, deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    await deliver(as_event(notification_delivered()))
    assert dead_letters == []
    assert await consumed(client, "other", "ignored") == 1.0


async def test_points_paid_for_a_report_show_on_its_timeline_once(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    report_id = await new_report(client, auth)
    await deliver(filed(report_id))
    award = as_event(points_awarded(report_id=report_id, work_order_id="wo-0001"))
    await deliver(award, Topic.POINTS)
    await deliver(award, Topic.POINTS)
    timeline = (await view(client, auth, report_id))["timeline"]
    assert [(step["step"], step["label"]) for step in timeline][-1] == (
        "points_awarded",
        "获得积分",
    )
    assert [step["step"] for step in timeline].count("points_awarded") == 1
    assert timeline[-1]["detail"] == "+10 积分（上报被立案）"
    assert await consumed(client, "gridloop.points.awarded", "duplicate") == 1.0
    # the same transfer told again in another event (a replay in a fresh consumer group)
    told_again = as_event(points_awarded(report_id=report_id, work_order_id="wo-0001"))
    await deliver(told_again, Topic.POINTS)
    again = (await view(client, auth, report_id))["timeline"]
    assert [step["step"] for step in again].count("points_awarded") == 1
    assert await consumed(client, "gridloop.points.awarded", "stale") == 1.0


async def test_points_held_back_by_the_cap_and_taken_back_show_why(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    report_id = await new_report(client, auth)
    for data in (
        points_capped(report_id=report_id),
        points_reversed(report_id=report_id),
        points_reversed(report_id=report_id),  # told again under another event id
    ):
        await deliver(as_event(data), Topic.POINTS)
    timeline = (await view(client, auth, report_id))["timeline"]
    told = [(s["step"], s["label"], s["detail"]) for s in timeline if s["step"] != "submitted"]
    assert told == [
        ("points_capped", "积分已达当日上限", "上报被立案：10 积分未计入（每日上限 50）"),
        ("points_reversed", "积分收回", "-10 积分（工单作废）"),
    ]


async def test_points_for_an_unknown_report_are_ignored(
    client: httpx.AsyncClient, deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    await deliver(as_event(points_awarded(report_id="no-such-report")), Topic.POINTS)
    assert dead_letters == []
    assert await consumed(client, "gridloop.points.awarded", "ignored") == 1.0


async def test_an_envelope_that_is_not_a_cloud_event_goes_to_dead_letter(
    deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    await deliver(json.dumps({"type": "gridloop.workorder.filed", "data": {}}).encode())
    assert len(dead_letters) == 1
    assert dead_letters[0][3]["gridloop-dlq-reason"] == "unparseable"
    assert "not a valid CloudEvent" in dead_letters[0][3]["gridloop-dlq-error"]


async def test_a_filing_time_with_an_offset_is_kept_as_the_same_instant(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    """SQLite keeps no UTC offset; an event time in +08:00 must still read back as its instant."""
    report_id = await new_report(client, auth)
    shanghai = datetime.fromisoformat("2026-11-24T00:00:00+08:00")
    await deliver(filed(report_id, filed_at=shanghai))
    body = await view(client, auth, report_id)
    assert body["updated_at"] == "2026-11-23T16:00:00Z"
    assert datetime.fromisoformat(body["updated_at"]) == shanghai


# --- the work order's whole life ------------------------------------------------------------------


async def test_the_reporter_sees_every_step_of_the_order(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    report_id = await new_report(client, auth)
    due = AT + timedelta(hours=4)
    later: dict[str, Any] = {"report_id": report_id}
    for sequence, data in enumerate(
        [
            builders.work_order_review_requested(**later),
            builders.work_order_filed(**later),
            builders.work_order_dispatched(assignee_name="张网格", handle_due=due, **later),
            builders.work_order_returned(reason="不属于本网格", **later),
            builders.work_order_dispatched(assignee_name="王网格", redispatch=True, **later),
            builders.work_order_claimed(**later),
            builders.work_order_sla_warning(**later),
            builders.work_order_overdue(handle_due=due, **later),
            builders.work_order_escalated(level=2, handle_due=due, **later),
            builders.work_order_resolved(note="已清理", **later),
            builders.work_order_verified(**later),
            builders.work_order_closed(**later),
        ],
        start=1,
    ):
        await deliver(of_order(data, sequence))
    body = await view(client, auth, report_id)
    assert dead_letters == []
    assert (body["status"], body["status_label"]) == ("closed", "已结案")
    assert body["work_order_state"] == "closed"
    assert body["deadline"] == "2026-11-23T13:30:00Z"
    assert steps(body) == [
        "submitted", "pending_review", "filed", "dispatched", "returned", "dispatched",
        "claimed", "overdue", "escalated", "resolved", "verified", "closed",
    ]  # fmt: skip
    rows = {(row["step"], row["label"]): row["detail"] for row in body["timeline"]}
    assert rows[("dispatched", "已派遣")] == "派往 张网格"
    assert rows[("dispatched", "已改派")] == "改派至 王网格"
    assert rows[("returned", "已回退，待改派")] == "不属于本网格"
    assert rows[("escalated", "已督办")] == "区级督办"
    assert rows[("closed", "已结案")] == "按期结案"


async def test_a_failed_verification_is_the_verdict_then_the_rework(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    report_id, order = await filed_report(client, auth, deliver)
    await deliver(of_order(builders.work_order_resolved(**order), 2))
    await deliver(of_order(builders.work_order_verified(passed=False, note="没清干净", **order), 3))
    await deliver(of_order(builders.work_order_rework(note="没清干净", **order), 4))
    body = await view(client, auth, report_id)
    assert (body["status"], body["status_label"]) == ("rework", "返工")
    assert steps(body)[-2:] == ["verified", "rework"]
    assert body["timeline"][-2]["label"] == "核查未通过"
    assert await consumed(client, "gridloop.workorder.rework", "processed") == 1.0


async def test_out_of_order_steps_of_the_order_are_stale(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    report_id, order = await filed_report(client, auth, deliver)
    await deliver(of_order(builders.work_order_resolved(**order), 4))
    await deliver(of_order(builders.work_order_claimed(**order), 3))
    await deliver(of_order(builders.work_order_dispatched(**order), 2))
    body = await view(client, auth, report_id)
    assert body["status"] == "resolved"
    assert steps(body) == ["submitted", "filed", "resolved"]
    assert await consumed(client, "gridloop.workorder.claimed", "stale") == 1.0
    assert await consumed(client, "gridloop.workorder.dispatched", "stale") == 1.0


async def test_a_merged_report_follows_its_order(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    first, order = await filed_report(client, auth, deliver)
    second = await new_report(client, auth, "rider-2")
    await deliver(of_order(builders.work_order_dispatched(**order), 2))
    merged = builders.work_order_merged(
        merged_report_id=second, merged_reporter_id="rider-2", reporter_ids=BOTH, **order
    )
    await deliver(of_order(merged, 3))
    joined = await view(client, auth, second, "rider-2")
    assert (joined["status"], joined["status_label"]) == (
        "merged",
        "已并单，与已受理的工单合并处理",
    )
    assert joined["work_order_id"] == f"wo-{first}"
    assert (joined["work_order_state"], joined["deadline"]) == (
        "dispatched",
        "2026-11-23T13:30:00Z",
    )
    assert steps(joined) == ["submitted", "merged"]

    await deliver(of_order(builders.work_order_claimed(reporter_ids=BOTH, **order), 4))
    await deliver(of_order(builders.work_order_resolved(reporter_ids=BOTH, **order), 5))
    for body in (await view(client, auth, first), await view(client, auth, second, "rider-2")):
        assert (body["status"], body["work_order_state"]) == ("resolved", "resolved")
    assert steps(await view(client, auth, second, "rider-2")) == [
        "submitted",
        "merged",
        "claimed",
        "resolved",
    ]
    assert "merged" not in steps(await view(client, auth, first))


async def test_a_voided_order_shows_its_reason_on_every_report(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    first, order = await filed_report(client, auth, deliver)
    second = await new_report(client, auth, "rider-2")
    await deliver(of_order(builders.work_order_merged(merged_report_id=second, **order), 2))
    voided = builders.work_order_voided(
        reason="重复上报", reporter_ids=BOTH, report_ids=[first, second], **order
    )
    await deliver(of_order(voided, 3))
    for body in (await view(client, auth, first), await view(client, auth, second, "rider-2")):
        assert (body["status"], body["status_label"]) == ("voided", "已作废")
        assert body["timeline"][-1]["detail"] == "重复上报"


# --- the districts' catalogues --------------------------------------------------------------------


async def test_the_newest_catalogue_revision_is_kept_whatever_the_order_of_arrival(
    client: httpx.AsyncClient, deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    def revision(number: int, *codes: str) -> CloudEvent:
        categories = [published_category(code) for code in codes]
        data = district_catalogue_published(
            district="370811", district_name="任城区", revision=number, categories=categories
        )
        return keyed_event(data)

    await deliver(revision(3, "0101", "0102"), Topic.DISTRICTS)
    await deliver(revision(2, "0101"), Topic.DISTRICTS)
    await deliver(revision(1, "0201"), Topic.DISTRICTS)
    [stored] = (await client.get("/v1/categories", params={"district": "370811"})).json()
    assert stored["revision"] == 3
    assert [c["code"] for c in stored["categories"]] == ["0101", "0102"]
    assert await consumed(client, "gridloop.district.catalogue_published", "stale") == 2.0
    await deliver(revision(4, "0201"), Topic.DISTRICTS)
    [newest] = (await client.get("/v1/categories", params={"district": "370811"})).json()
    assert (newest["revision"], [c["code"] for c in newest["categories"]]) == (4, ["0201"])
    assert dead_letters == []


async def test_a_submission_is_checked_against_the_newest_revision_stored(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    """Submissions read a catalogue once per stored revision: a new revision takes effect on
    the next submission, whichever way it changed the categories."""

    def revision(number: int, *codes: str) -> CloudEvent:
        categories = [published_category(code) for code in codes]
        return keyed_event(district_catalogue_published(revision=number, categories=categories))

    riders = iter(range(100))

    async def submit(category: str) -> int:
        """A new rider each time: no submission is the same problem as an earlier one."""
        body = {"category": category, "lat": 35.5531, "lon": 116.8287, "text": "井盖缺失"}
        response = await client.post(
            "/v1/reports", json=body, headers=auth(subject=f"rider-{next(riders)}")
        )
        return response.status_code

    assert await submit("0101") == 201  # the default catalogue, revision 1
    await deliver(revision(2, "0201"), Topic.DISTRICTS)
    assert await submit("0101") == 422
    assert await submit("0201") == 201
    await deliver(revision(3, "0101"), Topic.DISTRICTS)
    assert await submit("0201") == 422
    assert await submit("0101") == 201


async def test_a_catalogue_with_a_bad_code_goes_to_dead_letter(
    deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    event = keyed_event(district_catalogue_published())
    bad = event.model_copy(
        update={
            "data": {**event.data, "categories": [{**event.data["categories"][0], "code": "1"}]}
        }
    )
    await deliver(bad, Topic.DISTRICTS)
    assert [headers["gridloop-dlq-reason"] for *_, headers in dead_letters] == ["invalid"]
