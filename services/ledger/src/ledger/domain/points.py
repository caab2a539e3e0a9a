"""Points as a double-entry ledger with TigerBeetle semantics, pure rules.

Accounts: ``rider:<id>`` (credit-normal, may never go negative) and ``sys:issuance`` (the source
of every awarded point); ``sys:redemption`` joins them when gifts can be redeemed. A system
account's balance is *derived* — the fold of its transfers, never a stored row every award
would have to update (one such row would serialise all awards). Transfers
are immutable and carry an id derived from their business key, so replaying a cause cannot pay
twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

DISTRICT_TIMEZONE = ZoneInfo("Asia/Shanghai")
ISSUANCE_ACCOUNT = "sys:issuance"


class TransferCode(StrEnum):
    REPORT_ACCEPTED = "report_accepted"


SYSTEM_ACCOUNT_PREFIX = "sys:"


def is_derived(account_id: str) -> bool:
    """System accounts keep no stored balance: it is the fold of their transfers."""
    return account_id.startswith(SYSTEM_ACCOUNT_PREFIX)


def rider_account(rider_id: str) -> str:
    return f"rider:{rider_id}"


def award_transfer_id(report_id: str) -> str:
    return f"award:{report_id}"


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
    report_id: str
    work_order_id: str | None
    ledger_day: date
    caused_by_event_id: str
    created_at: datetime

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
    debited = replace(
        debit, debits_posted=debit.debits_posted + transfer.amount, version=debit.version + 1
    )
    credited = replace(
        credit, credits_posted=credit.credits_posted + transfer.amount, version=credit.version + 1
    )
    for account in (debited, credited):
        if account.must_not_go_negative and account.available < 0:
            raise InsufficientPoints(
                f"transfer {transfer.id} would take {account.id} below zero "
                f"(available {account.available})"
            )
    return debited, credited
