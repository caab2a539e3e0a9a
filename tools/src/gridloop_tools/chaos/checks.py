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
from typing import Any

import sqlalchemy as sa

from common.contracts.topics import Topic
from gridloop_tools.chaos.databases import ServiceDatabases
from gridloop_tools.chaos.load import Accepted
from gridloop_tools.chaos.topics import records_on
from ledger.config import LedgerSettings
from ledger.domain.points import (
    TransferCode,
    award_transfer_id,
    corroboration_transfer_id,
    is_derived,
    ledger_day,
    rider_account,
)
from ledger.domain.rules import RuleSet
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


@dataclass
class Outcome:
    """What became of the accepted reports, as the services recorded it."""

    accepted: dict[str, Accepted]
    filed: dict[str, tuple[str, str, date]] = field(default_factory=dict)
    """report id -> (work order id, rider, Asia/Shanghai day of the filing): 立案, paid."""
    dispatched: dict[str, str] = field(default_factory=dict)
    """report id of a filed order now dispatched -> its assignee."""
    pending_review: dict[str, str] = field(default_factory=dict)
    """report id -> work order id, for orders waiting for a supervisor's review (not filed)."""
    merged: dict[str, str] = field(default_factory=dict)
    """report id -> the work order it was merged into (并单)."""
    rejected: set[str] = field(default_factory=set)
    transfers: dict[str, tuple[str, int]] = field(default_factory=dict)
    """transfer id -> (report id, amount)."""
    capped: set[str] = field(default_factory=set)
    """report ids with a reward the daily cap held back (in whole or part)."""


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
    check = Check("dispatch: each report filed, waiting for review, merged or rejected, once")
    orders = databases.table("dispatch", "work_orders")
    attached = databases.table("dispatch", "work_order_reports")
    rejections = databases.table("dispatch", "rejected_reports")
    order_rows = await databases.fetch(
        "dispatch",
        sa.select(
            orders.c.id,
            orders.c.report_id,
            orders.c.reporter_id,
            orders.c.filed_at,
            orders.c.status,
            orders.c.assignee_id,
        ),
    )
    merge_rows = await databases.fetch(
        "dispatch", sa.select(attached.c.report_id, attached.c.work_order_id)
    )
    rejected = {
        row.report_id
        for row in await databases.fetch("dispatch", sa.select(rejections.c.report_id))
    }
    per_report = Counter(row.report_id for row in order_rows)
    per_report.update(row.report_id for row in merge_rows)
    for row in order_rows:
        if row.status == "pending_review":
            outcome.pending_review[row.report_id] = row.id
            continue
        outcome.filed[row.report_id] = (row.id, row.reporter_id, ledger_day(row.filed_at))
        if row.status == "dispatched" and row.assignee_id:
            outcome.dispatched[row.report_id] = row.assignee_id
    outcome.merged = {row.report_id: row.work_order_id for row in merge_rows}
    outcome.rejected = rejected
    accepted = outcome.accepted.keys()
    ordered = outcome.filed.keys() | outcome.pending_review.keys() | outcome.merged.keys()
    both = ordered & rejected
    neither = accepted - ordered - rejected
    unknown = (ordered | rejected) - accepted
    planned_outside = {i for i, a in outcome.accepted.items() if a.submission.planned.outside}
    check.figures = {
        "work orders": len(order_rows),
        "filed": len(outcome.filed),
        "dispatched": len(outcome.dispatched),
        "waiting for review": len(outcome.pending_review),
        "merged (并单)": len(outcome.merged),
        "rejections": len(rejected),
        "planned outside the district": len(planned_outside),
    }
    doubled = [report for report, count in per_report.items() if count > 1]
    check.expect(not doubled, f"a report in several work orders: {_sample(doubled)}")
    check.expect(not both, f"given a work order and rejected: {_sample(both)}")
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
    disagree = [row.id for row in shown if not _reporting_agrees(row, outcome)]
    check.figures["reporting agrees"] = len(shown) - len(disagree)
    check.expect(not disagree, f"reporting shows another outcome: {_sample(disagree)}")
    return check


