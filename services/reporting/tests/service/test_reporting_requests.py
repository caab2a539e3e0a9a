"""The reporter rates their report's closed work order or asks for it to be reopened, over
HTTP against a real SQLite database: only when it is closed (else 409 with the report's
status), rating once, reopening within the window, idempotent by key, forwarded once through
the outbox."""

from __future__ import annotations

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

REPORT = {"category": "0101", "lat": 35.5531, "lon": 116.8287, "text": "楼道堆放杂物"}
RATING = {"score": 4, "comment": "处理及时"}
REOPENING = {"reason": "杂物又堆回来了"}


async def new_report(client: httpx.AsyncClient, auth: Auth, rider: str = "rider-1") -> str:
    response = await client.post("/v1/reports", json=REPORT, headers=auth(subject=rider))
    assert response.status_code == 201, response.text
    report_id: str = response.json()["id"]
    return report_id


async def closed_report(
    client: httpx.AsyncClient,
    auth: Auth,
    deliver: Deliver,
    *,
    closed_at: datetime | None = None,
) -> str:
    report_id = await new_report(client, auth)
    order: dict[str, Any] = {"report_id": report_id}
    at = closed_at or datetime.now(UTC)
    await deliver(keyed_event(builders.work_order_filed(**order), sequence=1))
    await deliver(keyed_event(builders.work_order_verified(verified_at=at, **order), sequence=2))
    await deliver(keyed_event(builders.work_order_closed(closed_at=at, **order), sequence=3))
    return report_id


async def ask(
    client: httpx.AsyncClient,
    auth: Auth,
    report_id: str,
    action: str,
    body: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    rider: str = "rider-1",
) -> httpx.Response:
    headers = auth(subject=rider) | ({"Idempotency-Key": key} if key else {})
    default = RATING if action == "rate" else REOPENING
    return await client.post(
        f"/v1/reports/{report_id}/{action}", json=default if body is None else body, headers=headers
    )


async def forwarded(app: FastAPI) -> list[CloudEvent]:
    async with app.state.runtime.engine.connect() as connection:
        rows = await connection.execute(
            sa.text(
                "SELECT payload FROM outbox WHERE event_type != 'gridloop.report.submitted' "
                "ORDER BY position"
            )
        )
        return [CloudEvent.from_bytes(row[0]) for row in rows]


