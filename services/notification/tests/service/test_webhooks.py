"""Webhook deliveries through the real app, consumer and sender, to a real local receiver that
verifies signatures: one delivery per event and recipient, retries with backoff, permanent
failures, secret rotation, and the admin API."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from gridloop_tools.testing import builders
from gridloop_tools.testing.builders import DISTRICT, keyed_event
from gridloop_tools.testing.service_fixtures import Auth, Deliver, assert_problem, serving
from gridloop_tools.testing.webhook_receiver import Receiver, free_port, running

SECRET = "s3cret-0123456789abcdef"
NEW_SECRET = "n3w-secret-0123456789abcdef"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running(Receiver(secrets=[SECRET])) as serving:
        yield serving


async def configure(
    client: httpx.AsyncClient,
    auth: Auth,
    url: str,
    *,
    audience: str = "assignee",
    secret: str = SECRET,
) -> dict[str, Any]:
    response = await client.put(
        f"/v1/webhooks/{DISTRICT}/{audience}",
        json={"url": url, "secret": secret},
        headers=auth(role="admin", subject="admin-1"),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def dispatched(sequence: int = 2) -> CloudEvent:
    data = builders.work_order_dispatched(
        reporter_ids=["rider-1"], assignee_id="gw-7", work_order_id="wo-1"
    )
    return keyed_event(data, sequence=sequence)


async def deliveries(client: httpx.AsyncClient, auth: Auth, **params: Any) -> list[Any]:
    response = await client.get(
        "/v1/deliveries", params=params, headers=auth(role="admin", subject="admin-1")
    )
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def detail(client: httpx.AsyncClient, auth: Auth, delivery_id: str) -> dict[str, Any]:
    response = await client.get(
        f"/v1/deliveries/{delivery_id}", headers=auth(role="admin", subject="admin-1")
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def send_due(app: FastAPI, at: datetime) -> int:
    attempted: int = await app.state.sender.send_due(at)
    return attempted


def at_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def outbox_types(app: FastAPI) -> list[CloudEvent]:
    async with app.state.runtime.engine.connect() as connection:
        rows = (
            await connection.execute(sa.text("SELECT payload FROM outbox ORDER BY position"))
        ).all()
    return [CloudEvent.from_bytes(row[0]) for row in rows]


def metric(text: str, outcome: str) -> str:
    return (
        "gridloop_notification_deliveries_total"
        f'{{channel="webhook",outcome="{outcome}",service="notification"}}'
    )


async def test_the_assignee_webhook_gets_one_signed_post_per_message(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI, receiver: Receiver
) -> None:
    await configure(client, auth, receiver.url)
    event = dispatched()
    await deliver(event)
    await deliver(event)  # replayed: still one delivery

    [queued] = await deliveries(client, auth)
    assert (queued["status"], queued["attempts"]) == ("pending", 0)
    assert receiver.received == []  # consuming never waits for the receiver

    now = at_time(queued["next_attempt_at"])
    assert await send_due(app, now) == 1
    assert await send_due(app, now + timedelta(hours=1)) == 0

    [post] = receiver.received
    assert post.valid_with == [SECRET]
    assert post.delivery_id == queued["id"]
    assert post.body["delivery_id"] == queued["id"]
    assert post.body["recipient_id"] == "gw-7"
    assert post.body["audience"] == "assignee"
    assert post.body["district"] == DISTRICT
    assert post.body["template"] == "order_assigned"
    assert post.body["work_order_id"] == "wo-1"
    assert post.body["title"].startswith("新工单")
    sent = await detail(client, auth, queued["id"])
    assert (sent["status"], sent["attempts"]) == ("sent", 1)
    assert [a["outcome"] for a in sent["attempt_log"]] == ["sent"]
    assert [a["status_code"] for a in sent["attempt_log"]] == [200]
    [logged] = [
        e
        for e in await outbox_types(app)
        if e.type.endswith("notification.delivered") and e.data["channel"] == "webhook"
    ]
    assert (logged.subject, logged.data["notification_id"]) == ("gw-7", queued["id"])
    text = (await client.get("/metrics")).text
    assert metric(text, "sent") + " 1.0" in text
    # the reporter has no webhook configured: inbox only
    assert {d["recipient_id"] for d in await deliveries(client, auth)} == {"gw-7"}
    # staff of another district see none of this district's deliveries
    elsewhere = auth(role="supervisor", subject="sv-9", district="370811")
    listed = await client.get("/v1/deliveries", headers=elsewhere)
    assert (listed.status_code, listed.json()["items"]) == (200, [])
    hidden = await client.get(f"/v1/deliveries/{queued['id']}", headers=elsewhere)
    assert hidden.status_code == 404


async def test_transient_failures_retry_with_backoff_then_succeed(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI, receiver: Receiver
) -> None:
    receiver.answers = [(503, {}), (500, {}), (429, {"Retry-After": "120"})]
    await configure(client, auth, receiver.url)
    await deliver(dispatched())
    [queued] = await deliveries(client, auth)

    attempted_at = []
    when = at_time(queued["next_attempt_at"])
    for _ in range(4):
        attempted_at.append(when)
        assert await send_due(app, when) == 1
        state = await detail(client, auth, queued["id"])
        if state["status"] == "sent":
            break
        next_at = at_time(state["next_attempt_at"])
        assert await send_due(app, next_at - timedelta(milliseconds=1)) == 0  # not yet due
        when = next_at

    assert state["status"] == "sent"
    log = state["attempt_log"]
    assert [(a["outcome"], a["status_code"]) for a in log] == [
        ("retried", 503),
        ("retried", 500),
        ("retried", 429),
        ("sent", 200),
    ]
    waits = [later - earlier for earlier, later in itertools.pairwise(attempted_at)]
    # full jitter under a doubling ceiling (base 2 s): at most 2 s, then 4 s
    assert timedelta(0) <= waits[0] <= timedelta(seconds=2)
    assert timedelta(0) <= waits[1] <= timedelta(seconds=4)
    assert waits[2] >= timedelta(seconds=120)  # Retry-After honoured
    assert {r.delivery_id for r in receiver.received} == {queued["id"]}  # stable id
    assert len(receiver.received) == 4
    text = (await client.get("/metrics")).text
    assert metric(text, "retried") + " 3.0" in text


async def test_a_retry_survives_a_restart(
    client: httpx.AsyncClient,
    auth: Auth,
    deliver: Deliver,
    app: FastAPI,
    build_app: Callable[[], FastAPI],
    receiver: Receiver,
) -> None:
    receiver.answers = [(503, {})]
    await configure(client, auth, receiver.url)
    await deliver(dispatched())
    [queued] = await deliveries(client, auth)
    await send_due(app, at_time(queued["next_attempt_at"]))
    waiting = await detail(client, auth, queued["id"])
    assert (waiting["status"], waiting["attempts"]) == ("pending", 1)

    restarted = build_app()  # a new process on the same database
    async with serving(restarted):
        assert await send_due(restarted, at_time(waiting["next_attempt_at"])) == 1
    done = await detail(client, auth, queued["id"])
    assert (done["status"], done["attempts"]) == ("sent", 2)
    assert [r.delivery_id for r in receiver.received] == [queued["id"]] * 2


async def test_a_permanent_refusal_fails_at_once_and_is_announced(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI, receiver: Receiver
) -> None:
    receiver.answers = [(400, {})]
    await configure(client, auth, receiver.url)
    await deliver(dispatched())
    [queued] = await deliveries(client, auth)
    await send_due(app, at_time(queued["next_attempt_at"]))

    failed = await detail(client, auth, queued["id"])
    assert (failed["status"], failed["attempts"], failed["last_error"]) == ("failed", 1, "HTTP 400")
    assert [d["id"] for d in await deliveries(client, auth, status="failed")] == [queued["id"]]
    [announced] = [e for e in await outbox_types(app) if e.type.endswith("notification.failed")]
    assert announced.subject == "gw-7"
    assert announced.data["notification_id"] == queued["id"]
    assert (announced.data["channel"], announced.data["attempts"]) == ("webhook", 1)
    assert announced.data["error"] == "HTTP 400"
    text = (await client.get("/metrics")).text
    assert metric(text, "failed") + " 1.0" in text
    assert await send_due(app, at_time(queued["next_attempt_at"]) + timedelta(days=1)) == 0


async def test_a_receiver_that_keeps_failing_is_given_up_after_the_last_attempt(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI, receiver: Receiver
) -> None:
    receiver.answers = [(502, {})] * 10
    await configure(client, auth, receiver.url)
    await deliver(dispatched())
    [queued] = await deliveries(client, auth)
    when = at_time(queued["next_attempt_at"])
    while (state := await detail(client, auth, queued["id"]))["status"] == "pending":
        await send_due(app, max(when, at_time(state["next_attempt_at"])))
        when = at_time(state["next_attempt_at"])
    assert (state["status"], state["attempts"]) == ("failed", 8)
    assert [a["outcome"] for a in state["attempt_log"]] == ["retried"] * 7 + ["failed"]
    assert len(receiver.received) == 8


async def test_an_unreachable_receiver_is_retried(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    await configure(client, auth, f"http://127.0.0.1:{free_port()}/hook")
    await deliver(dispatched())
    [queued] = await deliveries(client, auth)
    await send_due(app, at_time(queued["next_attempt_at"]))
    state = await detail(client, auth, queued["id"])
    assert (state["status"], state["attempts"]) == ("pending", 1)
    assert "ConnectError" in state["last_error"]


async def test_a_rotated_secret_signs_twice_until_the_old_one_is_retired(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    async with running(Receiver(secrets=[NEW_SECRET])) as receiver:
        await configure(client, auth, receiver.url, secret=SECRET)
        rotated = await configure(client, auth, receiver.url, secret=NEW_SECRET)
        assert rotated["rotating"] is True
        await deliver(dispatched(sequence=2))
        [queued] = await deliveries(client, auth)
        await send_due(app, at_time(queued["next_attempt_at"]))
        [post] = receiver.received
        assert len(post.signatures) == 2  # a receiver with either secret accepts it
        assert post.valid_with == [NEW_SECRET]

        retired = await client.delete(
            f"/v1/webhooks/{DISTRICT}/assignee/previous-secret",
            headers=auth(role="admin", subject="admin-1"),
        )
        assert retired.json()["rotating"] is False
        await deliver(dispatched(sequence=3))
        newest = (await deliveries(client, auth, status="pending"))[0]
        await send_due(app, at_time(newest["next_attempt_at"]))
        assert len(receiver.received[-1].signatures) == 1
        assert receiver.received[-1].valid_with == [NEW_SECRET]


async def test_a_webhook_removed_before_sending_fails_the_delivery(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI, receiver: Receiver
) -> None:
    await configure(client, auth, receiver.url)
    await deliver(dispatched())
    removed = await client.delete(
        f"/v1/webhooks/{DISTRICT}/assignee", headers=auth(role="admin", subject="admin-1")
    )
    assert removed.status_code == 204
    [queued] = await deliveries(client, auth)
    await send_due(app, at_time(queued["next_attempt_at"]))
    assert (await detail(client, auth, queued["id"]))["status"] == "failed"
    assert receiver.received == []


# --- the admin API ------------------------------------------------------------------------------


async def test_webhooks_are_listed_without_their_secrets(
    client: httpx.AsyncClient, auth: Auth, receiver: Receiver
) -> None:
    await configure(client, auth, receiver.url, audience="supervisor")
    response = await client.get("/v1/webhooks", headers=auth(role="admin", subject="a"))
    assert response.json() == {
        "items": [
            {
                "district": DISTRICT,
                "audience": "supervisor",
                "url": receiver.url,
                "rotating": False,
            }
        ]
    }
    assert SECRET not in response.text


@pytest.mark.parametrize("role", ["rider", "grid_worker", "supervisor"])
async def test_only_admins_configure_webhooks(
    client: httpx.AsyncClient, auth: Auth, role: str
) -> None:
    response = await client.put(
        f"/v1/webhooks/{DISTRICT}/assignee",
        json={"url": "http://127.0.0.1:1/hook", "secret": SECRET},
        headers=auth(role=role, subject="x"),
    )
    assert_problem(response, 403, "may not")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"/v1/webhooks/{DISTRICT}/mayor", {"url": "http://h/x", "secret": SECRET}),
        ("/v1/webhooks/37/assignee", {"url": "http://h/x", "secret": SECRET}),
        (f"/v1/webhooks/{DISTRICT}/assignee", {"url": "not a url", "secret": SECRET}),
        (f"/v1/webhooks/{DISTRICT}/assignee", {"url": "http://h/x", "secret": "short"}),
    ],
)
async def test_a_bad_webhook_is_a_problem(
    client: httpx.AsyncClient, auth: Auth, path: str, body: dict[str, str]
) -> None:
    response = await client.put(path, json=body, headers=auth(role="admin", subject="a"))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_an_unknown_delivery_is_404(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.get("/v1/deliveries/nope", headers=auth(role="admin", subject="a"))
    assert_problem(response, 404, "no delivery")
