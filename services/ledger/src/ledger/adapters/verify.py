"""The ledger proves itself against a live database (``gridloop ledger verify`` and
``GET /v1/admin/ledger/verify``).

Checks, each a list of violations (empty when it holds):

- ``district_sums``: in every district the accounts sum to zero (the issuance and redemption
  accounts' folds and the riders' shares of that district's transfers), and over all accounts
  the stored rider balances plus the system accounts' derived balances sum to zero;
- ``no_negative_rider``: no rider has more debits (posted and reserved) than posted credits;
- ``balances_fold``: every stored balance (four columns) equals the fold of its transfers;
- ``one_per_report``: at most one award, one bonus and one reversal per report, each under the
  id its business key gives (``award:<report>``…);
- ``reservations_end_once``: every reservation is resolved (posted, voided or expired) at most
  once, a resolved one exactly once, and the redemption's state says the same.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.adapters.tables import AccountRow, RedemptionRow, TransferRow
from ledger.domain.points import (
    Phase,
    TransferCode,
    award_transfer_id,
    bonus_transfer_id,
    is_derived,
    reversal_transfer_id,
)

ACCOUNTS: sa.Table = AccountRow.__table__  # type: ignore[attr-defined]
TRANSFERS: sa.Table = TransferRow.__table__  # type: ignore[attr-defined]
REDEMPTIONS: sa.Table = RedemptionRow.__table__  # type: ignore[attr-defined]
RESOLUTIONS = {
    TransferCode.POST.value: "fulfilled",
    TransferCode.VOID.value: "cancelled",
    TransferCode.EXPIRE.value: "expired",
}
UNIQUE_PER_REPORT = {
    TransferCode.REPORT_ACCEPTED: award_transfer_id,
    TransferCode.CLOSURE_BONUS: bonus_transfer_id,
    TransferCode.REVERSAL: reversal_transfer_id,
}
CHECKS = (
    "district_sums",
    "no_negative_rider",
    "balances_fold",
    "one_per_report",
    "reservations_end_once",
)


@dataclass
class Columns:
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0

    def move(self, side: str, phase: Phase, amount: int) -> None:
        posted = amount if phase in (Phase.POSTED, Phase.POST_PENDING) else 0
        pending = {Phase.PENDING: amount, Phase.POSTED: 0}.get(phase, -amount)
        if side == "debit":
            self.debits_posted += posted
            self.debits_pending += pending
        else:
            self.credits_posted += posted
            self.credits_pending += pending

    @property
    def net(self) -> int:
        return self.credits_posted - self.debits_posted


@dataclass
class LedgerVerification:
    accounts: int = 0
    transfers: int = 0
    violations: dict[str, list[str]] = field(default_factory=lambda: {c: [] for c in CHECKS})

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())


async def verify_ledger(connection: AsyncConnection) -> LedgerVerification:
    """Every check, on one snapshot of the database (a live ledger keeps moving: on PostgreSQL
    the reads run in one REPEATABLE READ transaction, which must not have read anything yet)."""
    if connection.dialect.name == "postgresql":
        await connection.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
    result = LedgerVerification()
    folded: dict[str, Columns] = defaultdict(Columns)
    by_district: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    moved = sa.select(
        TRANSFERS.c.debit_account_id,
        TRANSFERS.c.credit_account_id,
        TRANSFERS.c.code,
        TRANSFERS.c.district,
        sa.func.count().label("transfers"),
        sa.func.sum(TRANSFERS.c.amount).label("amount"),
    ).group_by(
        TRANSFERS.c.debit_account_id,
        TRANSFERS.c.credit_account_id,
        TRANSFERS.c.code,
        TRANSFERS.c.district,
    )
    for row in await connection.execute(moved):
        phase = TransferCode(row.code).phase
        amount = int(row.amount)
        result.transfers += int(row.transfers)
        folded[row.debit_account_id].move("debit", phase, amount)
        folded[row.credit_account_id].move("credit", phase, amount)
        if phase in (Phase.POSTED, Phase.POST_PENDING):
            shares = by_district[row.district or "-"]
            shares[row.debit_account_id] -= amount
            shares[row.credit_account_id] += amount
        if is_derived(row.debit_account_id) == is_derived(row.credit_account_id):
            result.violations["district_sums"].append(
                f"{row.code} transfers from {row.debit_account_id} to {row.credit_account_id}: "
                "a transfer moves points between a rider and a system account"
            )
    _check_district_sums(result, by_district)

    stored_total = 0
    for account in await connection.execute(sa.select(ACCOUNTS)):
        result.accounts += 1
        columns = folded.get(account.id, Columns())
        if is_derived(account.id):
            stored_total += columns.net
            continue
        stored = Columns(
            account.debits_posted,
            account.credits_posted,
            account.debits_pending,
            account.credits_pending,
        )
        stored_total += stored.net
        if stored != columns:
            result.violations["balances_fold"].append(
                f"{account.id}: stored {stored} but its transfers fold to {columns}"
            )
        if account.must_not_go_negative and (
            stored.debits_posted + stored.debits_pending > stored.credits_posted
            or min(stored.debits_pending, stored.credits_pending) < 0
        ):
            result.violations["no_negative_rider"].append(
                f"{account.id}: credits {stored.credits_posted} < debits "
                f"{stored.debits_posted} + reserved {stored.debits_pending}"
            )
    if stored_total != 0:
        result.violations["district_sums"].append(
            f"the accounts' balances sum to {stored_total}, not 0"
        )
    for account_id in sorted(set(folded) - {a for a in folded if is_derived(a)}):
        if folded[account_id] != Columns() and not await _exists(connection, account_id):
            result.violations["balances_fold"].append(f"{account_id}: transfers, no account")
    await _check_one_per_report(connection, result)
    await _check_reservations(connection, result)
    return result


async def _check_reservations(connection: AsyncConnection, result: LedgerVerification) -> None:
    """Each redemption: one reservation; ended (in its state) by exactly one resolution whose
    code says how, or by none while it is still reserved."""
    moves: dict[str, list[str]] = defaultdict(list)
    rows = await connection.execute(
        sa.select(TRANSFERS.c.redemption_id, TRANSFERS.c.code).where(
            TRANSFERS.c.code.in_([TransferCode.RESERVE.value, *RESOLUTIONS])
        )
    )
    for row in rows:
        moves[row.redemption_id or "-"].append(row.code)
    states = {
        row.id: row.state
        for row in await connection.execute(sa.select(REDEMPTIONS.c.id, REDEMPTIONS.c.state))
    }
    broken = result.violations["reservations_end_once"]
    for redemption_id in sorted(set(moves) | set(states)):
        codes = moves.get(redemption_id, [])
        reserves = codes.count(TransferCode.RESERVE.value)
        ends = [RESOLUTIONS[code] for code in codes if code in RESOLUTIONS]
        state = states.get(redemption_id)
        if reserves != 1:
            broken.append(f"redemption {redemption_id}: {reserves} reservations")
        if len(ends) > 1:
            broken.append(f"redemption {redemption_id}: ended {len(ends)} times ({ends})")
        elif state is None:
            broken.append(f"redemption {redemption_id}: transfers, no redemption")
        elif (state == "reserved" and ends) or (state != "reserved" and ends != [state]):
            broken.append(f"redemption {redemption_id}: {state}, but its transfers say {ends}")


def _check_district_sums(
    result: LedgerVerification, by_district: dict[str, dict[str, int]]
) -> None:
    """Each district's accounts (its issuance and redemption accounts and the riders' shares
    of its transfers) sum to zero."""
    for district, shares in sorted(by_district.items()):
        total = sum(shares.values())
        if total != 0:
            result.violations["district_sums"].append(f"district {district} sums to {total}")


async def _exists(connection: AsyncConnection, account_id: str) -> bool:
    found = await connection.execute(sa.select(ACCOUNTS.c.id).where(ACCOUNTS.c.id == account_id))
    return found.first() is not None


async def _check_one_per_report(connection: AsyncConnection, result: LedgerVerification) -> None:
    codes = [code.value for code in UNIQUE_PER_REPORT]
    counted = (
        sa.select(TRANSFERS.c.report_id, TRANSFERS.c.code, sa.func.count().label("n"))
        .where(TRANSFERS.c.code.in_(codes))
        .group_by(TRANSFERS.c.report_id, TRANSFERS.c.code)
        .having(sa.func.count() > 1)
    )
    for row in await connection.execute(counted):
        result.violations["one_per_report"].append(
            f"report {row.report_id}: {row.n} transfers coded {row.code}"
        )
    keyed = sa.select(TRANSFERS.c.id, TRANSFERS.c.report_id, TRANSFERS.c.code).where(
        TRANSFERS.c.code.in_(codes)
    )
    for row in await connection.execute(keyed):
        expected = UNIQUE_PER_REPORT[TransferCode(row.code)](row.report_id)
        if row.id != expected and not row.id.startswith(f"{expected}:"):
            result.violations["one_per_report"].append(
                f"transfer {row.id} ({row.code}) is not keyed by its report ({expected})"
            )