def _reporting_agrees(row: sa.Row[Any], outcome: Outcome) -> bool:
    """Whether reporting's status and work order for a report match dispatch's triage."""
    if row.id in outcome.rejected:
        return bool(row.status == "rejected")
    if row.id in outcome.merged:
        return bool(row.status == "merged" and row.work_order_id == outcome.merged[row.id])
    if row.id in outcome.pending_review:
        order = outcome.pending_review[row.id]
        return bool(row.status == "pending_review" and row.work_order_id in (None, order))
    if row.id in outcome.filed:
        expected = "dispatched" if row.id in outcome.dispatched else "filed"
        return bool(row.status == expected and row.work_order_id == outcome.filed[row.id][0])
    return False


EARNING_CODES = (TransferCode.REPORT_ACCEPTED, TransferCode.CORROBORATION)
"""The rewards a chaos run earns: 立案 for a filed report, 并单 for a merged one (no order is
closed, rated or voided)."""


async def check_points(
    databases: ServiceDatabases, outcome: Outcome, rules: RuleSet | None = None
) -> Check:
    check = Check("ledger: each reward decided once, paid or capped; books balance")
    rules = rules or LedgerSettings().default_rules()
    transfers = databases.table("ledger", "transfers")
    accounts = databases.table("ledger", "accounts")
    withheld_table = databases.table("ledger", "withheld")
    every_transfer = await databases.fetch(
        "ledger",
        sa.select(
            transfers.c.id,
            transfers.c.report_id,
            transfers.c.rider_id,
            transfers.c.amount,
            transfers.c.ledger_day,
            transfers.c.debit_account_id,
            transfers.c.credit_account_id,
            transfers.c.code,
        ),
    )
    withheld = await databases.fetch(
        "ledger",
        sa.select(
            withheld_table.c.id,
            withheld_table.c.report_id,
            withheld_table.c.code,
            withheld_table.c.rider_id,
            withheld_table.c.amount,
            withheld_table.c.ledger_day,
        ).where(withheld_table.c.kind == "capped"),
    )
    codes = {code.value for code in EARNING_CODES}
    paid = [row for row in every_transfer if row.code in codes]
    outcome.transfers = {row.id: (row.report_id, row.amount) for row in paid}
    outcome.capped = {row.report_id for row in withheld}
    owed = {award_transfer_id(report): TransferCode.REPORT_ACCEPTED for report in outcome.filed}
    owed |= {corroboration_transfer_id(r): TransferCode.CORROBORATION for r in outcome.merged}
    decided: Counter[str] = Counter()  # reward id -> points paid and withheld under it
    for row in (*paid, *withheld):
        decided[row.id] += row.amount
    wrong_amounts = [
        f"{reward}: {amount}"
        for reward, amount in decided.items()
        if reward in owed and amount != rules.reward(owed[reward])
    ]
    paid_per_day: Counter[tuple[str, date]] = Counter()
    asked_per_day: Counter[tuple[str, date]] = Counter()
    for row in paid:
        paid_per_day[(row.rider_id, row.ledger_day)] += row.amount
        asked_per_day[(row.rider_id, row.ledger_day)] += row.amount
    for row in withheld:
        asked_per_day[(row.rider_id, row.ledger_day)] += row.amount
    wrong_days = [
        f"{rider} {day}: paid {paid_per_day[(rider, day)]} of {asked} earned"
        for (rider, day), asked in asked_per_day.items()
        if paid_per_day[(rider, day)] != min(asked, rules.daily_cap)
    ]
    balances: dict[str, int] = {
        row.id: row.credits_posted - row.debits_posted
        for row in await databases.fetch(
            "ledger",
            sa.select(accounts.c.id, accounts.c.credits_posted, accounts.c.debits_posted),
        )
    }
    moved: Counter[str] = Counter()
    for row in every_transfer:
        moved[row.credit_account_id] += row.amount
        moved[row.debit_account_id] -= row.amount
    for account in [a for a in balances if is_derived(a)]:  # kept as the fold of its transfers
        balances[account] = moved[account]
    riders = {a: balance for a, balance in balances.items() if a.startswith("rider:")}
    total = sum(balances.values())
    check.figures = {
        "filed reports": len(outcome.filed),
        "merged reports": len(outcome.merged),
        "rewards paid": len(paid),
        "rewards capped (in whole or part)": len(withheld),
        "points paid": sum(row.amount for row in paid),
        "rider-days": len(asked_per_day),
        "rider-days at the cap": sum(1 for a in asked_per_day.values() if a >= rules.daily_cap),
        "accounts": len(balances),
        "sum over all accounts": total,
    }
    missing = owed.keys() - decided.keys()
    check.expect(not missing, f"{len(missing)} rewards never decided: {_sample(missing)}")
    unowed = decided.keys() - owed.keys()
    check.expect(not unowed, f"rewards for nothing owed: {_sample(unowed)}")
    check.expect(not wrong_amounts, f"rewards of the wrong amount: {_sample(wrong_amounts)}")
    check.expect(
        not wrong_days, f"{len(wrong_days)} rider-days paid wrongly: {_sample(wrong_days)}"
    )
    check.expect(total == 0, f"the accounts sum to {total}, not 0")
    negative = [account for account, balance in riders.items() if balance < 0]
    check.expect(not negative, f"riders below zero: {_sample(negative)}")
    unbalanced = [a for a, balance in riders.items() if balance != moved[a]]
    check.expect(not unbalanced, f"balance differs from the transfers: {_sample(unbalanced)}")
    earners = {rider_account(rider) for _, rider, _ in outcome.filed.values()} | {
        rider_account(outcome.accepted[report].submission.planned.rider_id)
        for report in outcome.merged
        if report in outcome.accepted
    }
    stray = riders.keys() - earners
    check.expect(not stray, f"accounts of riders who earned nothing: {_sample(stray)}")
    return check


