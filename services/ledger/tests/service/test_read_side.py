"""The read side: a rider's statement with reasons in 中文, and a district's top participants."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from common.contracts.envelope import CloudEvent
from gridloop_tools.testing import builders
from gridloop_tools.testing.builders import keyed_event, work_order_filed
from gridloop_tools.testing.service_fixtures import Auth, Deliver, assert_problem

AT = builders.AT


def filed(report_id: str, rider: str = "rider-1", at: datetime = AT) -> CloudEvent:
    return keyed_event(work_order_filed(report_id=report_id, reporter_id=rider, filed_at=at))


async def statement(client: httpx.AsyncClient, auth: Auth, rider: str) -> list[dict[str, Any]]:
    response = await client.get(
        f"/v1/accounts/{rider}/statement?limit=200", headers=auth(subject=rider)
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_the_statement_shows_each_transfer_and_each_withheld_reward_with_its_reason(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    for n in range(5):
        await deliver(filed(f"rep-{n}"))
    await deliver(filed("rep-5"))  # past the cap
    await deliver(keyed_event(builders.work_order_voided(report_id="rep-0"), sequence=2))

    lines = await statement(client, auth, "rider-1")
    by_id = {line["id"]: line for line in lines}
    assert len(lines) == 7
    award = by_id["award:rep-1"]
    assert (award["kind"], award["amount"], award["balance_change"]) == ("transfer", 10, 10)
    assert award["reason"] == "上报被立案"
    assert (award["report_id"], award["work_order_id"]) == ("rep-1", "wo-rep-1")
    capped = by_id["withheld:award:rep-5"]
    assert (capped["kind"], capped["amount"], capped["balance_change"]) == ("capped", 10, 0)
    assert capped["reason"] == "已达每日积分上限，未发放"
    reversal = by_id["reversal:rep-0"]
    assert (reversal["amount"], reversal["balance_change"]) == (10, -10)
    assert reversal["reason"] == "案件作废，扣回积分"
    assert sum(line["balance_change"] for line in lines) == 40


async def test_another_riders_statement_is_403(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.get("/v1/accounts/rider-1/statement", headers=auth(subject="rider-2"))
    assert_problem(response, 403, "own points")


async def test_the_top_participants_of_a_month_net_of_reversals(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    for n in range(3):
        await deliver(filed(f"a-{n}", rider="rider-a"))
    for n in range(2):
        await deliver(filed(f"b-{n}", rider="rider-b"))
    await deliver(filed("c-0", rider="rider-c"))
    await deliver(filed("late", rider="rider-c", at=datetime(2026, 12, 1, 9, tzinfo=UTC)))
    voided = builders.work_order_voided(report_id="b-1", reporter_ids=["rider-b"])
    await deliver(keyed_event(voided, sequence=2))

    url = "/v1/districts/370812/top-participants?month=2026-11"
    response = await client.get(url, headers=auth(role="supervisor"))
    assert response.status_code == 200, response.text
    assert response.json()["participants"] == [
        {"rank": 1, "rider_id": "rider-a", "points": 30, "reports": 3},
        {"rank": 2, "rider_id": "rider-b", "points": 10, "reports": 2},
        {"rank": 3, "rider_id": "rider-c", "points": 10, "reports": 1},
    ]
    assert_problem(await client.get(url, headers=auth()), 403, "staff")
    other = "/v1/districts/370811/top-participants?month=2026-11"
    assert_problem(await client.get(other, headers=auth(role="supervisor")), 403, "370811")
    bad = "/v1/districts/370812/top-participants?month=2026-13"
    assert_problem(await client.get(bad, headers=auth(role="admin")), 422, "not a month")
