"""A reporter's withdrawal (撤回) through the real consumer, on the real app and a real SQLite
file: the only report of an unclaimed order voids it (the normal voided event, with the
withdrawal's reason code), a merged report is detached from the case, a claimed case goes on,
a rejected or unknown report changes nothing; each outcome counted once, and a withdrawal
applied again changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from gridloop_tools.testing.builders import as_event, report_withdrawn
from gridloop_tools.testing.dispatch import (
    NOWHERE,
    RENCHENG,
    WEST,
    YANZHOU,
    bearer,
    load_over_http,
    north_of,
    outbox,
    report_event,
    short,
)
from gridloop_tools.testing.service_fixtures import Deliver
from gridloop_tools.testing.service_suite import metric_sample


@pytest.fixture
async def served(client: httpx.AsyncClient, app: FastAPI) -> None:
    for district in (YANZHOU, RENCHENG):
        await load_over_http(client, app, district)


def withdrawal(
    report_id: str = "rep-1", reporter: str = "rider-1", *, id_: str | None = None
) -> CloudEvent:
    data = report_withdrawn(report_id=report_id, reporter_id=reporter, reason="拍错了")
    return as_event(data, subject=report_id, sequence=2, id_=id_)


async def order_of(client: httpx.AsyncClient, app: FastAPI, report_id: str) -> dict[str, Any]:
    headers = bearer(app, role="supervisor", subject="s-gulou", district=YANZHOU)
    listed = (await client.get("/v1/workorders", headers=headers)).json()["items"]
    (summary,) = [o for o in listed if o["report_id"] == report_id]
    found: dict[str, Any] = (
        await client.get(f"/v1/workorders/{summary['id']}", headers=headers)
    ).json()
    return found


async def counted(client: httpx.AsyncClient, outcome: str) -> float | None:
    text = (await client.get("/metrics")).text
    return metric_sample(text, "gridloop_withdrawals_total", outcome=outcome)


async def events_of(app: FastAPI, work_order_id: str) -> list[CloudEvent]:
    return [e for e in await outbox(app) if e.subject == work_order_id]


@pytest.mark.usefixtures("served")
@pytest.mark.parametrize(
    ("category", "state"), [("0501", "dispatched"), ("0701", "pending_review")]
)
async def test_the_only_report_of_an_unclaimed_order_voids_it(
    client: httpx.AsyncClient, app: FastAPI, deliver: Deliver, category: str, state: str
) -> None:
    await deliver(report_event(category=category))
    order = await order_of(client, app, "rep-1")
    assert order["state"] == state
    assert await counted(client, "voided") == 0.0

    event = withdrawal()
    await deliver(event)

    order = await order_of(client, app, "rep-1")
    assert (order["state"], order["assignee"]) == ("voided", None)
    last = order["history"][-1]
    assert (last["action"], last["actor"], last["actor_role"], last["from_state"]) == (
        "withdraw",
        "rider-1",
        "reporter",
        state,
    )
    assert last["reason"] == "上报人已撤回：拍错了"
    voided = (await events_of(app, order["id"]))[-1]
    assert (short(voided.type), voided.sequence) == ("voided", order["version"])
    assert voided.data["reason_code"] == "withdrawn_by_reporter"
    assert (voided.data["voided_by"], voided.data["report_ids"]) == ("rider-1", ["rep-1"])
    assert await counted(client, "voided") == 1.0

    published = len(await outbox(app))
    await deliver(event)  # redelivered: the consumer knows its id
    await deliver(withdrawal(id_="the-same-withdrawal-again"))  # re-applied: nothing changes
    assert (await order_of(client, app, "rep-1"))["history"] == order["history"]
    assert len(await outbox(app)) == published
    assert await counted(client, "voided") == 1.0


@pytest.mark.usefixtures("served")
async def test_a_claimed_case_goes_on(
    client: httpx.AsyncClient, app: FastAPI, deliver: Deliver
) -> None:
    await deliver(report_event())
    order = await order_of(client, app, "rep-1")
    worker = bearer(app, role="grid_worker", subject="w-west-1", grids=["g-west"])
    claimed = await client.post(f"/v1/workorders/{order['id']}/claim", headers=worker)
    assert claimed.status_code == 200, claimed.text
    published = len(await outbox(app))

    await deliver(withdrawal())

    after = await order_of(client, app, "rep-1")
    assert (after["state"], after["history"]) == ("claimed", claimed.json()["history"])
    assert len(await outbox(app)) == published
    assert await counted(client, "too_late") == 1.0
    assert await counted(client, "voided") == 0.0


@pytest.mark.usefixtures("served")
async def test_a_merged_report_is_detached_from_the_case(
    client: httpx.AsyncClient, app: FastAPI, deliver: Deliver
) -> None:
    await deliver(report_event("rep-1"))
    await deliver(report_event("rep-2", reporter="rider-2", at=north_of(WEST, 30)))
    order = await order_of(client, app, "rep-1")
    assert [r["report_id"] for r in order["reports"]] == ["rep-2"]
    published = len(await outbox(app))

    await deliver(withdrawal("rep-2", "rider-2"))
    await deliver(withdrawal("rep-2", "rider-2", id_="the-same-withdrawal-again"))

    after = await order_of(client, app, "rep-1")
    assert (after["state"], after["version"]) == ("dispatched", order["version"])
    (merged,) = after["reports"]
    assert merged["report_id"] == "rep-2" and merged["detached_at"] is not None
    assert len(await outbox(app)) == published
    assert await counted(client, "detached") == 1.0

    worker = bearer(app, role="grid_worker", subject="w-west-1", grids=["g-west"])
    claimed = await client.post(f"/v1/workorders/{order['id']}/claim", headers=worker)
    assert claimed.status_code == 200, claimed.text
    told = (await events_of(app, order["id"]))[-1]
    assert short(told.type) == "claimed"
    assert told.data["reporter_ids"] == ["rider-1"]


@pytest.mark.usefixtures("served")
async def test_an_order_others_were_merged_into_goes_on_for_them(
    client: httpx.AsyncClient, app: FastAPI, deliver: Deliver
) -> None:
    await deliver(report_event("rep-1"))
    await deliver(report_event("rep-2", reporter="rider-2", at=north_of(WEST, 30)))
    published = len(await outbox(app))

    await deliver(withdrawal("rep-1"))

    assert (await order_of(client, app, "rep-1"))["state"] == "dispatched"
    assert len(await outbox(app)) == published
    assert await counted(client, "shared") == 1.0


@pytest.mark.usefixtures("served")
async def test_a_rejected_or_unknown_report_is_counted_and_nothing_else(
    client: httpx.AsyncClient, app: FastAPI, deliver: Deliver
) -> None:
    await deliver(report_event("rep-1", at=NOWHERE))
    published = len(await outbox(app))

    await deliver(withdrawal("rep-1"))
    await deliver(withdrawal("rep-never-seen"))

    assert len(await outbox(app)) == published
    assert await counted(client, "rejected_already") == 1.0
    assert await counted(client, "unknown") == 1.0
