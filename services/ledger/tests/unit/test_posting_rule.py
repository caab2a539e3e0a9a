"""The posting rule every account store applies (domain.points.post_transfer)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ledger.domain.points import (
    ISSUANCE_ACCOUNT,
    Account,
    InsufficientPoints,
    Transfer,
    TransferCode,
    post_transfer,
)

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def transfer(amount: int, debit: str, credit: str, transfer_id: str = "t-1") -> Transfer:
    return Transfer(
        id=transfer_id,
        debit_account_id=debit,
        credit_account_id=credit,
        amount=amount,
        code=TransferCode.REPORT_ACCEPTED,
        rider_id="rider-1",
        report_id="rep-1",
        work_order_id=None,
        ledger_day=date(2026, 11, 23),
        caused_by_event_id="evt-1",
        created_at=AT,
    )


def test_posting_moves_the_amount_and_keeps_the_sum_at_zero() -> None:
    issuance = Account(ISSUANCE_ACCOUNT)
    rider = Account("rider:rider-1", must_not_go_negative=True)

    debited, credited = post_transfer(issuance, rider, transfer(10, issuance.id, rider.id))

    assert (debited.balance, credited.balance) == (-10, 10)
    assert debited.balance + credited.balance == 0
    assert (debited.version, credited.version) == (1, 1)


def test_a_rider_account_never_goes_below_zero() -> None:
    rider = Account("rider:rider-1", credits_posted=5, must_not_go_negative=True)
    sink = Account("sys:redemption")

    with pytest.raises(InsufficientPoints, match="below zero"):
        post_transfer(rider, sink, transfer(6, rider.id, sink.id))
    debited, _ = post_transfer(rider, sink, transfer(5, rider.id, sink.id))
    assert debited.available == 0


def test_reserved_points_count_against_what_a_rider_may_spend() -> None:
    rider = Account("rider:rider-1", credits_posted=10, debits_pending=8, must_not_go_negative=True)
    sink = Account("sys:redemption")

    with pytest.raises(InsufficientPoints):
        post_transfer(rider, sink, transfer(3, rider.id, sink.id))


def test_a_transfer_must_name_the_accounts_it_is_posted_to() -> None:
    issuance, rider = Account(ISSUANCE_ACCOUNT), Account("rider:rider-1")

    with pytest.raises(ValueError, match="moves"):
        post_transfer(rider, issuance, transfer(1, issuance.id, rider.id))
