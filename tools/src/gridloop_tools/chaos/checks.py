"""The checks after a run: nothing lost, nothing doubled, read from each service's database.

Each check returns its figures (printed whatever the outcome) and the problems it found; a run
passes only if no check found any.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from common.contracts.topics import Topic
from gridloop_tools.chaos.databases import ServiceDatabases
from gridloop_tools.chaos.load import Accepted
from gridloop_tools.chaos.topics import records_on
from ledger.config import LedgerSettings
from ledger.domain.points import AwardRules, award_transfer_id, ledger_day, rider_account
from notification.domain.messages import TemplateId

Figure = int | str


@dataclass
class Check:
    name: str
    figures: dict[str, Figure] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def expect(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)


def _sample(items: Iterable[object], limit: int = 5) -> str:
    shown = sorted(str(item) for item in items)
    more = f" … (+{len(shown) - limit})" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more


def award_rules() -> AwardRules:
    """The ledger's rules as the services read them from this same environment."""
    settings = LedgerSettings()
    return AwardRules(settings.points_report_accepted, settings.points_daily_cap)


@dataclass
class Outcome:
    """What became of the accepted reports, as the services recorded it."""

    accepted: dict[str, Accepted]
    filed: dict[str, tuple[str, str, date]] = field(default_factory=dict)
    """report id -> (work order id, rider, Asia/Shanghai day of the filing)."""
    rejected: set[str] = field(default_factory=set)
    transfers: dict[str, tuple[str, int]] = field(default_factory=dict)
    """transfer id -> (report id, amount)."""


async def check_reports(databases: ServiceDatabases, accepted: Sequence[Accepted]) -> Check:
    check = Check("reports: every accepted report stored once and triaged")
    ids = Counter(item.report_id for item in accepted)
    reports = databases.table("reporting", "reports")
    rows = await databases.fetch("reporting", sa.select(reports.c.id, reports.c.status))
    statuses = Counter(row.status for row in rows)
    stored = {row.id for row in rows}
    keys = await databases.count("reporting", "idempotency_keys")
    check.figures = {
        "accepted (201)": len(accepted),
        "stored": len(rows),
        "idempotency keys": keys,
        **{f"status {status}": count for status, count in sorted(statuses.items())},
    }
    shared = [report for report, count in ids.items() if count > 1]
    check.expect(not shared, f"one report id answered several submissions: {_sample(shared)}")
    check.expect(not ids.keys() - stored, f"accepted, not stored: {_sample(ids.keys() - stored)}")
    check.expect(not stored - ids.keys(), f"stored, never accepted: {_sample(stored - ids.keys())}")
    check.expect(keys == len(rows), f"{keys} idempotency keys for {len(rows)} reports")
    pending = [row.id for row in rows if row.status == "submitted"]
    check.expect(not pending, f"{len(pending)} reports still submitted: {_sample(pending)}")
    return check


async def check_triage(databases: ServiceDatabases, outcome: Outcome) -> Check:
    check = Check("dispatch: exactly one work order or rejection per report")
    orders = databases.table("dispatch", "work_orders")
    rejections = databases.table("dispatch", "rejected_reports")
    order_rows = await databases.fetch(
        "dispatch",
        sa.select(orders.c.id, orders.c.report_id, orders.c.reporter_id, orders.c.filed_at),
    )
    rejected = {
        row.report_id
        for row in await databases.fetch("dispatch", sa.select(rejections.c.report_id))
    }
    per_report = Counter(row.report_id for row in order_rows)
    outcome.filed = {
        row.report_id: (row.id, row.reporter_id, ledger_day(row.filed_at)) for row in order_rows
    }
    outcome.rejected = rejected
    accepted = outcome.accepted.keys()
    both = outcome.filed.keys() & rejected
    neither = accepted - outcome.filed.keys() - rejected
    unknown = (outcome.filed.keys() | rejected) - accepted
    planned_outside = {i for i, a in outcome.accepted.items() if a.submission.planned.outside}
    check.figures = {
        "work orders": len(order_rows),
        "rejections": len(rejected),
        "planned outside the district": len(planned_outside),
    }
    doubled = [report for report, count in per_report.items() if count > 1]
    check.expect(not doubled, f"several work orders for one report: {_sample(doubled)}")
    check.expect(not both, f"filed and rejected: {_sample(both)}")
    check.expect(not neither, f"{len(neither)} reports never triaged: {_sample(neither)}")
    check.expect(not unknown, f"triaged, never accepted: {_sample(unknown)}")
    check.expect(
        rejected == planned_outside,
        f"rejected other than planned outside: {_sample(rejected ^ planned_outside)}",
    )
    reports = databases.table("reporting", "reports")
    shown = await databases.fetch(
        "reporting", sa.select(reports.c.id, reports.c.status, reports.c.work_order_id)
    )
    disagree = [
        row.id
        for row in shown
        if (row.status == "filed") != (row.id in outcome.filed)
        or (row.status == "rejected") != (row.id in rejected)
        or (row.status == "filed" and row.work_order_id != outcome.filed[row.id][0])
    ]
    check.figures["reporting agrees"] = len(shown) - len(disagree)
    check.expect(not disagree, f"reporting shows another outcome: {_sample(disagree)}")
    return check


