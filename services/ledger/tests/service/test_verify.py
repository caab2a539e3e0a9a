"""The ledger proves itself: the admin endpoint and ``gridloop ledger verify`` on a live
database, green after a report's whole life, red for each kind of damage."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from common.contracts.envelope import CloudEvent
from gridloop_tools.cli.main import app as cli
from gridloop_tools.testing import builders
from gridloop_tools.testing.builders import keyed_event, work_order_filed
from gridloop_tools.testing.service_fixtures import Auth, Deliver, assert_problem


def life() -> list[CloudEvent]:
    both = ["rider-1", "rider-2"]
    return [
        keyed_event(work_order_filed(report_id="rep-1"), sequence=1),
        keyed_event(builders.work_order_merged(), sequence=2),
        keyed_event(builders.work_order_closed(reporter_ids=both), sequence=3),
        keyed_event(builders.work_order_rated(reporter_ids=both), sequence=4),
        keyed_event(work_order_filed(report_id="rep-9", reporter_id="rider-3"), sequence=1),
        keyed_event(builders.work_order_voided(report_id="rep-9"), sequence=2),
    ]


async def verification(client: httpx.AsyncClient, auth: Auth) -> dict[str, Any]:
    response = await client.get("/v1/admin/ledger/verify", headers=auth(role="admin"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def run_cli(database_path: Path) -> Any:
    """The command as an operator runs it (its own event loop: in a thread here)."""
    url = f"sqlite+aiosqlite:///{database_path}"
    arguments = ["ledger", "verify", "--database-url", url]
    return await asyncio.to_thread(CliRunner().invoke, cli, arguments)


async def spend(client: httpx.AsyncClient, auth: Auth) -> None:
    """rider-1 redeems a gift and collects it: a reservation posted."""
    gift = {
        "name": "雨衣",
        "cost": 12,
        "stock": 1,
        "collection_point_kind": "station",
        "collection_point_name": "鼓楼驿站",
        "active_from": "2026-01-01T00:00:00+00:00",
    }
    admin = auth(role="admin")
    await client.put("/v1/districts/370812/gifts/raincoat", json=gift, headers=admin)
    reserved = await client.post(
        "/v1/redemptions",
        json={"gift_id": "raincoat"},
        headers={**auth(subject="rider-1"), "Idempotency-Key": "k-1"},
    )
    assert reserved.status_code == 201, reserved.text
    done = await client.post(
        f"/v1/redemptions/{reserved.json()['id']}/fulfil",
        json={"collection_code": reserved.json()["collection_code"]},
        headers=admin,
    )
    assert done.status_code == 200, done.text


async def test_a_sound_ledger_verifies(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, database_path: Path
) -> None:
    for event in life():
        await deliver(event)
    await spend(client, auth)
    body = await verification(client, auth)
    assert body["ok"], body
    # award, corroboration, bonus, rating; award, reversal; reserve, post
    assert body["transfers"] == 8
    result = await run_cli(database_path)
    assert result.exit_code == 0, result.output
    assert "one_per_report: ok" in result.output


DAMAGE = {
    "balances_fold": "UPDATE accounts SET credits_posted = credits_posted + 1 "
    "WHERE id = 'rider:rider-1'",
    "no_negative_rider": "UPDATE accounts SET debits_pending = -3 WHERE id = 'rider:rider-2'",
    "reservations_end_once": "UPDATE redemptions SET state = 'reserved'",
    "one_per_report": "INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, "
    "code, rider_id, report_id, ledger_day, caused_by_event_id, created_at) VALUES "
    "('award:rep-1:again', 'sys:issuance', 'rider:rider-2', 10, 'report_accepted', 'rider-2', "
    "'rep-1', '2026-11-23', 'e', '2026-11-23 09:30:00.000000')",
}


@pytest.mark.parametrize("check", sorted(DAMAGE))
async def test_damage_is_found(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver, database_path: Path, check: str
) -> None:
    for event in life():
        await deliver(event)
    await spend(client, auth)
    engine = sa.create_engine(f"sqlite:///{database_path}")
    with engine.begin() as connection:
        connection.execute(sa.text("PRAGMA ignore_check_constraints = ON"))
        connection.execute(sa.text(DAMAGE[check]))
    engine.dispose()

    body = await verification(client, auth)
    assert not body["ok"]
    assert body["violations"][check], body
    result = await run_cli(database_path)
    assert result.exit_code == 1
    assert f"{check}: 1 broken" in result.output or f"{check}: 2 broken" in result.output


async def test_only_admins_verify(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.get("/v1/admin/ledger/verify", headers=auth(role="supervisor"))
    assert_problem(response, 403, "role 'supervisor'")
