"""The rider withdraws their own report (撤回) over HTTP against a real SQLite database: only
while it is submitted or pending review (else 409 with the report's status), their own only,
idempotent by key and by state, forwarded once through the outbox; and what the report shows
of its work order's later steps."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from gridloop_tools.testing import builders
from gridloop_tools.testing.builders import keyed_event
from gridloop_tools.testing.service_fixtures import Auth, Deliver, assert_problem

REPORT = {"category": "0101", "lat": 35.5531, "lon": 116.8287, "text": "楼道堆放杂物"}
REASON = {"reason": "拍错了位置"}


async def new_report(client: httpx.AsyncClient, auth: Auth, rider: str = "rider-1") -> str:
    response = await client.post("/v1/reports", json=REPORT, headers=auth(subject=rider))
    assert response.status_code == 201, response.text
    report_id: str = response.json()["id"]
    return report_id


async def withdraw(
    client: httpx.AsyncClient,
    auth: Auth,
    report_id: str,
    body: dict[str, Any] | None = REASON,
    *,
    key: str | None = None,
    rider: str = "rider-1",
) -> httpx.Response:
    headers = auth(subject=rider) | ({"Idempotency-Key": key} if key else {})
    url = f"/v1/reports/{report_id}/withdraw"
    if body is None:
        return await client.post(url, headers=headers)
    return await client.post(url, json=body, headers=headers)


async def report(client: httpx.AsyncClient, auth: Auth, report_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/reports/{report_id}", headers=auth())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def steps(body: dict[str, Any]) -> list[str]:
    return [step["step"] for step in body["timeline"]]


async def forwarded(app: FastAPI) -> list[CloudEvent]:
    async with app.state.runtime.engine.connect() as connection:
        rows = await connection.execute(
            sa.text(
                "SELECT payload FROM outbox WHERE event_type != 'gridloop.report.submitted' "
                "ORDER BY position"
            )
        )
        return [CloudEvent.from_bytes(row[0]) for row in rows]


async def test_a_submitted_report_is_withdrawn_and_dispatch_told_through_the_outbox(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    report_id = await new_report(client, auth)
    response = await withdraw(client, auth, report_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["status_label"]) == ("withdrawn", "已撤回")
    assert steps(body) == ["submitted", "withdrawn"]
    step = body["timeline"][-1]
    assert (step["label"], step["detail"], step["work_order_id"]) == ("撤回", "拍错了位置", None)
    assert "idempotent-replayed" not in response.headers
    assert await report(client, auth, report_id) == body
    [event] = await forwarded(app)
    assert (event.type, event.subject, event.sequence) == (
        "gridloop.report.withdrawn",
        report_id,
        2,
    )
    assert event.data["report_id"] == report_id
    assert (event.data["reporter_id"], event.data["reason"]) == ("rider-1", "拍错了位置")
    assert event.data["withdrawn_at"]
    async with app.state.runtime.engine.connect() as connection:
        stored = (
            await connection.execute(sa.text("SELECT action, work_order_id FROM reporter_requests"))
        ).all()
    assert [tuple(row) for row in stored] == [("withdraw", None)]


async def test_a_report_pending_review_is_withdrawn_without_a_body(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    report_id = await new_report(client, auth)
    review = builders.work_order_review_requested(report_id=report_id)
    await deliver(keyed_event(review, sequence=1))
    response = await withdraw(client, auth, report_id, None)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "withdrawn"
    assert steps(body) == ["submitted", "pending_review", "withdrawn"]
    assert body["timeline"][-1]["detail"] is None
    [event] = await forwarded(app)
    assert (event.type, event.data["reason"]) == ("gridloop.report.withdrawn", "")


@pytest.mark.parametrize(
    ("events", "status", "label"),
    [
        (["filed"], "filed", "已立案"),
        (["filed", "dispatched"], "dispatched", "已派遣"),
        (["filed", "dispatched", "claimed"], "claimed", "处置中"),
    ],
)
async def test_a_report_accepted_as_a_case_is_409_naming_its_status(
    client: httpx.AsyncClient,
    auth: Auth,
    deliver: Deliver,
    app: FastAPI,
    events: list[str],
    status: str,
    label: str,
) -> None:
    report_id = await new_report(client, auth)
    for sequence, name in enumerate(events, start=1):
        data = getattr(builders, f"work_order_{name}")(report_id=report_id)
        await deliver(keyed_event(data, sequence=sequence))
    body = assert_problem(await withdraw(client, auth, report_id), 409, f"is {status}")
    assert (body["report_status"], body["report_status_label"]) == (status, label)
    assert await forwarded(app) == []


@pytest.mark.parametrize("merged", [False, True])
async def test_a_rejected_or_merged_report_is_409(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI, merged: bool
) -> None:
    report_id = await new_report(client, auth)
    if merged:
        data = builders.work_order_merged(report_id="rep-other", merged_report_id=report_id)
        await deliver(keyed_event(data, sequence=2))
    else:
        await deliver(keyed_event(builders.report_rejected(report_id=report_id)))
    status = "merged" if merged else "rejected"
    body = assert_problem(await withdraw(client, auth, report_id), 409, f"is {status}")
    assert body["report_status"] == status
    assert await forwarded(app) == []


async def test_only_the_reporter_may_withdraw(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    report_id = await new_report(client, auth)
    assert_problem(await withdraw(client, auth, report_id, rider="rider-2"), 404, report_id)
    assert_problem(await withdraw(client, auth, "no-such-report"), 404, "no-such-report")
    for role in ("supervisor", "grid_worker"):
        response = await client.post(
            f"/v1/reports/{report_id}/withdraw", json=REASON, headers=auth(role=role)
        )
        assert_problem(response, 403, f"role '{role}'")
    assert (await report(client, auth, report_id))["status"] == "submitted"
    assert await forwarded(app) == []


async def test_a_retry_with_the_same_key_answers_the_same_and_forwards_once(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    report_id = await new_report(client, auth)
    first = await withdraw(client, auth, report_id, key="w-1")
    again = await withdraw(client, auth, report_id, key="w-1")
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    reused = await withdraw(client, auth, report_id, {"reason": "另一个理由"}, key="w-1")
    assert_problem(reused, 409, "Idempotency-Key")
    other_report = await new_report(client, auth)
    assert_problem(await withdraw(client, auth, other_report, key="w-1"), 409, "Idempotency-Key")
    assert len(await forwarded(app)) == 1


async def test_withdrawing_a_withdrawn_report_answers_the_same(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    report_id = await new_report(client, auth)
    first = await withdraw(client, auth, report_id)
    again = await withdraw(client, auth, report_id, {"reason": "再撤一次"}, key="w-2")
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len(await forwarded(app)) == 1


@pytest.mark.parametrize(
    "body", [{"reason": "字" * 501}, {"reason": 5}, {"reason": "x", "extra": 1}]
)
async def test_an_invalid_body_is_422(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI, body: dict[str, Any]
) -> None:
    report_id = await new_report(client, auth)
    assert_problem(await withdraw(client, auth, report_id, body), 422)
    assert await forwarded(app) == []


# --- what the report shows of its work order afterwards -------------------------------------


async def test_a_voided_order_leaves_the_report_withdrawn_with_every_step_shown(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    report_id = await new_report(client, auth)
    assert (await withdraw(client, auth, report_id)).status_code == 200
    order: dict[str, Any] = {"report_id": report_id}
    await deliver(keyed_event(builders.work_order_filed(**order), sequence=1))
    await deliver(keyed_event(builders.work_order_dispatched(**order), sequence=2))
    voided = builders.work_order_voided(
        voided_by="system", reason="上报人已撤回", reason_code="withdrawn_by_reporter", **order
    )
    await deliver(keyed_event(voided, sequence=3))
    body = await report(client, auth, report_id)
    assert (body["status"], body["status_label"]) == ("withdrawn", "已撤回")
    assert (body["work_order_id"], body["work_order_state"]) == (f"wo-{report_id}", "voided")
    assert steps(body) == ["submitted", "withdrawn", "filed", "dispatched", "voided"]


async def test_a_case_that_went_on_shows_its_steps(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    report_id = await new_report(client, auth)
    assert (await withdraw(client, auth, report_id)).status_code == 200
    order: dict[str, Any] = {"report_id": report_id}
    for sequence, name in enumerate(["filed", "dispatched", "claimed", "resolved"], start=1):
        data = getattr(builders, f"work_order_{name}")(**order)
        await deliver(keyed_event(data, sequence=sequence))
    body = await report(client, auth, report_id)
    assert body["status"] == "resolved"
    assert steps(body) == ["submitted", "withdrawn", "filed", "dispatched", "claimed", "resolved"]
    assert_problem(await withdraw(client, auth, report_id), 409, "is resolved")
    assert len(await forwarded(app)) == 1


async def test_a_report_merged_before_the_withdrawal_reached_dispatch_stops_following(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    first = await new_report(client, auth, "rider-2")
    second = await new_report(client, auth)
    assert (await withdraw(client, auth, second)).status_code == 200
    order: dict[str, Any] = {"report_id": first}
    await deliver(keyed_event(builders.work_order_filed(**order), sequence=1))
    merged = builders.work_order_merged(
        merged_report_id=second, merged_reporter_id="rider-1", **order
    )
    await deliver(keyed_event(merged, sequence=2))
    await deliver(keyed_event(merged, sequence=2, id_="redelivered-merge"))
    await deliver(keyed_event(builders.work_order_claimed(**order), sequence=3))
    body = await report(client, auth, second)
    assert (body["status"], body["work_order_id"]) == ("withdrawn", None)
    assert steps(body) == ["submitted", "withdrawn", "merged"]
    assert body["timeline"][-1]["detail"] == "已撤回，不再跟进该工单"
    followed = await client.get(f"/v1/reports/{first}", headers=auth(subject="rider-2"))
    assert followed.json()["status"] == "claimed"
