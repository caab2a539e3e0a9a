"""The simulator's redemption (兑换) against the real ledger app on a real SQLite database,
its demo gift catalogues loaded as at start (``LEDGER_DISTRICTS_DIR=demo``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from common.contracts.topics import Topic
from common.tokens import issue_token
from gridloop_tools.cli.simulate.redeem import redeem_a_gift
from gridloop_tools.testing.builders import keyed_event, work_order_filed
from gridloop_tools.testing.fake_stack import FakeStack
from gridloop_tools.testing.service_fixtures import *  # noqa: F403 - the shared fixtures
from gridloop_tools.testing.service_fixtures import Deliver, ServiceUnderTest
from ledger import bootstrap
from ledger.config import LedgerSettings

LEDGER = "http://ledger.test"
SEED = 7


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(bootstrap, LedgerSettings, Topic.WORKORDERS)


@pytest.fixture(name="app")  # the shared fixtures (``deliver``) take this app
async def ledger_app(
    monkeypatch: pytest.MonkeyPatch, build_app: Callable[[], FastAPI]
) -> AsyncIterator[FastAPI]:
    """The ledger, its demo gift catalogues loaded as at start."""
    monkeypatch.setenv("LEDGER_DISTRICTS_DIR", "demo")
    application = build_app()
    await application.state.load_gift_catalogues()
    yield application
    await application.state.runtime.engine.dispose()


@pytest.fixture
def ledger(app: FastAPI) -> FastAPI:
    return app


@pytest.fixture
async def http(ledger: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ledger)) as client:
        yield client


def rider_tokens(ledger: FastAPI, riders: dict[str, str]) -> dict[str, str]:
    return {
        rider: issue_token(ledger.state.jwt_secret, role="rider", subject=rider, district=district)
        for rider, district in riders.items()
    }


async def earn(deliver: Deliver, rider: str, reports: int) -> None:
    for n in range(reports):
        data = work_order_filed(report_id=f"{rider}-rep-{n}", reporter_id=rider)
        await deliver(keyed_event(data))


async def posted(http: httpx.AsyncClient, token: str, rider: str) -> int:
    response = await http.get(
        f"{LEDGER}/v1/accounts/{rider}/balance", headers={"Authorization": f"Bearer {token}"}
    )
    value: int = response.json()["posted"]
    return value


async def test_the_richest_rider_redeems_the_cheapest_gift_and_staff_hand_it_over(
    ledger: FastAPI, http: httpx.AsyncClient, deliver: Deliver
) -> None:
    riders = {"sim-rider-1": "370812", "sim-rider-2": "370811"}
    tokens = rider_tokens(ledger, riders)
    await earn(deliver, "sim-rider-1", 3)  # 30 points
    await earn(deliver, "sim-rider-2", 1)  # 10 points

    tally = await redeem_a_gift(
        http,
        ledger_url=LEDGER,
        jwt_secret=ledger.state.jwt_secret,
        tokens=tokens,
        balances={"sim-rider-1": 30, "sim-rider-2": 10},
        districts=riders,
        seed=SEED,
    )

    assert tally.problems == []
    assert (tally.redeemed, tally.rider_id) == (True, "sim-rider-1")
    assert (tally.gift_name, tally.cost) == ("手机支架", 20)  # the cheapest in 兖州区
    assert await posted(http, tokens["sim-rider-1"], "sim-rider-1") == 10
    gifts = await http.get(f"{LEDGER}/v1/districts/370812/gifts", headers=auth_of(tokens))
    holder = next(g for g in gifts.json()["gifts"] if g["id"] == "370812-phone-holder")
    assert holder["stock"] == 199  # one unit handed over


def auth_of(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {next(iter(tokens.values()))}"}


async def test_a_rider_without_enough_points_redeems_nothing_and_that_is_no_problem(
    ledger: FastAPI, http: httpx.AsyncClient, deliver: Deliver
) -> None:
    riders = {"sim-rider-1": "370811", "sim-rider-2": "370811"}
    tokens = rider_tokens(ledger, riders)
    await earn(deliver, "sim-rider-2", 1)  # 10 points; the cheapest gift costs 20

    tally = await redeem_a_gift(
        http,
        ledger_url=LEDGER,
        jwt_secret=ledger.state.jwt_secret,
        tokens=tokens,
        balances={"sim-rider-1": 0, "sim-rider-2": 10, "sim-rider-3": None},
        districts=riders,
        seed=SEED,
    )

    assert tally.problems == []
    assert (tally.redeemed, tally.rider_id, tally.gift_name, tally.cost) == (
        False,
        "sim-rider-2",
        None,
        None,
    )
    assert "10 points available" in tally.note and "20" in tally.note
    assert await posted(http, tokens["sim-rider-2"], "sim-rider-2") == 10


async def test_a_district_without_gifts_redeems_nothing(
    ledger: FastAPI, http: httpx.AsyncClient, deliver: Deliver
) -> None:
    riders = {"sim-rider-1": "371700"}
    await earn(deliver, "sim-rider-1", 5)
    tally = await redeem_a_gift(
        http,
        ledger_url=LEDGER,
        jwt_secret=ledger.state.jwt_secret,
        tokens=rider_tokens(ledger, riders),
        balances={"sim-rider-1": 50},
        districts=riders,
        seed=SEED,
    )
    assert (tally.redeemed, tally.problems) == (False, [])
    assert "371700" in tally.note


async def test_a_ledger_that_refuses_is_a_problem(
    ledger: FastAPI, http: httpx.AsyncClient, deliver: Deliver
) -> None:
    riders = {"sim-rider-1": "370812"}
    await earn(deliver, "sim-rider-1", 3)
    tally = await redeem_a_gift(
        http,
        ledger_url=LEDGER,
        jwt_secret="not-the-ledger-secret-but-long-enough-0123456789",
        tokens=rider_tokens(ledger, riders),
        balances={"sim-rider-1": 30},
        districts=riders,
        seed=SEED,
    )
    assert not tally.redeemed
    assert len(tally.problems) == 1 and "fulfil redemption" in tally.problems[0]
    assert "401" in tally.problems[0]


async def test_a_ledger_without_gifts_is_noted_not_a_problem() -> None:
    """The simulator's fake stack (like a ledger from before gifts) has no gift routes."""
    stack = FakeStack(districts={"370812": []}, starting_balances={"sim-rider-1": 40})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=stack.app)) as client:
        tally = await redeem_a_gift(
            client,
            ledger_url=LEDGER,
            jwt_secret="unused",
            tokens={"sim-rider-1": "token"},
            balances={"sim-rider-1": 40},
            districts={"sim-rider-1": "370812"},
            seed=SEED,
        )
    assert (tally.redeemed, tally.problems) == (False, [])
    assert tally.note == "the ledger has no gift catalogue API"