async def check_points(
    databases: ServiceDatabases, outcome: Outcome, rules: AwardRules | None = None
) -> Check:
    check = Check("ledger: each filed report paid once or capped; books balance")
    rules = rules or award_rules()
    transfers = databases.table("ledger", "transfers")
    accounts = databases.table("ledger", "accounts")
    rows = await databases.fetch(
        "ledger",
        sa.select(
            transfers.c.id,
            transfers.c.report_id,
            transfers.c.rider_id,
            transfers.c.amount,
            transfers.c.ledger_day,
            transfers.c.credit_account_id,
        ),
    )
    outcome.transfers = {row.id: (row.report_id, row.amount) for row in rows}
    per_report = Counter(row.report_id for row in rows)
    filed_per_day: Counter[tuple[str, date]] = Counter(
        (rider, day) for _, rider, day in outcome.filed.values()
    )
    paid_per_day: Counter[tuple[str, date]] = Counter()
    paid_per_rider: Counter[str] = Counter()
    for row in rows:
        paid_per_day[(row.rider_id, row.ledger_day)] += row.amount
        paid_per_rider[row.credit_account_id] += row.amount
    wrong_days = [
        f"{rider} {day}: paid {paid_per_day[(rider, day)]} for {filed} filed"
        for (rider, day), filed in filed_per_day.items()
        if paid_per_day[(rider, day)] != min(rules.report_accepted * filed, rules.daily_cap)
    ]
    wrong_days += [
        f"{rider} {day}: paid {paid} for nothing filed"
        for (rider, day), paid in paid_per_day.items()
        if (rider, day) not in filed_per_day
    ]
    balances: dict[str, int] = {
        row.id: row.credits_posted - row.debits_posted
        for row in await databases.fetch(
            "ledger",
            sa.select(accounts.c.id, accounts.c.credits_posted, accounts.c.debits_posted),
        )
    }
    riders = {a: balance for a, balance in balances.items() if a.startswith("rider:")}
    total = sum(balances.values())
    negative = [account for account, balance in riders.items() if balance < 0]
    unbalanced = [a for a, balance in riders.items() if balance != paid_per_rider[a]]
    capped = len(outcome.filed) - len(per_report.keys() & outcome.filed.keys())
    check.figures = {
        "filed reports": len(outcome.filed),
        "award transfers": len(rows),
        "capped (no transfer)": capped,
        "points awarded": sum(row.amount for row in rows),
        "rider-days": len(filed_per_day),
        "rider-days at the cap": sum(
            1 for n in filed_per_day.values() if rules.report_accepted * n >= rules.daily_cap
        ),
        "accounts": len(balances),
        "sum over all accounts": total,
    }
    doubled = [report for report, count in per_report.items() if count > 1]
    check.expect(not doubled, f"paid more than once: {_sample(doubled)}")
    unfiled = per_report.keys() - outcome.filed.keys()
    check.expect(not unfiled, f"paid, never filed: {_sample(unfiled)}")
    misnamed = [row.id for row in rows if row.id != award_transfer_id(row.report_id)]
    check.expect(not misnamed, f"transfer ids not award:<report>: {_sample(misnamed)}")
    check.expect(
        not wrong_days, f"{len(wrong_days)} rider-days paid wrongly: {_sample(wrong_days)}"
    )
    check.expect(total == 0, f"the accounts sum to {total}, not 0")
    check.expect(not negative, f"riders below zero: {_sample(negative)}")
    check.expect(not unbalanced, f"balance differs from the transfers: {_sample(unbalanced)}")
    stray = riders.keys() - {rider_account(rider) for _, rider, _ in outcome.filed.values()}
    check.expect(not stray, f"accounts of riders who filed nothing: {_sample(stray)}")
    return check


