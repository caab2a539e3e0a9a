"""The rewards of a report's life and their reversal, through the real consumer, the real HTTP
API and a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from gridloop_tools.testing import builders
from gridloop_tools.testing.builders import keyed_event, work_order_filed
from gridloop_tools.testing.service_fixtures import Auth, Deliver, assert_problem
from gridloop_tools.testing.service_suite import metric_sample
from ledger.adapters.unit_of_work import SqlLedgerUnitOfWork
from ledger.domain.points import Transfer, TransferCode

AT = builders.AT


def filed(report_id: str = "rep-1", rider: str = "rider-1", at: datetime = AT) -> CloudEvent:
    return keyed_event(
        work_order_filed(report_id=report_id, reporter_id=rider, filed_at=at), sequence=1
    )


def merged(report_id: str = "rep-2", rider: str = "rider-2", order: str = "rep-1") -> CloudEvent:
    data = builders.work_order_merged(
        report_id=order,
        reporter_ids=["rider-1", rider],
        merged_report_id=report_id,
        merged_reporter_id=rider,
    )
    return keyed_event(data, sequence=2)


def closed(report_ids: list[str] | None = None) -> CloudEvent:
    data = builders.work_order_closed(
        reporter_ids=["rider-1", "rider-2"], report_ids=report_ids or ["rep-1", "rep-2"]
    )
    return keyed_event(data, sequence=3)


def rated(by: str) -> CloudEvent:
    data = builders.work_order_rated(reporter_ids=["rider-1", "rider-2"], rated_by=by)
    return keyed_event(data, sequence=4)


def voided(report_ids: list[str] | None = None) -> CloudEvent:
    data = builders.work_order_voided(
        reporter_ids=["rider-1", "rider-2"], report_ids=report_ids or ["rep-1", "rep-2"]
    )
    return keyed_event(data, sequence=5)


async def balance(client: httpx.AsyncClient, auth: Auth, rider: str) -> int:
    response = await client.get(f"/v1/accounts/{rider}/balance", headers=auth(subject=rider))
    assert response.status_code == 200, response.text
    value: int = response.json()["balance"]
    return value


async def transfers(client: httpx.AsyncClient, auth: Auth, rider: str) -> list[dict[str, Any]]:
    response = await client.get(
        f"/v1/accounts/{rider}/transfers?limit=200", headers=auth(subject=rider)
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def outbox_types(app: FastAPI) -> list[str]:
    async with app.state.runtime.engine.connect() as connection:
        rows = (
            await connection.execute(sa.text("SELECT payload FROM outbox ORDER BY position"))
        ).all()
    return [CloudEvent.from_bytes(row[0]).type for row in rows]


async def test_a_reports_whole_life_pays_each_reward_once(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    for event in (filed(), merged(), closed(), rated("rider-1"), rated("rider-2")):
        await deliver(event)
        await deliver(event)  # a redelivery
    await deliver(closed())  # closed again after a reopen, under a new event id

    assert await balance(client, auth, "rider-1") == 10 + 5 + 1
    assert await balance(client, auth, "rider-2") == 2 + 1
    first = {t["id"]: (t["code"], t["amount"]) for t in await transfers(client, auth, "rider-1")}
    assert first == {
        "award:rep-1": ("report_accepted", 10),
        "bonus:rep-1": ("closure_bonus", 5),
        "rating:rep-1": ("rating", 1),
    }
    second = {t["id"]: (t["code"], t["amount"]) for t in await transfers(client, auth, "rider-2")}
    assert second == {"corroboration:rep-2": ("corroboration", 2), "rating:rep-2": ("rating", 1)}


async def test_a_partner_system_reporting_through_open311_earns_nothing(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    await deliver(filed(report_id="rep-p", rider="partner:k-1"))
    await deliver(filed(report_id="rep-r", rider="rider-1"))
    assert await transfers(client, auth, "partner:k-1") == []
    assert await balance(client, auth, "rider-1") == 10
    assert "gridloop.points.awarded" in await outbox_types(app)
    async with app.state.runtime.engine.connect() as connection:
        partner_rows = await connection.scalar(
            sa.text("SELECT count(*) FROM transfers WHERE rider_id = 'partner:k-1'")
        )
    assert partner_rows == 0


async def test_voided_as_false_takes_back_everything_paid_for_each_report(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    for event in (filed(), merged(), closed(), rated("rider-1")):
        await deliver(event)
    await deliver(voided())
    await deliver(voided())  # a replay under a new event id: nothing more

    assert await balance(client, auth, "rider-1") == 0
    assert await balance(client, auth, "rider-2") == 0
    reversals = [t for t in await transfers(client, auth, "rider-1") if t["code"] == "reversal"]
    assert [(t["id"], t["amount"], t["debit_account_id"]) for t in reversals] == [
        ("reversal:rep-1", 16, "rider:rider-1")
    ]
    assert (await outbox_types(app)).count("gridloop.points.reversed") == 2
    text = (await client.get("/metrics")).text
    assert metric_sample(
        text, "gridloop_ledger_points_total", district="370812", movement="reversed"
    ) == (16 + 2)

    await deliver(rated("rider-2"))  # after the reversal: the report pays nothing more
    assert await balance(client, auth, "rider-2") == 0


async def test_a_reversal_of_spent_points_stops_at_zero_and_records_the_shortfall(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    await deliver(filed())
    await _reserve(app, "rider-1", 8)  # the rider holds 8 of their 10 points for a gift
    await deliver(voided(["rep-1"]))

    response = await client.get("/v1/accounts/rider-1/balance", headers=auth(subject="rider-1"))
    assert (response.json()["balance"], response.json()["available"]) == (8, 0)
    async with app.state.runtime.unit_of_work_factory(SqlLedgerUnitOfWork)() as uow:
        reversal = await uow.ledger.get_transfer("reversal:rep-1")
        shortfall = await uow.ledger.get_withheld("reversal:rep-1")
    assert reversal is not None and reversal.amount == 2
    assert shortfall is not None and (shortfall.kind.value, shortfall.amount) == ("shortfall", 8)


async def _reserve(app: FastAPI, rider: str, amount: int) -> None:
    """Hold points of a rider the way a gift reservation does (a pending debit)."""
    from ledger.domain.points import REDEMPTION_ACCOUNT, Account, post_transfer, rider_account

    async with app.state.runtime.unit_of_work_factory(SqlLedgerUnitOfWork)() as uow:
        await uow.ledger.open_account(REDEMPTION_ACCOUNT, must_not_go_negative=False)
        account = await uow.ledger.open_account(rider_account(rider), must_not_go_negative=True)
        transfer = Transfer(
            id="reserve:test",
            debit_account_id=account.id,
            credit_account_id=REDEMPTION_ACCOUNT,
            amount=amount,
            code=TransferCode.RESERVE,
            rider_id=rider,
            report_id="",
            work_order_id=None,
            ledger_day=AT.date(),
            caused_by_event_id="test",
            created_at=AT,
        )
        account, _ = post_transfer(account, Account(REDEMPTION_ACCOUNT), transfer)
        await uow.ledger.record(transfer, [account])
        await uow.commit()


async def test_an_award_past_the_cap_is_recorded_as_capped_and_told(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, app: FastAPI
) -> None:
    for n in range(5):
        await deliver(filed(f"rep-{n}"))
    await deliver(keyed_event(builders.work_order_closed(report_id="rep-0"), sequence=2))
    await deliver(keyed_event(builders.work_order_closed(report_id="rep-0"), sequence=2))

    assert await balance(client, auth, "rider-1") == 50
    async with app.state.runtime.unit_of_work_factory(SqlLedgerUnitOfWork)() as uow:
        capped = await uow.ledger.get_withheld("bonus:rep-0")
    assert capped is not None and (capped.kind.value, capped.amount) == ("capped", 5)
    assert (await outbox_types(app)).count("gridloop.points.capped") == 1
    async with app.state.runtime.engine.connect() as connection:
        rows = (
            await connection.execute(sa.text("SELECT payload FROM outbox ORDER BY position"))
        ).all()
    sequences = [CloudEvent.from_bytes(row[0]).sequence for row in rows]
    assert sequences == [1, 2, 3, 4, 5, 6]  # the capped decision has its own sequence
    text = (await client.get("/metrics")).text
    assert (
        metric_sample(text, "gridloop_ledger_points_total", district="370812", movement="capped")
        == 5
    )


async def test_the_same_id_with_other_content_is_refused_and_counted(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    await deliver(filed("rep-1", rider="rider-1"))
    await deliver(filed("rep-1", rider="rider-9"))  # the same report, another reporter

    assert await balance(client, auth, "rider-1") == 10
    assert await balance(client, auth, "rider-9") == 0
    text = (await client.get("/metrics")).text
    assert metric_sample(text, "gridloop_ledger_transfer_conflicts_total", code="report_accepted")


# --- rules ------------------------------------------------------------------------------------


def rules_body(effective_from: datetime, **changes: int) -> dict[str, Any]:
    return {"effective_from": effective_from.isoformat(), **changes}


async def test_a_rule_set_pays_events_from_its_time_on_and_replays_keep_old_answers(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    start = datetime.now(UTC) + timedelta(hours=1)
    response = await client.put(
        "/v1/districts/370812/point-rules",
        json=rules_body(start, report_accepted=20, daily_cap=100),
        headers=auth(role="admin", subject="admin-1"),
    )
    assert response.status_code == 200, response.text
    assert [r["report_accepted"] for r in response.json()["rule_sets"]] == [20]

    before = filed("rep-old", at=start - timedelta(minutes=1))
    await deliver(before)
    await deliver(filed("rep-new", at=start))
    await deliver(filed("rep-old", at=start - timedelta(minutes=1)))  # a replay

    paid = {t["report_id"]: t["amount"] for t in await transfers(client, auth, "rider-1")}
    assert paid == {"rep-old": 10, "rep-new": 20}


async def test_rule_sets_are_admin_only_never_in_the_past_and_never_rewritten(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    url = "/v1/districts/370812/point-rules"
    start = datetime.now(UTC) + timedelta(days=1)
    admin = auth(role="admin", subject="admin-1")
    response = await client.put(url, json=rules_body(start), headers=auth(role="supervisor"))
    assert_problem(response, 403, "role 'supervisor'")
    past = rules_body(datetime.now(UTC) - timedelta(minutes=5))
    assert_problem(await client.put(url, json=past, headers=admin), 422, "past")
    assert (await client.put(url, json=rules_body(start), headers=admin)).status_code == 200
    assert (await client.put(url, json=rules_body(start), headers=admin)).status_code == 200
    other = rules_body(start, rating=3)
    assert_problem(await client.put(url, json=other, headers=admin), 409, "another rule set")
    response = await client.get(url, headers=auth(role="supervisor"))
    assert response.status_code == 200
    assert response.json()["in_force"]["report_accepted"] == 10
    assert_problem(await client.get(url, headers=auth()), 403, "staff")
