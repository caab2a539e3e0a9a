"""Property-based tests: random interleavings of reports' lives (filed, merged, closed, rated,
voided), redeliveries, replays under new event ids, impostor events that reuse a business key,
rule sets taking effect at random times, and gift redemptions (reserve, fulfil, cancel,
expire) run against the real consumer, API and SQLite database, and against a small
pure-Python reference model (TigerBeetle's auditor pattern). After every step: every balance
agrees with the model, the same transfers exist, and ``verify`` finds the ledger sound.

Events of one work order keep their order (they share a Kafka partition); orders interleave
freely.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.auth import issue_token
from common.contracts.envelope import CloudEvent
from common.messaging.consumer import IncomingRecord
from gridloop_tools.testing import builders
from gridloop_tools.testing.builders import keyed_event, work_order_filed
from ledger import bootstrap
from ledger.adapters.unit_of_work import SqlLedgerUnitOfWork
from ledger.adapters.verify import verify_ledger
from ledger.config import LedgerSettings
from ledger.domain.points import TransferCode, ledger_day
from ledger.domain.redemption import CollectionPointKind, Gift
from ledger.domain.rules import RuleSet, in_force

DISTRICT = "370812"
RIDERS = ["r0", "r1", "r2"]
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
COST = 7

# --- the reference model ----------------------------------------------------------------------


@dataclass
class Order:
    report: str
    reporter: str
    merged_report: str
    merged_reporter: str | None


@dataclass
class Model:
    rule_sets: list[RuleSet]
    defaults: RuleSet = field(default_factory=RuleSet)
    decided: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    transfers: set[str] = field(default_factory=set)
    posted: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pending: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    earned: dict[tuple[str, date], int] = field(default_factory=lambda: defaultdict(int))
    earnings: dict[str, dict[str, dict[str, int]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    )
    """work order -> report -> rider -> points paid (earning codes)."""
    corroborators: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    redemptions: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Idempotency key -> (rider, state)."""

    def available(self, rider: str) -> int:
        return self.posted[rider] - self.pending[rider]

    def pay(
        self, tid: str, code: TransferCode, rider: str, report: str, wo: str, at: datetime
    ) -> None:
        rules = in_force(self.rule_sets, at, self.defaults)
        requested = rules.reward(code)
        content = (code, rider, report, wo, requested)
        if tid in self.decided or f"reversal:{report}" in self.decided or requested == 0:
            return
        day = ledger_day(at)
        amount = rules.capped(requested, self.earned[(rider, day)])
        if amount > 0:
            self.posted[rider] += amount
            self.earned[(rider, day)] += amount
            self.earnings[wo][report][rider] += amount
            self.transfers.add(tid)
        if code is TransferCode.CORROBORATION:
            self.corroborators[wo][rider] = report
        self.decided[tid] = content

    def void(self, wo: str) -> None:
        for report in sorted(self.earnings[wo]):
            for rider, paid in sorted(self.earnings[wo][report].items()):
                tid = f"reversal:{report}"
                if tid in self.decided:
                    continue
                amount = min(paid, max(0, self.available(rider)))
                if amount > 0:
                    self.posted[rider] -= amount
                    self.transfers.add(tid)
                self.decided[tid] = (TransferCode.REVERSAL, rider, report, wo, paid)


# --- the scenario -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    kind: str
    """event, redeliver, replay, impostor, redeem, fulfil, cancel, sweep."""
    order: int = 0
    index: int = 0
    rider: str = ""


def order_script(
    order: Order,
    n: int,
    day: int,
    merged: bool,
    closed: bool,
    rated: tuple[bool, bool],
    voided: bool,
) -> list[tuple[str, Any]]:
    """The events of one order, in their order, with the model's view of each."""
    at = START + timedelta(days=day, minutes=n * 7)
    reporters = [order.reporter] + (
        [order.merged_reporter] if merged and order.merged_reporter else []
    )
    reports = [order.report] + ([order.merged_report] if merged else [])
    script: list[tuple[str, Any]] = [
        ("filed", work_order_filed(report_id=order.report, reporter_id=order.reporter, filed_at=at))
    ]
    if merged and order.merged_reporter:
        script.append(
            (
                "merged",
                builders.work_order_merged(
                    report_id=order.report,
                    reporter_ids=reporters,
                    merged_report_id=order.merged_report,
                    merged_reporter_id=order.merged_reporter,
                    merged_at=at + timedelta(minutes=1),
                ),
            )
        )
    if closed:
        script.append(
            (
                "closed",
                builders.work_order_closed(
                    report_id=order.report,
                    reporter_ids=reporters,
                    report_ids=reports,
                    closed_at=at + timedelta(minutes=2),
                ),
            )
        )
        for rater, wanted in zip(reporters, rated, strict=False):
            if wanted:
                script.append(
                    (
                        "rated",
                        builders.work_order_rated(
                            report_id=order.report,
                            reporter_ids=reporters,
                            rated_by=rater,
                            rated_at=at + timedelta(minutes=3),
                        ),
                    )
                )
    if voided:
        script.append(
            (
                "voided",
                builders.work_order_voided(
                    report_id=order.report,
                    reporter_ids=reporters,
                    report_ids=reports,
                    voided_at=at + timedelta(minutes=4),
                ),
            )
        )
    return script