async def check_inbox(databases: ServiceDatabases, outcome: Outcome) -> Check:
    check = Check("notification: one message per triage and per award, none doubled")
    notifications = databases.table("notification", "notifications")
    rows = await databases.fetch(
        "notification",
        sa.select(
            notifications.c.report_id, notifications.c.template, notifications.c.recipient_id
        ),
    )
    per_key = Counter((row.report_id, row.template) for row in rows)
    awarded = {report for report, _ in outcome.transfers.values()}
    expected = Counter(
        {(report, TemplateId.REPORT_FILED.value): 1 for report in outcome.filed}
        | {(report, TemplateId.REPORT_REJECTED.value): 1 for report in outcome.rejected}
        | {(report, TemplateId.POINTS_AWARDED.value): 1 for report in awarded}
    )
    templates = Counter(row.template for row in rows)
    check.figures = {
        **{f"{template}": count for template, count in sorted(templates.items())},
        "expected messages": sum(expected.values()),
    }
    doubled = [key for key, count in per_key.items() if count > 1]
    missing = expected.keys() - per_key.keys()
    extra = per_key.keys() - expected.keys()
    check.expect(not doubled, f"messages doubled: {_sample(doubled)}")
    check.expect(not missing, f"{len(missing)} messages missing: {_sample(missing)}")
    check.expect(not extra, f"{len(extra)} messages for nothing: {_sample(extra)}")
    reporters = {i: a.submission.planned.rider_id for i, a in outcome.accepted.items()}
    misdelivered = [
        row.report_id for row in rows if reporters.get(row.report_id) != row.recipient_id
    ]
    check.expect(not misdelivered, f"messages to someone else: {_sample(misdelivered)}")
    return check


def logged(log_dir: Path, event: str, detail: str = "") -> Counter[str]:
    """How often each service logged ``event`` (over all its restarts: the launcher appends
    to one log per service), by ``service`` or ``service: <detail field>``."""
    found: Counter[str] = Counter()
    for log in sorted(log_dir.glob("*.log")):
        with log.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if event not in line:
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("event") == event:
                    found[f"{log.stem}: {entry.get(detail)}" if detail else log.stem] += 1
    return found


async def check_dead_letters(log_dir: Path, bootstrap_servers: str, injected: int = 0) -> Check:
    check = Check("dead letters: none but the injected")
    letters = logged(log_dir, "event.dead_lettered", "reason")
    on_topic = await records_on(bootstrap_servers, [Topic.DEADLETTER.value])
    check.figures = {
        "logged by the services": sum(letters.values()),
        "on the topic now": on_topic,
        "injected": injected,
    }
    check.expect(
        sum(letters.values()) <= injected,
        f"dead letters: {', '.join(f'{k} ×{n}' for k, n in sorted(letters.items()))}",
    )
    return check


async def verify(
    databases: ServiceDatabases,
    accepted: Sequence[Accepted],
    *,
    log_dir: Path,
    bootstrap_servers: str,
) -> list[Check]:
    """Every check, in the order of the loop."""
    outcome = Outcome({item.report_id: item for item in accepted})
    return [
        await check_reports(databases, accepted),
        await check_triage(databases, outcome),
        await check_points(databases, outcome),
        await check_inbox(databases, outcome),
        await check_dead_letters(log_dir, bootstrap_servers),
    ]