_TO_STAFF = frozenset(t.value for t in TemplateId if t.value.startswith("order_"))


async def check_inbox(databases: ServiceDatabases, outcome: Outcome) -> Check:
    check = Check("notification: each step told to whom it concerns once, none doubled")
    notifications = databases.table("notification", "notifications")
    rows = await databases.fetch(
        "notification",
        sa.select(
            notifications.c.report_id, notifications.c.template, notifications.c.recipient_id
        ),
    )
    to_staff = [row for row in rows if row.template in _TO_STAFF]
    to_reporters = [row for row in rows if row.template not in _TO_STAFF]
    per_key = Counter((row.report_id, row.template) for row in to_reporters)
    per_staff_key = Counter((row.report_id, row.template, row.recipient_id) for row in to_staff)
    awarded = {report for report, _ in outcome.transfers.values()}
    expected = Counter(
        {(report, TemplateId.REPORT_FILED.value): 1 for report in outcome.filed}
        | {(report, TemplateId.REPORT_DISPATCHED.value): 1 for report in outcome.dispatched}
        | {(report, TemplateId.REPORT_REJECTED.value): 1 for report in outcome.rejected}
        | {(report, TemplateId.REPORT_MERGED.value): 1 for report in outcome.merged}
        | {(report, TemplateId.POINTS_AWARDED.value): 1 for report in awarded}
        | {(report, TemplateId.POINTS_CAPPED.value): 1 for report in outcome.capped}
    )
    assigned = {
        (report, TemplateId.ORDER_ASSIGNED.value, assignee)
        for report, assignee in outcome.dispatched.items()
    }
    reviews = {
        row.report_id for row in to_staff if row.template == TemplateId.ORDER_REVIEW_REQUESTED
    }
    templates = Counter(row.template for row in rows)
    check.figures = {
        **{f"{template}": count for template, count in sorted(templates.items())},
        "expected to reporters": sum(expected.values()),
    }
    doubled = [key for key, count in (per_key | per_staff_key).items() if count > 1]
    missing = expected.keys() - per_key.keys()
    extra = per_key.keys() - expected.keys()
    check.expect(not doubled, f"messages doubled: {_sample(doubled)}")
    check.expect(not missing, f"{len(missing)} messages missing: {_sample(missing)}")
    check.expect(not extra, f"{len(extra)} messages for nothing: {_sample(extra)}")
    unassigned = assigned - per_staff_key.keys()
    check.expect(not unassigned, f"assignees never told: {_sample(unassigned)}")
    unreviewed = outcome.pending_review.keys() - reviews
    check.expect(not unreviewed, f"reviews nobody was asked for: {_sample(unreviewed)}")
    reporters = {i: a.submission.planned.rider_id for i, a in outcome.accepted.items()}
    misdelivered = [
        row.report_id
        for row in to_reporters
        if reporters and reporters.get(row.report_id) != row.recipient_id
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