def apply_to_model(model: Model, orders: list[Order], kind: str, data: Any) -> None:
    match kind:
        case "filed":
            model.pay(
                f"award:{data.report_id}",
                TransferCode.REPORT_ACCEPTED,
                data.reporter_id,
                data.report_id,
                data.work_order_id,
                data.filed_at,
            )
        case "merged":
            model.pay(
                f"corroboration:{data.merged_report_id}",
                TransferCode.CORROBORATION,
                data.merged_reporter_id,
                data.merged_report_id,
                data.work_order_id,
                data.merged_at,
            )
        case "closed":
            model.pay(
                f"bonus:{data.report_id}",
                TransferCode.CLOSURE_BONUS,
                data.reporter_ids[0],
                data.report_id,
                data.work_order_id,
                data.closed_at,
            )
        case "rated":
            if data.rated_by == data.reporter_ids[0]:
                report = data.report_id
            else:
                found = model.corroborators[data.work_order_id].get(data.rated_by)
                if found is None:
                    return
                report = found
            model.pay(
                f"rating:{report}",
                TransferCode.RATING,
                data.rated_by,
                report,
                data.work_order_id,
                data.rated_at,
            )
        case "voided":
            model.void(data.work_order_id)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[RuleSet], list[list[tuple[str, Any]]], list[Step]]:
    rule_sets = []
    for n in range(draw(st.integers(0, 2))):
        rule_sets.append(
            RuleSet(
                report_accepted=draw(st.integers(0, 12)),
                corroboration=draw(st.integers(0, 4)),
                closure_bonus=draw(st.integers(0, 8)),
                rating=draw(st.integers(0, 3)),
                daily_cap=draw(st.integers(5, 50)),
                effective_from=START + timedelta(hours=draw(st.integers(0, 40)), minutes=n),
            )
        )
    scripts = []
    for n in range(draw(st.integers(1, 4))):
        reporter = draw(st.sampled_from(RIDERS))
        merged_reporter = draw(st.sampled_from([r for r in RIDERS if r != reporter]))
        order = Order(f"rep-{n}", reporter, f"rep-{n}-m", merged_reporter)
        scripts.append(
            order_script(
                order,
                n,
                day=draw(st.integers(0, 1)),
                merged=draw(st.booleans()),
                closed=draw(st.booleans()),
                rated=(draw(st.booleans()), draw(st.booleans())),
                voided=draw(st.booleans()),
            )
        )
    steps: list[Step] = []
    emitted = [0] * len(scripts)
    redeemed = 0
    while any(emitted[i] < len(s) for i, s in enumerate(scripts)):
        choice = draw(
            st.sampled_from(
                [
                    "event",
                    "event",
                    "event",
                    "redeliver",
                    "replay",
                    "impostor",
                    "redeem",
                    "fulfil",
                    "cancel",
                    "sweep",
                ]
            )
        )
        open_orders = [i for i, s in enumerate(scripts) if emitted[i] < len(s)]
        started = [i for i in range(len(scripts)) if emitted[i] > 0]
        if choice == "event" or (choice in ("redeliver", "replay", "impostor") and not started):
            i = draw(st.sampled_from(open_orders))
            steps.append(Step("event", i, emitted[i]))
            emitted[i] += 1
        elif choice in ("redeliver", "replay"):
            i = draw(st.sampled_from(started))
            steps.append(Step(choice, i, draw(st.integers(0, emitted[i] - 1))))
        elif choice == "impostor":
            i = draw(st.sampled_from(started))
            steps.append(Step("impostor", i, 0, draw(st.sampled_from(RIDERS))))
        elif choice == "redeem":
            steps.append(Step("redeem", index=redeemed, rider=draw(st.sampled_from(RIDERS))))
            redeemed += 1
        elif choice in ("fulfil", "cancel") and redeemed:
            steps.append(Step(choice, index=draw(st.integers(0, redeemed - 1))))
        elif choice == "sweep":
            steps.append(Step("sweep"))
    return rule_sets, scripts, steps


# --- running a scenario against the service ---------------------------------------------------


class Service:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client
        self.consumer = app.state.runtime.consumers[0].consumer
        self.unit_of_work: Callable[[], SqlLedgerUnitOfWork] = (
            app.state.runtime.unit_of_work_factory(SqlLedgerUnitOfWork)
        )
        self.offset = 0
        self.redemptions: dict[int, dict[str, Any]] = {}

    async def deliver(self, event: CloudEvent) -> None:
        record = IncomingRecord("gridloop.workorders.v1", 0, self.offset, b"k", event.to_bytes())
        self.offset += 1
        await self.consumer.handle(record)

    def headers(self, **claims: str) -> dict[str, str]:
        token = issue_token(self.app.state.jwt_secret, district=DISTRICT, **claims)  # type: ignore[arg-type]
        return {"Authorization": f"Bearer {token}"}

    async def state(self) -> tuple[dict[str, tuple[int, int]], set[str]]:
        async with self.unit_of_work() as uow:
            balances = {}
            for rider in RIDERS:
                account = await uow.ledger.get_account(f"rider:{rider}")
                balances[rider] = (account.balance, account.debits_pending) if account else (0, 0)
            connection = await uow.session.connection()
            verified = await verify_ledger(connection)
            assert verified.ok, verified.violations
            rows = await connection.exec_driver_sql(
                "SELECT id FROM transfers WHERE code NOT IN ('reserve', 'post', 'void', 'expire')"
            )
            return balances, {row[0] for row in rows}


