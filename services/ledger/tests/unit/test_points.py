"""The points ledger's pure rules: award amounts and the daily cap, the district's day,
transfers and account balances."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from ledger.domain.points import (
    ISSUANCE_ACCOUNT,
    Account,
    AwardRules,
    Transfer,
    TransferCode,
    award_transfer_id,
    ledger_day,
    rider_account,
)

# --- award rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("awarded_today", "expected"),
    [(0, 10), (30, 10), (40, 10), (41, 9), (45, 5), (49, 1), (50, 0), (51, 0), (500, 0)],
)
def test_default_award_and_the_daily_cap_boundary(awarded_today: int, expected: int) -> None:
    assert AwardRules().award_for_accepted_report(awarded_today) == expected


def test_default_rules_are_ten_points_capped_at_fifty() -> None:
    rules = AwardRules()
    assert (rules.report_accepted, rules.daily_cap) == (10, 50)


def test_the_cap_allows_exactly_five_full_awards_a_day() -> None:
    rules, total, paid = AwardRules(), 0, []
    for _ in range(7):
        amount = rules.award_for_accepted_report(total)
        paid.append(amount)
        total += amount
    assert paid == [10, 10, 10, 10, 10, 0, 0]
    assert total == 50


def test_custom_rules() -> None:
    rules = AwardRules(report_accepted=3, daily_cap=7)
    assert [rules.award_for_accepted_report(n) for n in (0, 3, 6, 7)] == [3, 3, 1, 0]


# --- the district's day -----------------------------------------------------------------------


def test_ledger_day_turns_at_midnight_in_shanghai_not_utc() -> None:
    before = datetime(2026, 11, 23, 15, 59, 59, tzinfo=UTC)
    at = datetime(2026, 11, 23, 16, 0, 0, tzinfo=UTC)
    assert ledger_day(before) == date(2026, 11, 23)
    assert ledger_day(at) == date(2026, 11, 24)
    assert ledger_day(at - timedelta(microseconds=1)) == date(2026, 11, 23)


def test_ledger_day_of_an_early_utc_morning_is_the_same_shanghai_day() -> None:
    assert ledger_day(datetime(2026, 11, 23, 0, 30, tzinfo=UTC)) == date(2026, 11, 23)


def test_ledger_day_accepts_any_offset() -> None:
    shanghai = timezone(timedelta(hours=8))
    new_york = timezone(timedelta(hours=-5))
    assert ledger_day(datetime(2026, 11, 24, 0, 0, tzinfo=shanghai)) == date(2026, 11, 24)
    # 2026-11-23 11:00 in New York is 2026-11-24 00:00 in Shanghai.
    assert ledger_day(datetime(2026, 11, 23, 11, 0, tzinfo=new_york)) == date(2026, 11, 24)


# --- identifiers ------------------------------------------------------------------------------


def test_account_and_transfer_ids_come_from_business_keys() -> None:
    assert rider_account("r-1") == "rider:r-1"
    assert award_transfer_id("rep-9") == "award:rep-9"
    assert award_transfer_id("rep-9") == award_transfer_id("rep-9")


# --- transfers --------------------------------------------------------------------------------


def transfer(**changes: object) -> Transfer:
    values: dict[str, object] = {
        "id": "award:rep-1",
        "debit_account_id": ISSUANCE_ACCOUNT,
        "credit_account_id": "rider:r-1",
        "amount": 10,
        "code": TransferCode.REPORT_ACCEPTED,
        "rider_id": "r-1",
        "report_id": "rep-1",
        "work_order_id": "wo-1",
        "ledger_day": date(2026, 11, 23),
        "caused_by_event_id": "e-1",
        "created_at": datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
    }
    values.update(changes)
    return Transfer(**values)  # type: ignore[arg-type]


def test_a_positive_transfer_between_two_accounts_is_valid() -> None:
    assert transfer().amount == 10


@pytest.mark.parametrize("amount", [0, -1, -10])
def test_a_transfer_refuses_a_non_positive_amount(amount: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        transfer(amount=amount)


def test_a_transfer_refuses_the_same_account_on_both_sides() -> None:
    with pytest.raises(ValueError, match="two different accounts"):
        transfer(debit_account_id="rider:r-1", credit_account_id="rider:r-1")


def test_a_transfer_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        transfer().amount = 99  # type: ignore[misc]


# --- accounts ---------------------------------------------------------------------------------


def test_a_new_account_is_empty() -> None:
    account = Account("rider:r-1")
    assert (account.balance, account.available) == (0, 0)


def test_balance_is_credits_less_debits() -> None:
    account = Account("rider:r-1", debits_posted=15, credits_posted=40)
    assert account.balance == 25


def test_available_holds_back_pending_debits_but_not_pending_credits() -> None:
    account = Account(
        "rider:r-1", debits_posted=15, credits_posted=40, debits_pending=5, credits_pending=100
    )
    assert account.balance == 25
    assert account.available == 20


def test_the_issuance_account_runs_negative() -> None:
    issuance = Account(ISSUANCE_ACCOUNT, debits_posted=30)
    assert issuance.balance == -30