async def test_a_rating_is_accepted_and_forwarded(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    report_id = await closed_report(client, auth, deliver)
    response = await ask(client, auth, report_id, "rate", key="k-1")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["report_id"] == report_id
    assert (body["action"], body["score"], body["comment"], body["reason"]) == (
        "rate",
        4,
        "处理及时",
        None,
    )
    assert body["work_order_id"] == f"wo-{report_id}"
    [event] = await forwarded(app)
    assert (event.type, event.subject, event.sequence) == ("gridloop.report.rated", report_id, 2)
    assert event.data["reporter_id"] == "rider-1"
    assert (event.data["score"], event.data["comment"]) == (4, "处理及时")
    assert event.data["work_order_id"] == f"wo-{report_id}"


async def test_a_reopening_is_accepted_and_forwarded(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    report_id = await closed_report(client, auth, deliver)
    response = await ask(client, auth, report_id, "reopen")
    assert response.status_code == 202, response.text
    assert (response.json()["action"], response.json()["reason"]) == ("reopen", "杂物又堆回来了")
    [event] = await forwarded(app)
    assert (event.type, event.subject) == ("gridloop.report.reopen_requested", report_id)
    assert event.data["reason"] == "杂物又堆回来了"


@pytest.mark.parametrize(("action", "other"), [("rate", {"score": 1}), ("reopen", {"reason": "x"})])
async def test_a_retry_with_the_same_key_answers_the_same_and_forwards_once(
    client: httpx.AsyncClient,
    auth: Auth,
    deliver: Deliver,
    app: FastAPI,
    action: str,
    other: dict[str, Any],
) -> None:
    report_id = await closed_report(client, auth, deliver)
    first = await ask(client, auth, report_id, action, key="k-1")
    again = await ask(client, auth, report_id, action, key="k-1")
    assert first.status_code == again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.json() == first.json()
    assert len(await forwarded(app)) == 1
    reused = await ask(client, auth, report_id, action, other, key="k-1")
    assert_problem(reused, 409, "Idempotency-Key")
    assert len(await forwarded(app)) == 1


async def test_a_report_is_rated_once(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    report_id = await closed_report(client, auth, deliver)
    assert (await ask(client, auth, report_id, "rate", key="k-1")).status_code == 202
    again = await ask(client, auth, report_id, "rate", key="k-2")
    body = assert_problem(again, 409, "rated already")
    assert (body["report_status"], body["report_status_label"]) == ("closed", "已结案")
    rated = builders.work_order_rated(report_id=report_id, score=4)
    await deliver(keyed_event(rated, sequence=4))
    later = await ask(client, auth, report_id, "rate", key="k-3")
    assert assert_problem(later, 409)["report_status"] == "rated"
    assert len(await forwarded(app)) == 1


@pytest.mark.parametrize("action", ["rate", "reopen"])
async def test_an_order_that_is_not_closed_is_409_with_the_status(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI, action: str
) -> None:
    report_id = await new_report(client, auth)
    submitted = await ask(client, auth, report_id, action)
    body = assert_problem(submitted, 409, "is submitted", "only once its work order is closed")
    assert (body["report_status"], body["report_status_label"]) == ("submitted", "已上报，待受理")
    await deliver(keyed_event(builders.work_order_filed(report_id=report_id), sequence=1))
    await deliver(keyed_event(builders.work_order_claimed(report_id=report_id), sequence=2))
    claimed = assert_problem(await ask(client, auth, report_id, action), 409, "is claimed")
    assert (claimed["report_status"], claimed["report_status_label"]) == ("claimed", "处置中")
    assert await forwarded(app) == []


async def test_a_reopened_order_is_not_reopened_again_until_it_closes(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    report_id = await closed_report(client, auth, deliver)
    assert (await ask(client, auth, report_id, "reopen")).status_code == 202
    assert_problem(await ask(client, auth, report_id, "reopen"), 409, "asked for already")
    reopened = builders.work_order_reopened(report_id=report_id)
    await deliver(keyed_event(reopened, sequence=4))
    body = assert_problem(await ask(client, auth, report_id, "rate"), 409, "is reopened")
    assert body["report_status_label"] == "发回重办"
    order: dict[str, Any] = {"report_id": report_id}
    now = datetime.now(UTC)
    await deliver(keyed_event(builders.work_order_verified(verified_at=now, **order), sequence=5))
    await deliver(keyed_event(builders.work_order_closed(closed_at=now, **order), sequence=6))
    assert (await ask(client, auth, report_id, "reopen")).status_code == 202


async def test_reopening_is_refused_after_the_window(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=8)
    report_id = await closed_report(client, auth, deliver, closed_at=long_ago)
    assert_problem(await ask(client, auth, report_id, "reopen"), 409, "within 7 days of closing")
    assert (await ask(client, auth, report_id, "rate")).status_code == 202


@pytest.fixture
def a_month_to_reopen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app of the test reads ``REPORTING_REOPEN_WINDOW_DAYS=30`` (ask for it before
    ``client``)."""
    monkeypatch.setenv("REPORTING_REOPEN_WINDOW_DAYS", "30")


@pytest.mark.usefixtures("a_month_to_reopen")
async def test_the_reopening_window_is_a_setting(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    assert app.state.runtime.settings.reopen_window_days == 30
    twenty_days_ago = datetime.now(UTC) - timedelta(days=20)
    report_id = await closed_report(client, auth, deliver, closed_at=twenty_days_ago)
    assert (await ask(client, auth, report_id, "reopen")).status_code == 202


async def test_a_merged_reporter_rates_through_their_own_report(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    first = await new_report(client, auth, "rider-1")
    second = await new_report(client, auth, "rider-2")
    order: dict[str, Any] = {"report_id": first, "reporter_ids": ["rider-1", "rider-2"]}
    now = datetime.now(UTC)
    await deliver(keyed_event(builders.work_order_filed(report_id=first), sequence=1))
    merged = builders.work_order_merged(
        merged_report_id=second, merged_reporter_id="rider-2", **order
    )
    await deliver(keyed_event(merged, sequence=2))
    await deliver(keyed_event(builders.work_order_verified(verified_at=now, **order), sequence=3))
    closed = builders.work_order_closed(closed_at=now, report_ids=[first, second], **order)
    await deliver(keyed_event(closed, sequence=4))
    response = await ask(client, auth, second, "rate", rider="rider-2")
    assert response.status_code == 202, response.text
    [event] = await forwarded(app)
    assert (event.subject, event.data["reporter_id"]) == (second, "rider-2")
    assert event.data["work_order_id"] == f"wo-{first}"


@pytest.mark.parametrize("action", ["rate", "reopen"])
async def test_only_the_reporter_may_ask(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI, action: str
) -> None:
    report_id = await closed_report(client, auth, deliver)
    other = await ask(client, auth, report_id, action, rider="rider-2")
    assert_problem(other, 404, report_id)
    assert_problem(await ask(client, auth, "no-such-report", action), 404, "no-such-report")
    for role in ("supervisor", "grid_worker"):
        response = await client.post(
            f"/v1/reports/{report_id}/{action}", json=RATING | REOPENING, headers=auth(role=role)
        )
        assert_problem(response, 403, f"role '{role}'")
    assert await forwarded(app) == []


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("rate", {"score": 0}, "score"),
        ("rate", {"score": 6}, "score"),
        ("rate", {"score": "5"}, "score"),
        ("rate", {"score": 4.5}, "score"),
        ("rate", {"comment": "好"}, "score"),
        ("rate", {"score": 5, "comment": "字" * 501}, "comment"),
        ("reopen", {}, "reason"),
        ("reopen", {"reason": ""}, "reason"),
        ("reopen", {"reason": "x", "score": 5}, "score"),
    ],
)
async def test_an_invalid_body_is_422_naming_the_field(
    client: httpx.AsyncClient, auth: Auth, action: str, body: dict[str, Any], field: str
) -> None:
    response = await ask(client, auth, "any-report", action, body)
    problem = assert_problem(response, 422, field)
    assert field in {error["field"] for error in problem["errors"]}
