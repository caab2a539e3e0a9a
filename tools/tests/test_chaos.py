"""The chaos suite's own parts: the database proxy, the fault plan, the riders' retries, the
replay's picture of the services' wiring, and checks that do fail when something is doubled
or missing."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from importlib import import_module
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from gridloop_tools.chaos.checks import Outcome, check_inbox, check_points, logged
from gridloop_tools.chaos.databases import MESSAGING, ServiceDatabases
from gridloop_tools.chaos.faults import EARLIEST, LATEST, plan_faults
from gridloop_tools.chaos.load import LoadDriver, plan_submissions
from gridloop_tools.chaos.proxy import TcpProxy
from gridloop_tools.chaos.replay import CONSUMED_TOPICS
from gridloop_tools.chaos.topics import metric_sum
from gridloop_tools.stack import SERVICES
from ledger.domain.rules import RuleSet

# --- the proxy ---------------------------------------------------------------------------


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _round_trip(port: int, payload: bytes) -> bytes:
    """What comes back; nothing if the connection was closed or reset."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.read(1024), timeout=5)
    except ConnectionError:
        return b""
    finally:
        writer.close()


async def test_the_proxy_forwards_cuts_everything_then_forwards_again() -> None:
    upstream = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = int(upstream.sockets[0].getsockname()[1])
    proxy = TcpProxy("127.0.0.1", port).start()
    try:
        assert await _round_trip(proxy.port, b"hello") == b"hello"
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"open")
        assert await reader.read(1024) == b"open"

        await asyncio.to_thread(proxy.cut, 1.0)
        # the open connection is dropped; a new one is accepted and closed at once
        with pytest.raises((ConnectionError, AssertionError)):
            assert await asyncio.wait_for(reader.read(1024), timeout=5)
        writer.close()
        assert await _round_trip(proxy.port, b"during") == b""
        assert (proxy.counts.dropped, proxy.counts.refused) == (1, 1)

        await asyncio.sleep(1.2)
        assert await _round_trip(proxy.port, b"after") == b"after"
    finally:
        await asyncio.to_thread(proxy.stop)
        upstream.close()


def test_the_proxy_closes_a_connection_it_cannot_forward() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    proxy = TcpProxy("127.0.0.1", closed_port).start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as client:
            client.settimeout(5)
            assert client.recv(16) == b""  # closed: the upstream is not there
    finally:
        proxy.stop()


# --- the fault plan ----------------------------------------------------------------------


def test_the_seed_fixes_the_fault_plan() -> None:
    def plan(seed: int) -> list[object]:
        return list(
            plan_faults(
                random.Random(seed), services=SERVICES, kills=2, broker_restarts=3, cut_seconds=60
            )
        )

    assert plan(7) == plan(7)
    assert plan(7) != plan(8)
    faults = plan_faults(
        random.Random(7), services=SERVICES, kills=2, broker_restarts=3, cut_seconds=60
    )
    assert [f.at for f in faults] == sorted(f.at for f in faults)
    assert all(EARLIEST <= f.at <= LATEST for f in faults)
    kinds = [(f.kind, f.target) for f in faults]
    assert all(kinds.count(("kill", name)) == 2 for name in SERVICES)
    assert kinds.count(("broker_restart", "broker")) == 3
    assert [f.seconds for f in faults if f.kind == "database_cut"] == [60]


def test_no_cut_is_planned_without_a_duration() -> None:
    faults = plan_faults(
        random.Random(1), services=SERVICES, kills=0, broker_restarts=0, cut_seconds=0
    )
    assert faults == []


# --- riders' submissions -----------------------------------------------------------------


