"""The ledger through its HTTP API and its real consumer, against a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.contracts.base import EventData
from common.contracts.envelope import CloudEvent
from gridloop_tools.testing import builders
from gridloop_tools.testing.builders import as_event, keyed_event, work_order_filed
from gridloop_tools.testing.service_fixtures import Auth, DeadLetter, Deliver, assert_problem
from gridloop_tools.testing.service_suite import metric_sample
from ledger.adapters.unit_of_work import SqlLedgerUnitOfWork

DAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def filed(report_id: str, *, reporter_id: str = "rider-1", filed_at: datetime = DAY) -> CloudEvent:
    return as_event(
        work_order_filed(report_id=report_id, reporter_id=reporter_id, filed_at=filed_at)
    )


@pytest.fixture
def sync_db(database_path: Path) -> Iterator[sa.Engine]:
    """A plain SQLAlchemy engine on the service's SQLite file, independent of its code."""
    engine = sa.create_engine(f"sqlite:///{database_path}")
    yield engine
    engine.dispose()


async def balance_of(client: httpx.AsyncClient, auth: Auth, rider_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/accounts/{rider_id}/balance", headers=auth(subject=rider_id))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def transfers_of(client: httpx.AsyncClient, auth: Auth, rider_id: str) -> list[Any]:
    response = await client.get(
        f"/v1/accounts/{rider_id}/transfers?limit=200", headers=auth(subject=rider_id)
    )
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


# --- metrics ----------------------------------------------------------------------------------


async def test_awarded_points_are_counted_in_the_metrics(
    client: httpx.AsyncClient, deliver: Deliver
) -> None:
    await deliver(filed("rep-1"))
    text = (await client.get("/metrics")).text
    assert 'gridloop_points_awarded_total{service="ledger"} 10.0' in text


# --- balances and transfers -------------------------------------------------------------------


async def test_a_rider_without_points_has_a_zero_balance(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    assert await balance_of(client, auth, "nobody") == {
        "account_id": "rider:nobody",
        "rider_id": "nobody",
        "posted": 0,
        "reserved": 0,
        "balance": 0,
        "pending": 0,
        "available": 0,
    }
    assert await transfers_of(client, auth, "nobody") == []


async def test_awards_show_in_balance_and_transfers(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    first, second = filed("rep-1"), filed("rep-2")
    await deliver(first)
    await deliver(second)

    assert await balance_of(client, auth, "rider-1") == {
        "account_id": "rider:rider-1",
        "rider_id": "rider-1",
        "posted": 20,
        "reserved": 0,
        "balance": 20,
        "pending": 0,
        "available": 20,
    }
    items = await transfers_of(client, auth, "rider-1")
    assert [item["id"] for item in items] == ["award:rep-2", "award:rep-1"]  # newest first
    newest = items[0]
    assert newest["debit_account_id"] == "sys:issuance"
    assert newest["credit_account_id"] == "rider:rider-1"
    assert (newest["amount"], newest["code"]) == (10, "report_accepted")
    assert (newest["report_id"], newest["work_order_id"]) == ("rep-2", "wo-rep-2")
    assert newest["ledger_day"] == "2026-11-23"
    assert newest["caused_by_event_id"] == second.id


async def test_points_awarded_events_carry_the_running_balance(
    app: FastAPI, deliver: Deliver
) -> None:
    for n in range(3):
        await deliver(filed(f"rep-{n}"))
    async with app.state.runtime.engine.connect() as connection:
        rows = (
            await connection.execute(sa.text("SELECT payload FROM outbox ORDER BY position"))
        ).all()
    events = [CloudEvent.from_bytes(row[0]) for row in rows]
    assert [e.type for e in events] == ["gridloop.points.awarded"] * 3
    assert [e.subject for e in events] == ["rider-1"] * 3
    assert [(e.data["amount"], e.data["balance"], e.sequence) for e in events] == [
        (10, 10, 1),
        (10, 20, 2),
        (10, 30, 3),
    ]


async def test_transfers_page(client: httpx.AsyncClient, auth: Auth, deliver: Deliver) -> None:
    for n in range(3):
        await deliver(filed(f"rep-{n}"))
    url = "/v1/accounts/rider-1/transfers"
    first = (await client.get(f"{url}?limit=2", headers=auth(subject="rider-1"))).json()
    assert [t["report_id"] for t in first["items"]] == ["rep-2", "rep-1"]
    second = (
        await client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth())
    ).json()
    assert [t["report_id"] for t in second["items"]] == ["rep-0"]
    assert (second["limit"], second["next_cursor"]) == (2, None)


async def test_the_daily_cap_turns_over_at_shanghai_midnight(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    late = datetime(2026, 11, 23, 15, 59, 59, tzinfo=UTC)
    for n in range(6):
        await deliver(filed(f"rep-{n}", filed_at=late))
    assert (await balance_of(client, auth, "rider-1"))["balance"] == 50
    await deliver(filed("rep-midnight", filed_at=datetime(2026, 11, 23, 16, 0, tzinfo=UTC)))

    assert (await balance_of(client, auth, "rider-1"))["balance"] == 60
    days = {
        item["report_id"]: item["ledger_day"]
        for item in await transfers_of(client, auth, "rider-1")
    }
    assert "rep-5" not in days
    assert days["rep-4"] == "2026-11-23"
    assert days["rep-midnight"] == "2026-11-24"


async def test_the_ledger_balances(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, sync_db: sa.Engine, app: FastAPI
) -> None:
    riders = {"rider-a": 7, "rider-b": 2, "rider-c": 1}  # rider-a runs into the cap
    for rider, count in riders.items():
        for n in range(count):
            await deliver(filed(f"{rider}-rep-{n}", reporter_id=rider))
    await deliver(filed("rider-b-rep-0", reporter_id="rider-b"))  # a replay: pays nothing

    with sync_db.connect() as connection:
        accounts = connection.execute(
            sa.text("SELECT id, credits_posted, debits_posted FROM accounts")
        ).all()
        transfer_total = int(
            connection.execute(sa.text("SELECT SUM(amount) FROM transfers")).scalar_one()
        )
    by_id = {row.id: row.credits_posted - row.debits_posted for row in accounts}
    # The issuance account's balance is derived (the fold of its transfers), not stored.
    assert by_id["sys:issuance"] == 0
    async with app.state.runtime.unit_of_work_factory(SqlLedgerUnitOfWork)() as uow:
        derived = await uow.ledger.get_account("sys:issuance")
    assert derived is not None
    by_id["sys:issuance"] = derived.balance
    assert sum(by_id.values()) == 0
    assert by_id["sys:issuance"] == -transfer_total == -(50 + 20 + 10)
    assert all(value >= 0 for key, value in by_id.items() if key.startswith("rider:"))

    for rider in riders:
        balance = (await balance_of(client, auth, rider))["balance"]
        items = await transfers_of(client, auth, rider)
        assert balance == sum(item["amount"] for item in items) == by_id[f"rider:{rider}"]
    assert (await balance_of(client, auth, "rider-a"))["balance"] == 50


# --- the consumer -----------------------------------------------------------------------------


async def test_the_same_event_twice_pays_once(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    event = filed("rep-1")
    await deliver(event)
    await deliver(event)
    assert len(await transfers_of(client, auth, "rider-1")) == 1
    assert (await balance_of(client, auth, "rider-1"))["balance"] == 10
    text = (await client.get("/metrics")).text
    assert 'event_type="gridloop.workorder.filed",outcome="duplicate",service="ledger"} 1.0' in text


async def test_a_replay_under_a_new_event_id_pays_nothing(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    await deliver(filed("rep-1"))
    await deliver(filed("rep-1"))
    assert len(await transfers_of(client, auth, "rider-1")) == 1
    assert (await balance_of(client, auth, "rider-1"))["balance"] == 10
    text = (await client.get("/metrics")).text
    assert 'event_type="gridloop.workorder.filed",outcome="ignored",service="ledger"} 1.0' in text


# --- who may see what -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["balance", "transfers"])
async def test_another_riders_points_are_403(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, path: str
) -> None:
    await deliver(filed("rep-1", reporter_id="rider-1"))
    response = await client.get(f"/v1/accounts/rider-1/{path}", headers=auth(subject="rider-2"))
    assert_problem(response, 403, "own points")


@pytest.mark.parametrize("role", ["supervisor", "admin", "service"])
async def test_staff_see_a_riders_points(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, role: str
) -> None:
    await deliver(filed("rep-1", reporter_id="rider-1"))
    response = await client.get("/v1/accounts/rider-1/balance", headers=auth(role=role))
    assert response.status_code == 200
    assert response.json()["balance"] == 10


@pytest.mark.parametrize("role", ["grid_worker", "department"])
async def test_other_roles_may_not_see_points(
    client: httpx.AsyncClient, auth: Auth, role: str
) -> None:
    response = await client.get("/v1/accounts/rider-1/balance", headers=auth(role=role))
    assert_problem(response, 403, f"role '{role}'")


async def test_staff_oversight_is_not_bound_to_a_district(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    """Every service serves every district and a rider's points are not a district's: staff
    of any district see them (common.auth.authorise_rider_data)."""
    await deliver(filed("rep-1", reporter_id="rider-1"))
    response = await client.get(
        "/v1/accounts/rider-1/balance", headers=auth(role="supervisor", district="370811")
    )
    assert response.status_code == 200


# --- the rest of the work order's life --------------------------------------------------------
# (merged, closed, rated and voided pay or take back points: see test_rewards.py)

LIFE: list[EventData] = [
    builders.work_order_review_requested(),
    builders.work_order_dispatched(),
    builders.work_order_claimed(),
    builders.work_order_resolved(),
    builders.work_order_verified(),
    builders.work_order_rework(),
    builders.work_order_returned(),
    builders.work_order_reopened(),
    builders.work_order_sla_warning(),
    builders.work_order_overdue(),
    builders.work_order_escalated(),
    builders.report_rated(),
    builders.report_reopen_requested(),
    builders.district_catalogue_published(),
]


async def test_the_other_events_of_a_work_orders_life_pay_nothing_and_are_skipped(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    for sequence, data in enumerate(LIFE, start=1):
        await deliver(keyed_event(data, sequence=sequence))
    assert dead_letters == []
    assert (await balance_of(client, auth, "rider-1"))["balance"] == 0
    assert await transfers_of(client, auth, "rider-1") == []
    text = (await client.get("/metrics")).text
    skipped = metric_sample(
        text, "gridloop_events_consumed_total", consumer="ledger", event_type="other"
    )
    assert skipped == len(LIFE)


async def test_a_report_filed_after_review_is_paid_once(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    """Dispatch files a reviewed report when a supervisor accepts it: ``workorder.filed`` at
    the order's second version, after ``review_requested``; the reporter is paid then."""
    await deliver(keyed_event(builders.work_order_review_requested(report_id="rep-9"), sequence=1))
    assert (await balance_of(client, auth, "rider-1"))["balance"] == 0
    await deliver(keyed_event(work_order_filed(report_id="rep-9"), sequence=2))
    await deliver(keyed_event(builders.work_order_dispatched(report_id="rep-9"), sequence=3))
    assert (await balance_of(client, auth, "rider-1"))["balance"] == 10
    assert [t["id"] for t in await transfers_of(client, auth, "rider-1")] == ["award:rep-9"]