async def run_scenario(
    template: Path,
    folder: Path,
    scenario: tuple[list[RuleSet], list[list[tuple[str, Any]]], list[Step]],
) -> None:
    rule_sets, scripts, steps = scenario
    path = folder / f"{uuid.uuid4()}.db"
    shutil.copyfile(template, path)
    app = bootstrap.create_app(
        LedgerSettings(database_url=f"sqlite+aiosqlite:///{path}", migrate_on_start=False)
    )
    model = Model(rule_sets)
    orders: list[Order] = []
    events: dict[tuple[int, int], CloudEvent] = {}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            service = Service(app, client)
            async with service.unit_of_work() as uow:
                for rules in rule_sets:
                    await uow.ledger.add_rule_set(DISTRICT, rules, "test")
                await uow.ledger.put_gift(
                    Gift(
                        "gift",
                        DISTRICT,
                        "毛巾",
                        COST,
                        1000,
                        CollectionPointKind.STATION,
                        "驿站",
                        START - timedelta(days=400),
                    )
                )
                await uow.commit()
            for step in steps:
                await run_step(service, model, orders, scripts, events, step)
                balances, transfers = await service.state()
                expected = {r: (model.posted[r], model.pending[r]) for r in RIDERS}
                assert balances == expected, (step, balances, expected)
                assert transfers == model.transfers, (step, transfers ^ model.transfers)
    finally:
        await app.state.runtime.engine.dispose()
        path.unlink(missing_ok=True)


async def run_step(
    service: Service,
    model: Model,
    orders: list[Order],
    scripts: list[list[tuple[str, Any]]],
    events: dict[tuple[int, int], CloudEvent],
    step: Step,
) -> None:
    if step.kind in ("event", "redeliver", "replay"):
        kind, data = scripts[step.order][step.index]
        if step.kind == "event":
            events[(step.order, step.index)] = keyed_event(data, sequence=step.index + 1)
            apply_to_model(model, orders, kind, data)
        event = events[(step.order, step.index)]
        if step.kind == "replay":  # the same fact under a new event id
            event = keyed_event(data, sequence=step.index + 1)
        await service.deliver(event)
    elif step.kind == "impostor":  # the same report filed again for someone else: refused
        _, data = scripts[step.order][0]
        if step.rider != data.reporter_id:
            impostor = data.model_copy(update={"reporter_id": step.rider})
            await service.deliver(keyed_event(impostor))
    elif step.kind == "redeem":
        key = f"k-{step.index}"
        response = await service.client.post(
            "/v1/redemptions",
            json={"gift_id": "gift"},
            headers={**service.headers(role="rider", subject=step.rider), "Idempotency-Key": key},
        )
        if model.available(step.rider) >= COST:
            assert response.status_code == 201, response.text
            model.pending[step.rider] += COST
            model.redemptions[key] = (step.rider, "reserved")
            service.redemptions[step.index] = response.json()
        else:
            assert response.status_code == 409, response.text
    elif step.kind in ("fulfil", "cancel"):
        made = service.redemptions.get(step.index)
        if made is None:
            return
        key = f"k-{step.index}"
        rider, state = model.redemptions[key]
        body = {"collection_code": made["collection_code"]} if step.kind == "fulfil" else {}
        response = await service.client.post(
            f"/v1/redemptions/{made['id']}/{step.kind}",
            json=body,
            headers=service.headers(role="admin", subject="admin-1"),
        )
        wanted = "fulfilled" if step.kind == "fulfil" else "cancelled"
        if state == "reserved":
            assert response.status_code == 200, response.text
            model.pending[rider] -= COST
            if step.kind == "fulfil":
                model.posted[rider] -= COST
            model.redemptions[key] = (rider, wanted)
        elif state == wanted:
            assert response.status_code == 200, response.text
        else:
            assert response.status_code == 409, response.text
    elif step.kind == "sweep":
        await service.app.state.sweep_redemptions(datetime.now(UTC) + timedelta(days=30))
        for key, (rider, state) in list(model.redemptions.items()):
            if state == "reserved":
                model.pending[rider] -= COST
                model.redemptions[key] = (rider, "expired")


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_the_ledger_agrees_with_its_model_after_every_step(
    scenario: tuple[list[RuleSet], list[list[tuple[str, Any]]], list[Step]],
    migrated_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("ledger-properties", numbered=True)
    asyncio.run(run_scenario(migrated_template, folder, scenario))