async def test_a_submission_is_retried_with_its_own_key_until_accepted() -> None:
    submissions = plan_submissions(3, reports=2, riders=1, outside_ratio=0.0)
    seen: dict[str, list[str]] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        key = request.headers["Idempotency-Key"]
        tries = seen.setdefault(key, [])
        tries.append(key)
        if len(tries) == 1:
            return httpx.Response(503, headers={"Retry-After": "0"}, json={"title": "db down"})
        if len(tries) == 2:
            raise httpx.ConnectError("refused", request=request)
        if len(tries) == 3:
            return httpx.Response(500, json={"title": "oops"})
        replayed = {"Idempotent-Replayed": "true"} if key.endswith(("0", "2", "4")) else {}
        return httpx.Response(201, headers=replayed, json={"id": f"rep-{key}"})

    driver = LoadDriver(
        "http://reporting.test",
        submissions,
        max_delay=0.01,
        transport=httpx.MockTransport(answer),
    )
    result = await driver.run()

    assert sorted(a.report_id for a in result.accepted) == sorted(
        f"rep-{s.idempotency_key}" for s in submissions
    )
    assert all(accepted.attempts == 4 for accepted in result.accepted)
    assert len(seen) == 2  # one key per report, the same on every try
    assert result.retries == {"HTTP 503": 2, "ConnectError": 2, "HTTP 500": 2}
    assert driver.progress == 1.0


async def test_a_refusal_that_no_retry_can_change_is_recorded() -> None:
    submissions = plan_submissions(3, reports=1, riders=1, outside_ratio=0.0)
    driver = LoadDriver(
        "http://reporting.test",
        submissions,
        transport=httpx.MockTransport(lambda _: httpx.Response(422, json={"title": "bad"})),
    )
    result = await driver.run()
    assert result.accepted == []
    assert [reason for _, reason in result.refused] == ["HTTP 422: bad"]


# --- the picture of the services the replay relies on ------------------------------------


def test_each_service_consumes_the_topics_the_replay_waits_for() -> None:
    for name in SERVICES:
        app = import_module(f"{name}.bootstrap").create_app()
        bindings = app.state.runtime.consumers
        assert [(b.consumer.name, b.topics) for b in bindings] == [(name, CONSUMED_TOPICS[name])]


def test_metrics_are_summed_over_the_matching_series() -> None:
    text = "\n".join(
        [
            "# HELP gridloop_events_consumed_total Events",
            'gridloop_events_consumed_total{consumer="ledger",outcome="processed"} 3.0',
            'gridloop_events_consumed_total{consumer="ledger",outcome="duplicate"} 2.0',
            'gridloop_events_consumed_total{consumer="ledger-replay-1",outcome="processed"} 7.0',
        ]
    )
    assert metric_sum(text, "gridloop_events_consumed_total", consumer="ledger") == 5.0


def test_log_lines_are_counted_by_service_and_detail(tmp_path: Path) -> None:
    (tmp_path / "ledger.log").write_text(
        '{"event": "event.dead_lettered", "reason": "invalid"}\nnot json event.dead_lettered\n'
        '{"event": "event.processed"}\n',
        encoding="utf-8",
    )
    assert logged(tmp_path, "event.dead_lettered", "reason") == {"ledger: invalid": 1}
    assert logged(tmp_path, "event.dead_lettered") == {"ledger": 1}


# --- checks that fail when they should ---------------------------------------------------

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # 11:00 in Asia/Shanghai
DAY = date(2026, 11, 30)


@pytest.fixture()
async def databases(tmp_path: Path) -> AsyncIterator[ServiceDatabases]:
    urls = {
        name: f"sqlite+aiosqlite:///{tmp_path / name}.db" for name in ("ledger", "notification")
    }
    found = ServiceDatabases(urls)
    for name, engine in found.engines.items():
        async with engine.begin() as connection:
            await connection.run_sync(MESSAGING[name].outbox.metadata.create_all)
    yield found
    await found.dispose()


