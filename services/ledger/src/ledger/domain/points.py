"""Points as a double-entry ledger with TigerBeetle semantics, pure rules.

Accounts: ``rider:<id>`` (credit-normal, may never go negative) and ``sys:issuance`` (the source
of every awarded point); ``sys:redemption`` joins them when gifts can be redeemed. A system
account's balance is *derived* — the fold of its transfers, never a stored row every award
would have to update (one such row would serialise all awards). Transfers
are immutable and carry an id derived from their business key, so replaying a cause cannot pay
twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

DISTRICT_TIMEZONE = ZoneInfo("Asia/Shanghai")
ISSUANCE_ACCOUNT = "sys:issuance"
REDEMPTION_ACCOUNT = "sys:redemption"


class TransferCode(StrEnum):
    """Why a transfer moved points (TigerBeetle's ``code``)."""

    REPORT_ACCEPTED = "report_accepted"
    """The award for a report accepted as a new case (立案); its id is ``award:<report>``."""
    CORROBORATION = "corroboration"
    CLOSURE_BONUS = "closure_bonus"
    RATING = "rating"
    REVERSAL = "reversal"
    RESERVE = "reserve"
    POST = "post"
    VOID = "void"
    EXPIRE = "expire"

    @property
    def earns(self) -> bool:
        """A reward paid to a rider for a report (counts towards the daily cap)."""
        return self in EARNING_CODES

    @property
    def phase(self) -> Phase:
        return _PHASES.get(self, Phase.POSTED)


class Phase(StrEnum):
    """How a transfer moves the four balance columns (TigerBeetle's transfer flags)."""

    POSTED = "posted"
    PENDING = "pending"
    """Reserves its amount: ``debits_pending``/``credits_pending``."""
    POST_PENDING = "post_pending"
    """Settles a reservation: pending to posted."""
    VOID_PENDING = "void_pending"
    """Releases a reservation (cancelled or expired)."""


EARNING_CODES = frozenset(
    {
        TransferCode.REPORT_ACCEPTED,
        TransferCode.CORROBORATION,
        TransferCode.CLOSURE_BONUS,
        TransferCode.RATING,
    }
)
_PHASES = {
    TransferCode.RESERVE: Phase.PENDING,
    TransferCode.POST: Phase.POST_PENDING,
    TransferCode.VOID: Phase.VOID_PENDING,
    TransferCode.EXPIRE: Phase.VOID_PENDING,
}


SYSTEM_ACCOUNT_PREFIX = "sys:"


def is_derived(account_id: str) -> bool:
    """System accounts keep no stored balance: it is the fold of their transfers."""
    return account_id.startswith(SYSTEM_ACCOUNT_PREFIX)


def rider_account(rider_id: str) -> str:
    return f"rider:{rider_id}"


PARTNER_REPORTER_PREFIX = "partner:"
"""Reporter ids of partner systems filing through Open311 (``partner:<key id>``): a hotline
files for many residents and earns no points."""


def earns_points(reporter_id: str) -> bool:
    return not reporter_id.startswith(PARTNER_REPORTER_PREFIX)


def award_transfer_id(report_id: str) -> str:
    return f"award:{report_id}"


def corroboration_transfer_id(report_id: str) -> str:
    return f"corroboration:{report_id}"


def bonus_transfer_id(report_id: str) -> str:
    return f"bonus:{report_id}"


def rating_transfer_id(report_id: str) -> str:
    return f"rating:{report_id}"


def reversal_transfer_id(report_id: str) -> str:
    return f"reversal:{report_id}"


def ledger_day(moment: datetime) -> date:
    """The Asia/Shanghai calendar day a moment falls on (the daily cap's window). Event times
    always carry an offset (the contracts require it), so the host's zone never matters."""
    if moment.tzinfo is None:
        raise ValueError("a ledger day needs a moment with a timezone")
    return moment.astimezone(DISTRICT_TIMEZONE).date()


@dataclass(frozen=True)
class AwardRules:
    report_accepted: int = 10
    daily_cap: int = 50

    def award_for_accepted_report(self, awarded_today: int) -> int:
        """Points to pay for an accepted report, given what the rider already got today."""
        return max(0, min(self.report_accepted, self.daily_cap - awarded_today))


@dataclass(frozen=True)
class Account:
    id: str
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0
    must_not_go_negative: bool = False
    version: int = 0

    @property
    def balance(self) -> int:
        """Posted balance of a credit-normal account (a rider's points)."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """What a rider can spend: posted balance less reservations (pessimistic pending)."""
        return self.balance - self.debits_pending


@dataclass(frozen=True)
class Transfer:
    id: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    code: TransferCode
    rider_id: str
    report_id: str | None
    work_order_id: str | None
    ledger_day: date
    caused_by_event_id: str
    created_at: datetime
    district: str | None = None
    """The district whose issuance/redemption account is the other side (its ledger)."""
    fingerprint: str | None = None
    """A digest of the business content behind the id: a second cause with the same id and a
    different fingerprint is a conflict, refused."""
    redemption_id: str | None = None

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError("a transfer moves a positive amount")
        if self.debit_account_id == self.credit_account_id:
            raise ValueError("a transfer moves points between two different accounts")


class InsufficientPoints(ValueError):
    """A transfer would take an account that must not go negative below zero."""


def post_transfer(debit: Account, credit: Account, transfer: Transfer) -> tuple[Account, Account]:
    """The posting rule: the two accounts after ``transfer`` is posted.

    Invariants: a transfer names exactly these two accounts; it moves its amount from one side
    to the other, so the sum of all balances stays zero; an account that must not go negative
    never has more debits (posted and reserved) than posted credits. Every store of accounts
    (the SQL repository, the test fakes) posts through this one function.
    """
    if (debit.id, credit.id) != (transfer.debit_account_id, transfer.credit_account_id):
        raise ValueError(
            f"transfer {transfer.id} moves {transfer.debit_account_id} -> "
            f"{transfer.credit_account_id}, not {debit.id} -> {credit.id}"
        )
    debited, credited = _moved(debit, credit, transfer.code.phase, transfer.amount)
    for account in (debited, credited):
        if account.must_not_go_negative and account.available < 0:
            raise InsufficientPoints(
                f"transfer {transfer.id} would take {account.id} below zero "
                f"(available {account.available})"
            )
    return debited, credited


def _moved(debit: Account, credit: Account, phase: Phase, amount: int) -> tuple[Account, Account]:
    posted = amount if phase in (Phase.POSTED, Phase.POST_PENDING) else 0
    pending = {Phase.PENDING: amount, Phase.POSTED: 0}.get(phase, -amount)
    return (
        replace(
            debit,
            debits_posted=debit.debits_posted + posted,
            debits_pending=debit.debits_pending + pending,
            version=debit.version + 1,
        ),
        replace(
            credit,
            credits_posted=credit.credits_posted + posted,
            credits_pending=credit.credits_pending + pending,
            version=credit.version + 1,
        ),
    )


def fold(account_id: str, transfers: Iterable[Transfer]) -> Account:
    """An account's four balance columns recomputed from its transfers (the proof that stored
    balances are what the transfers say)."""
    account = Account(account_id)
    other = Account("")
    for transfer in transfers:
        if transfer.debit_account_id == account_id:
            account, other = _moved(account, other, transfer.code.phase, transfer.amount)
        elif transfer.credit_account_id == account_id:
            other, account = _moved(other, account, transfer.code.phase, transfer.amount)
    return replace(account, version=0)


def fingerprint(*parts: object) -> str:
    """A stable digest of a transfer's business content (what its id promises)."""
    text = "\x1f".join("" if part is None else str(part) for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class WithheldKind(StrEnum):
    CAPPED = "capped"
    """Points a reward would have paid past the daily cap."""
    SHORTFALL = "shortfall"
    """Points a reversal could not take back: the rider had already spent them."""


@dataclass(frozen=True)
class Withheld:
    """Points a transfer's id promised but did not move, recorded under that same id so a
    replay finds the decision and the rider's statement shows why (never silent)."""

    id: str
    kind: WithheldKind
    code: TransferCode
    rider_id: str
    report_id: str
    work_order_id: str | None
    district: str | None
    amount: int
    fingerprint: str
    ledger_day: date
    caused_by_event_id: str
    created_at: datetime

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError("a withheld record keeps a positive amount")


def reason_zh(code: TransferCode, withheld: WithheldKind | None = None) -> str:
    """Why the points moved (or did not), as a rider reads it on the statement."""
    if withheld is WithheldKind.CAPPED:
        return "已达每日积分上限，未发放"
    if withheld is WithheldKind.SHORTFALL:
        return "积分已使用，无法扣回（差额记录在案）"
    return _REASONS_ZH[code]


_REASONS_ZH = {
    TransferCode.REPORT_ACCEPTED: "上报被立案",
    TransferCode.CORROBORATION: "上报并入已有案件（并单）",
    TransferCode.CLOSURE_BONUS: "案件结案奖励",
    TransferCode.RATING: "评价处置结果",
    TransferCode.REVERSAL: "案件作废，扣回积分",
    TransferCode.RESERVE: "兑换礼品，冻结积分",
    TransferCode.POST: "礼品已领取，积分扣除",
    TransferCode.VOID: "兑换已取消，积分退回",
    TransferCode.EXPIRE: "兑换逾期未领，积分退回",
}
