"""WeChat subscribe messages against a local stand-in that answers as the documented API does:
token fetch, cache and refresh; expired tokens; refusals and quota ending the channel while the
inbox keeps the message."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from gridloop_tools.testing import builders
from gridloop_tools.testing.builders import keyed_event
from gridloop_tools.testing.service_fixtures import Auth, Deliver, assert_problem
from gridloop_tools.testing.wechat_standin import WeChatStandIn, running
from notification.adapters.wechat import WeChatClient

ADMIN = {"role": "admin", "subject": "admin-1"}


@pytest.fixture
async def standin() -> AsyncIterator[WeChatStandIn]:
    async with running(WeChatStandIn()) as serving:
        yield serving


@pytest.fixture
async def app(
    build_app: Callable[[], FastAPI], standin: WeChatStandIn, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FastAPI]:
    """The service with WeChat configured against the stand-in."""
    monkeypatch.setenv("NOTIFICATION_WECHAT_APPID", standin.appid)
    monkeypatch.setenv("NOTIFICATION_WECHAT_SECRET", standin.secret)
    monkeypatch.setenv("NOTIFICATION_WECHAT_API_BASE", standin.base_url)
    monkeypatch.setenv(
        "NOTIFICATION_WECHAT_TEMPLATE_IDS",
        json.dumps({"report_closed": "TPL-CLOSED", "report_dispatched": "TPL-DISPATCHED"}),
    )
    monkeypatch.setenv("NOTIFICATION_WECHAT_PAGE", "pages/inbox/index")
    application = build_app()
    yield application
    await application.state.runtime.engine.dispose()


async def register(client: httpx.AsyncClient, auth: Auth, rider: str, openid: str) -> None:
    response = await client.put(
        f"/v1/wechat-openids/{rider}",
        json={"openid": openid},
        headers=auth(role="service", subject="miniprogram"),
    )
    assert response.status_code == 200, response.text


def closed(sequence: int, rider: str = "rider-1", order: str = "wo-1") -> CloudEvent:
    data = builders.work_order_closed(reporter_ids=[rider], work_order_id=order)
    return keyed_event(data, sequence=sequence)


async def wechat_deliveries(client: httpx.AsyncClient, auth: Auth) -> list[dict[str, Any]]:
    response = await client.get("/v1/deliveries", headers=auth(**ADMIN))
    return [d for d in response.json()["items"] if d["channel"] == "wechat"]


async def send_all(app: FastAPI, client: httpx.AsyncClient, auth: Auth) -> None:
    for delivery in await wechat_deliveries(client, auth):
        if delivery["status"] == "pending":
            await app.state.sender.send_due(datetime.fromisoformat(delivery["next_attempt_at"]))


async def test_a_subscribe_message_is_sent_with_the_template_and_a_cached_token(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI, standin: WeChatStandIn
) -> None:
    await register(client, auth, "rider-1", "openid-1")
    await deliver(closed(sequence=5, order="wo-1"))
    await deliver(closed(sequence=5, order="wo-2"))
    await send_all(app, client, auth)

    assert [m["touser"] for m in standin.sent] == ["openid-1", "openid-1"]
    message = standin.sent[0]
    assert message["template_id"] == "TPL-CLOSED"
    assert message["page"] == "pages/inbox/index"
    assert message["data"]["thing1"] == {"value": "您上报的问题已结案"}
    assert len(message["data"]["thing2"]["value"]) <= 20
    assert set(message["data"]) == {"thing1", "thing2", "time3"}
    assert standin.tokens_issued == ["ACCESS_TOKEN_1"]  # fetched once, cached
    assert {d["status"] for d in await wechat_deliveries(client, auth)} == {"sent"}


async def test_an_expired_token_is_refreshed_and_the_message_sent(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI, standin: WeChatStandIn
) -> None:
    await register(client, auth, "rider-1", "openid-1")
    await deliver(closed(sequence=5, order="wo-1"))
    await send_all(app, client, auth)
    standin.expire_tokens()
    await deliver(closed(sequence=5, order="wo-2"))
    await send_all(app, client, auth)

    assert standin.tokens_issued == ["ACCESS_TOKEN_1", "ACCESS_TOKEN_2"]
    assert len(standin.sent) == 2
    deliveries = await wechat_deliveries(client, auth)
    assert [(d["status"], d["attempts"]) for d in deliveries] == [("sent", 1), ("sent", 1)]


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (lambda s: s.refusing.add("openid-1"), "wechat 43101"),
        (lambda s: setattr(s, "quota", 0), "wechat 45009"),
    ],
)
async def test_a_refusal_or_spent_quota_ends_the_channel_and_the_inbox_keeps_it(
    client: httpx.AsyncClient,
    auth: Auth,
    deliver: Deliver,
    app: FastAPI,
    standin: WeChatStandIn,
    setup: Callable[[WeChatStandIn], None],
    error: str,
) -> None:
    setup(standin)
    await register(client, auth, "rider-1", "openid-1")
    await deliver(closed(sequence=5))
    await send_all(app, client, auth)

    [delivery] = await wechat_deliveries(client, auth)
    assert (delivery["status"], delivery["attempts"]) == ("failed", 1)
    assert delivery["last_error"].startswith(error)
    inbox = await client.get("/v1/inbox", headers=auth(subject="rider-1"))
    assert [i["template"] for i in inbox.json()["items"]] == ["report_closed"]
    text = (await client.get("/metrics")).text
    assert (
        'gridloop_notification_deliveries_total{channel="wechat",outcome="failed",'
        'service="notification"} 1.0' in text
    )


async def test_system_busy_is_retried(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI, standin: WeChatStandIn
) -> None:
    standin.busy = 1
    await register(client, auth, "rider-1", "openid-1")
    await deliver(closed(sequence=5))
    await send_all(app, client, auth)
    [first] = await wechat_deliveries(client, auth)
    assert (first["status"], first["attempts"]) == ("pending", 1)
    await send_all(app, client, auth)
    [second] = await wechat_deliveries(client, auth)
    assert (second["status"], second["attempts"]) == ("sent", 2)


async def test_no_openid_or_no_wechat_template_means_inbox_only(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, standin: WeChatStandIn
) -> None:
    await deliver(closed(sequence=5, rider="rider-9"))  # no openid
    await register(client, auth, "rider-1", "openid-1")
    rework = builders.work_order_rework(reporter_ids=["rider-1"], work_order_id="wo-3")
    await deliver(keyed_event(rework, sequence=6))  # report_rework has no WeChat template
    assert await wechat_deliveries(client, auth) == []


async def test_only_the_recipient_or_a_service_registers_an_openid(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    own = await client.put(
        "/v1/wechat-openids/rider-1", json={"openid": "o-1"}, headers=auth(subject="rider-1")
    )
    assert own.status_code == 200
    other = await client.put(
        "/v1/wechat-openids/rider-1", json={"openid": "o-2"}, headers=auth(subject="rider-2")
    )
    assert_problem(other, 403, "openid")


# --- the client itself: token refresh before expiry ----------------------------------------------


async def test_the_token_is_refreshed_before_it_expires(standin: WeChatStandIn) -> None:
    now = [1000.0]
    client = WeChatClient(
        standin.appid,
        standin.secret,
        base_url=standin.base_url,
        refresh_margin=300,
        clock=lambda: now[0],
    )
    try:
        first = await client.access_token()
        now[0] += 7200 - 301  # still more than the margin left
        assert await client.access_token() == first
        now[0] += 2  # inside the margin: fetched anew before WeChat would refuse it
        second = await client.access_token()
        assert second != first
        assert standin.tokens_issued == [first, second]
    finally:
        await client.aclose()


async def test_a_wrong_secret_is_terminal(standin: WeChatStandIn) -> None:
    client = WeChatClient(standin.appid, "wrong", base_url=standin.base_url)
    try:
        result = await client.send("openid-1", "TPL", {"thing1": {"value": "x"}}, None)
    finally:
        await client.aclose()
    assert (result.ok, result.transient) == (False, False)
    assert result.error == "wechat token 40001: invalid credential"


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("NOTIFICATION_WECHAT_TEMPLATE_IDS", '{"report_closd": "T"}', "no gridloop template"),
        ("NOTIFICATION_WECHAT_DATA_KEYS", '{"titel": "thing1"}', "unknown part titel"),
    ],
)
def test_wrong_wechat_settings_stop_the_service_at_start(
    build_app: Callable[[], FastAPI],
    standin: WeChatStandIn,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    words: str,
) -> None:
    monkeypatch.setenv("NOTIFICATION_WECHAT_APPID", standin.appid)
    monkeypatch.setenv("NOTIFICATION_WECHAT_SECRET", standin.secret)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=words):
        build_app()