async def _pay(databases: ServiceDatabases, rider: str, reports: list[str]) -> None:
    accounts = databases.table("ledger", "accounts")
    transfers = databases.table("ledger", "transfers")
    paid = 10 * len(reports)
    async with databases.engines["ledger"].begin() as connection:
        for account, credits, debits in (
            ("sys:issuance", 0, 0),  # a system account's balance is derived, never stored
            (f"rider:{rider}", paid, 0),
        ):
            await connection.execute(
                accounts.insert().values(
                    id=account,
                    credits_posted=credits,
                    debits_posted=debits,
                    debits_pending=0,
                    credits_pending=0,
                    must_not_go_negative=account.startswith("rider:"),
                    version=1,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        for report in reports:
            await connection.execute(
                transfers.insert().values(
                    id=f"award:{report}",
                    debit_account_id="sys:issuance",
                    credit_account_id=f"rider:{rider}",
                    amount=10,
                    code="report_accepted",
                    rider_id=rider,
                    report_id=report,
                    work_order_id=f"wo-{report}",
                    ledger_day=DAY,
                    caused_by_event_id=f"event-{report}",
                    created_at=NOW,
                )
            )


def _filed(rider: str, count: int) -> Outcome:
    outcome = Outcome(accepted={})
    outcome.filed = {f"r{n}": (f"wo-r{n}", rider, DAY) for n in range(count)}
    return outcome


async def _withhold(databases: ServiceDatabases, rider: str, reports: list[str]) -> None:
    """The ledger's record of awards the daily cap held back, in whole."""
    withheld = databases.table("ledger", "withheld")
    async with databases.engines["ledger"].begin() as connection:
        for report in reports:
            await connection.execute(
                withheld.insert().values(
                    id=f"award:{report}",
                    kind="capped",
                    code="report_accepted",
                    rider_id=rider,
                    report_id=report,
                    work_order_id=f"wo-{report}",
                    amount=10,
                    fingerprint="f",
                    ledger_day=DAY,
                    caused_by_event_id=f"event-{report}",
                    created_at=NOW,
                )
            )


async def test_the_points_check_accepts_the_cap_and_finds_a_rider_paid_short(
    databases: ServiceDatabases,
) -> None:
    await _pay(databases, "rider-1", [f"r{n}" for n in range(5)])
    await _withhold(databases, "rider-1", ["r5", "r6"])
    rules = RuleSet(report_accepted=10, daily_cap=50)

    capped = await check_points(databases, _filed("rider-1", 7), rules)
    assert capped.ok, capped.problems
    assert capped.figures["rewards capped (in whole or part)"] == 2

    short = await check_points(databases, _filed("rider-1", 8), RuleSet(daily_cap=60))
    assert any("1 rewards never decided" in p and "award:r7" in p for p in short.problems)
    assert any("rider-days paid wrongly" in p for p in short.problems)


async def test_the_inbox_check_finds_a_doubled_and_a_missing_message(
    databases: ServiceDatabases,
) -> None:
    notifications = databases.table("notification", "notifications")
    async with databases.engines["notification"].begin() as connection:
        for number, (report, template) in enumerate(
            [("r0", "report_filed"), ("r0", "report_filed"), ("r0", "points_awarded")]
        ):
            await connection.execute(
                notifications.insert().values(
                    id=f"n{number}",
                    event_id=f"e{number}",
                    recipient_id="rider-1",
                    channel="inbox",
                    template=template,
                    title="t",
                    body="b",
                    report_id=report,
                    created_at=NOW,
                )
            )
    outcome = _filed("rider-1", 2)
    outcome.transfers = {"award:r0": ("r0", 10)}

    check = await check_inbox(databases, outcome)
    assert any("doubled" in p and "r0" in p for p in check.problems)
    assert any("1 messages missing" in p and "r1" in p for p in check.problems)


def test_every_service_has_business_tables_besides_its_messaging_tables() -> None:
    databases = ServiceDatabases({})
    for name in SERVICES:
        tables = {t.name for t in databases.business_tables(name)}
        assert tables and not tables & {"outbox", "processed_events", "outbox_published_offsets"}
    assert isinstance(databases.table("reporting", "reports"), sa.Table)
