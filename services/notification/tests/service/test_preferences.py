"""Preferences, quiet hours and stale suppression, through the real app, consumer and sender to a
real local webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from gridloop_tools.testing import builders
from gridloop_tools.testing.builders import DISTRICT, keyed_event
from gridloop_tools.testing.service_fixtures import Auth, Deliver, assert_problem, serving
from gridloop_tools.testing.webhook_receiver import Receiver, running

SECRET = "s3cret-0123456789abcdef"
ADMIN = {"role": "admin", "subject": "admin-1"}
WORKER = {"role": "grid_worker", "subject": "gw-7"}
SHANGHAI = ZoneInfo("Asia/Shanghai")
_TOMORROW = datetime.now(SHANGHAI).date() + timedelta(days=1)
# The sender is run at chosen times after the deliveries were queued (now).
LATE_EVENING = datetime.combine(_TOMORROW, time(23, 0), tzinfo=SHANGHAI)
MORNING = datetime.combine(_TOMORROW + timedelta(days=1), time(7, 0), tzinfo=SHANGHAI)


@pytest.fixture
async def receiver(client: httpx.AsyncClient, auth: Auth) -> AsyncIterator[Receiver]:
    async with running(Receiver(secrets=[SECRET])) as serving_receiver:
        for audience in ("assignee", "supervisor"):
            response = await client.put(
                f"/v1/webhooks/{DISTRICT}/{audience}",
                json={"url": serving_receiver.url, "secret": SECRET},
                headers=auth(**ADMIN),
            )
            assert response.status_code == 200, response.text
        yield serving_receiver


def dispatched(sequence: int = 2) -> CloudEvent:
    data = builders.work_order_dispatched(
        reporter_ids=["rider-1"], assignee_id="gw-7", work_order_id="wo-1"
    )
    return keyed_event(data, sequence=sequence)


def warned(sequence: int) -> CloudEvent:
    data = builders.work_order_sla_warning(assignee_id="gw-7", work_order_id="wo-1")
    return keyed_event(data, sequence=sequence)


def escalated(sequence: int) -> CloudEvent:
    data = builders.work_order_escalated(supervisor_ids=["sup-1"], work_order_id="wo-1")
    return keyed_event(data, sequence=sequence)


async def deliveries(client: httpx.AsyncClient, auth: Auth) -> dict[str, dict[str, Any]]:
    """By template."""
    response = await client.get("/v1/deliveries", headers=auth(**ADMIN))
    assert response.status_code == 200, response.text
    return {d["template"]: d for d in response.json()["items"]}


async def quiet_hours(client: httpx.AsyncClient, auth: Auth, who: dict[str, str]) -> None:
    response = await client.put(
        "/v1/quiet-hours", json={"start": "22:00", "end": "07:00"}, headers=auth(**who)
    )
    assert response.status_code == 200, response.text
    assert response.json()["quiet_hours"] == {"start": "22:00", "end": "07:00"}


async def test_quiet_hours_hold_a_push_until_they_end_across_a_restart(
    client: httpx.AsyncClient,
    auth: Auth,
    deliver: Deliver,
    app: FastAPI,
    build_app: Callable[[], FastAPI],
    receiver: Receiver,
) -> None:
    await quiet_hours(client, auth, WORKER)
    await deliver(dispatched())
    inbox = await client.get("/v1/inbox", headers=auth(**WORKER))
    assert [i["template"] for i in inbox.json()["items"]] == ["order_assigned"]  # at once

    await app.state.sender.send_due(LATE_EVENING)
    assert receiver.received == []
    held = (await deliveries(client, auth))["order_assigned"]
    assert (held["status"], held["attempts"]) == ("pending", 0)
    assert datetime.fromisoformat(held["next_attempt_at"]) == MORNING

    restarted = build_app()  # a new process on the same database
    async with serving(restarted):
        assert await restarted.state.sender.send_due(MORNING - timedelta(minutes=1)) == 0
        assert await restarted.state.sender.send_due(MORNING) == 1
    assert [r.body["template"] for r in receiver.received] == ["order_assigned"]
    assert (await deliveries(client, auth))["order_assigned"]["status"] == "sent"


async def test_an_escalation_is_critical_and_bypasses_quiet_hours(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI, receiver: Receiver
) -> None:
    await quiet_hours(client, auth, {"role": "supervisor", "subject": "sup-1"})
    await deliver(escalated(sequence=5))
    await app.state.sender.send_due(LATE_EVENING)
    [post] = receiver.received
    assert (post.body["template"], post.body["critical"]) == ("order_escalated", True)


async def test_a_kind_turned_off_on_a_channel_is_suppressed_there_only(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI, receiver: Receiver
) -> None:
    response = await client.put(
        "/v1/preferences/order_sla_warning/webhook", json={"enabled": False}, headers=auth(**WORKER)
    )
    assert response.status_code == 200, response.text
    assert response.json()["preferences"] == [
        {"kind": "order_sla_warning", "channel": "webhook", "enabled": False}
    ]
    await deliver(warned(sequence=4))
    await deliver(keyed_event(builders.work_order_dispatched(assignee_id="gw-7"), sequence=2))
    await app.state.sender.send_due(LATE_EVENING)

    by_template = await deliveries(client, auth)
    assert by_template["order_sla_warning"]["status"] == "suppressed"
    assert by_template["order_sla_warning"]["last_error"] == "turned off by the recipient"
    assert by_template["order_assigned"]["status"] == "sent"
    assert [r.body["template"] for r in receiver.received] == ["order_assigned"]
    inbox = await client.get("/v1/inbox", headers=auth(**WORKER))
    assert {i["template"] for i in inbox.json()["items"]} == {"order_sla_warning", "order_assigned"}
    text = (await client.get("/metrics")).text
    assert (
        'gridloop_notification_deliveries_total{channel="webhook",outcome="suppressed",'
        'service="notification"} 1.0' in text
    )


async def test_a_message_made_stale_by_a_newer_step_is_not_sent(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI, receiver: Receiver
) -> None:
    await deliver(dispatched(sequence=2))
    await deliver(warned(sequence=4))  # before the sender got to the first
    await app.state.sender.send_due(LATE_EVENING)

    by_template = await deliveries(client, auth)
    assert by_template["order_assigned"]["status"] == "suppressed"
    assert by_template["order_assigned"]["last_error"] == "stale: work order at sequence 4"
    assert by_template["order_sla_warning"]["status"] == "sent"
    assert [r.body["template"] for r in receiver.received] == ["order_sla_warning"]


async def test_an_event_that_tells_nobody_still_makes_older_messages_stale(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI, receiver: Receiver
) -> None:
    await deliver(dispatched(sequence=2))
    claimed = builders.work_order_claimed(assignee_id="gw-7", work_order_id="wo-1")
    await deliver(keyed_event(claimed, sequence=3))
    await app.state.sender.send_due(LATE_EVENING)
    assert (await deliveries(client, auth))["order_assigned"]["status"] == "suppressed"
    assert receiver.received == []


# --- the preferences API --------------------------------------------------------------------------


async def test_my_preferences_start_empty_and_quiet_hours_can_be_removed(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    empty = await client.get("/v1/preferences", headers=auth(**WORKER))
    assert empty.json() == {"recipient_id": "gw-7", "preferences": [], "quiet_hours": None}
    await quiet_hours(client, auth, WORKER)
    assert (await client.delete("/v1/quiet-hours", headers=auth(**WORKER))).status_code == 204
    after = await client.get("/v1/preferences", headers=auth(**WORKER))
    assert after.json()["quiet_hours"] is None


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v1/preferences/order_assigned/inbox", {"enabled": False}),
        ("PUT", "/v1/preferences/no_such_kind/webhook", {"enabled": False}),
        ("PUT", "/v1/preferences/order_assigned/webhook", {"enabled": "perhaps"}),
        ("PUT", "/v1/quiet-hours", {"start": "24:00", "end": "07:00"}),
        ("PUT", "/v1/quiet-hours", {"start": "7:00", "end": "08:00"}),
        ("PUT", "/v1/quiet-hours", {"start": "07:00", "end": "07:00"}),
    ],
)
async def test_bad_preferences_are_problems(
    client: httpx.AsyncClient, auth: Auth, method: str, path: str, body: dict[str, Any]
) -> None:
    response = await client.request(method, path, json=body, headers=auth(**WORKER))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_preferences_need_a_token(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/preferences"), 401, "bearer")
