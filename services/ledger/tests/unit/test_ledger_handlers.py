"""Awarding points for accepted reports, driven with an in-memory ledger (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from common.contracts.envelope import CloudEvent
from common.contracts.events import PointsAwarded
from common.paging import SortKey
from gridloop_tools.testing.builders import apply, as_event, work_order_filed
from gridloop_tools.testing.service_fixtures import FakeUnitOfWorkBase, newest_first_page
from ledger.domain.points import (
    ISSUANCE_ACCOUNT,
    Account,
    AwardRules,
    Transfer,
    TransferCode,
    Withheld,
    is_derived,
)
from ledger.domain.rules import RuleSet
from ledger.service_layer.handlers import on_work_order_filed_handler
from ledger.service_layer.unit_of_work import AbstractLedgerUnitOfWork

DAY_ONE = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

# --- fakes ----------------------------------------------------------------------------------


class FakeLedger:
    """Accounts and transfers in memory; balances come from the handler's posting rule."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.transfers: dict[str, Transfer] = {}
        self.withheld: dict[str, Withheld] = {}

    async def advance(self, account: Account) -> None:
        self.accounts[account.id] = account

    async def get_withheld(self, withheld_id: str) -> Withheld | None:
        return self.withheld.get(withheld_id)

    async def record_withheld(self, withheld: Withheld) -> None:
        if withheld.id in self.withheld:
            raise KeyError(f"duplicate withheld record {withheld.id}")
        self.withheld[withheld.id] = withheld

    async def earnings_of_order(self, work_order_id: str) -> list[Transfer]:
        return [
            t for t in self.transfers.values() if t.work_order_id == work_order_id and t.code.earns
        ]

    async def withheld_of_order(self, work_order_id: str) -> list[Withheld]:
        return [w for w in self.withheld.values() if w.work_order_id == work_order_id]

    async def rule_sets(self, district: str) -> list[RuleSet]:
        return []

    async def open_account(self, account_id: str, *, must_not_go_negative: bool) -> Account:
        return self.accounts.setdefault(
            account_id, Account(account_id, must_not_go_negative=must_not_go_negative)
        )

    async def get_account(self, account_id: str) -> Account | None:
        account = self.accounts.get(account_id)
        if account is None or not is_derived(account_id):
            return account
        moved = self.transfers.values()
        return Account(
            account_id,
            debits_posted=sum(t.amount for t in moved if t.debit_account_id == account_id),
            credits_posted=sum(t.amount for t in moved if t.credit_account_id == account_id),
        )

    async def get_transfer(self, transfer_id: str) -> Transfer | None:
        return self.transfers.get(transfer_id)

    async def awarded_on(self, rider_id: str, day: date) -> int:
        return sum(
            t.amount
            for t in self.transfers.values()
            if t.rider_id == rider_id and t.ledger_day == day and t.code.earns
        )

    async def record(self, transfer: Transfer, accounts: Sequence[Account]) -> None:
        if transfer.id in self.transfers:
            raise KeyError(f"duplicate transfer {transfer.id}")
        self.transfers[transfer.id] = transfer
        for account in accounts:
            if not is_derived(account.id):
                self.accounts[account.id] = account

    async def transfers_of(
        self, rider_id: str, *, limit: int, after: SortKey | None
    ) -> list[Transfer]:
        mine = [t for t in self.transfers.values() if t.rider_id == rider_id]
        return newest_first_page(
            mine, lambda t: SortKey(t.created_at, t.id), after=after, limit=limit
        )


class FakeUnitOfWork(FakeUnitOfWorkBase):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = FakeLedger()


def _typed(uow: FakeUnitOfWork) -> AbstractLedgerUnitOfWork:
    return uow


def filed(
    report_id: str,
    *,
    reporter_id: str = "rider-1",
    filed_at: datetime = DAY_ONE,
    event_id: str | None = None,
) -> CloudEvent:
    data = work_order_filed(report_id=report_id, reporter_id=reporter_id, filed_at=filed_at)
    return as_event(data, id_=event_id)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def awarded() -> list[int]:
    return []


@pytest.fixture
def handle(uow: FakeUnitOfWork, awarded: list[int]) -> Any:
    on_filed = on_work_order_filed_handler(AwardRules(), awarded.append)

    async def run(event: CloudEvent) -> str:
        return await apply(on_filed, event, _typed(uow)) or "processed"

    return run


def awards(uow: FakeUnitOfWork) -> list[tuple[PointsAwarded, str, int]]:
    found = []
    for data, subject, sequence in uow.outbox.events:
        if isinstance(data, PointsAwarded):
            found.append((data, subject, sequence))
    return found


def balance(uow: FakeUnitOfWork, rider_id: str = "rider-1") -> int:
    account = uow.ledger.accounts.get(f"rider:{rider_id}")
    return account.balance if account else 0


async def test_an_accepted_report_earns_ten_points(
    uow: FakeUnitOfWork, handle: Any, awarded: list[int]
) -> None:
    event = filed("rep-1")
    assert await handle(event) == "processed"

    transfer = uow.ledger.transfers["award:rep-1"]
    assert transfer.amount == 10
    assert transfer.debit_account_id == ISSUANCE_ACCOUNT
    assert transfer.credit_account_id == "rider:rider-1"
    assert transfer.code is TransferCode.REPORT_ACCEPTED
    assert (transfer.report_id, transfer.work_order_id) == ("rep-1", "wo-rep-1")
    assert transfer.ledger_day == date(2026, 11, 23)
    assert transfer.caused_by_event_id == event.id
    assert balance(uow) == 10
    issuance = await uow.ledger.get_account(ISSUANCE_ACCOUNT)
    assert issuance is not None and issuance.balance == -10
    assert uow.ledger.accounts["rider:rider-1"].must_not_go_negative
    assert not uow.ledger.accounts[ISSUANCE_ACCOUNT].must_not_go_negative

    assert len(uow.outbox.events) == 1
    data, subject, sequence = uow.outbox.events[0]
    assert isinstance(data, PointsAwarded)
    assert subject == "rider-1"
    assert sequence == 1
    assert (data.transfer_id, data.rider_id, data.amount, data.balance) == (
        "award:rep-1",
        "rider-1",
        10,
        10,
    )
    assert (data.rule, data.report_id, data.work_order_id) == (
        "report_accepted",
        "rep-1",
        "wo-rep-1",
    )
    await uow.commit()  # metrics count committed work only
    assert awarded == [10]


async def test_each_award_carries_the_new_balance_and_version(
    uow: FakeUnitOfWork, handle: Any
) -> None:
    for n in range(3):
        await handle(filed(f"rep-{n}"))
    balances = [(data.balance, seq) for data, _, seq in awards(uow)]
    assert balances == [(10, 1), (20, 2), (30, 3)]


async def test_a_replay_under_another_event_id_pays_nothing(
    uow: FakeUnitOfWork, handle: Any, awarded: list[int]
) -> None:
    await handle(filed("rep-1", event_id="e-1"))
    uow.outbox.events.clear()
    assert await handle(filed("rep-1", event_id="e-2")) == "ignored"
    assert balance(uow) == 10
    assert len(uow.ledger.transfers) == 1
    assert uow.outbox.events == []
    await uow.commit()  # metrics count committed work only
    assert awarded == [10]


async def test_when_the_daily_cap_is_reached_nothing_is_paid(
    uow: FakeUnitOfWork, handle: Any, awarded: list[int]
) -> None:
    for n in range(5):
        await handle(filed(f"rep-{n}"))
    uow.outbox.events.clear()

    assert await handle(filed("rep-5")) == "processed"

    assert "award:rep-5" not in uow.ledger.transfers
    assert balance(uow) == 50
    # Nothing is paid, but the decision is kept and told: the rider sees why.
    assert uow.ledger.withheld["award:rep-5"].amount == 10
    assert [type(data).__name__ for data, _, _ in uow.outbox.events] == ["PointsCapped"]
    await uow.commit()  # metrics count committed work only
    assert awarded == [10] * 5


async def test_a_partial_award_fills_the_cap_exactly(
    uow: FakeUnitOfWork, awarded: list[int]
) -> None:
    on_filed = on_work_order_filed_handler(
        AwardRules(report_accepted=10, daily_cap=25), awarded.append
    )
    for n in range(4):
        await apply(on_filed, filed(f"rep-{n}"), _typed(uow))
    await uow.commit()  # metrics count committed work only
    assert awarded == [10, 10, 5]
    assert balance(uow) == 25
    assert [data.amount for data, _, _ in awards(uow)] == [10, 10, 5]


async def test_the_cap_is_per_shanghai_day(uow: FakeUnitOfWork, handle: Any) -> None:
    late = datetime(2026, 11, 23, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Shanghai
    for n in range(5):
        await handle(filed(f"rep-{n}", filed_at=late))
    await handle(filed("rep-capped", filed_at=late))
    await handle(filed("rep-next-day", filed_at=datetime(2026, 11, 23, 16, 0, tzinfo=UTC)))

    assert "award:rep-capped" not in uow.ledger.transfers
    next_day = uow.ledger.transfers["award:rep-next-day"]
    assert next_day.ledger_day == date(2026, 11, 24)
    assert next_day.amount == 10
    assert balance(uow) == 60


async def test_the_cap_is_per_rider(uow: FakeUnitOfWork, handle: Any) -> None:
    for n in range(5):
        await handle(filed(f"rep-{n}", reporter_id="rider-1"))
    await handle(filed("rep-other", reporter_id="rider-2"))
    assert balance(uow, "rider-2") == 10


async def test_an_invalid_payload_raises_a_validation_error(
    uow: FakeUnitOfWork, handle: Any
) -> None:
    event = filed("rep-1").model_copy(update={"data": {"report_id": "rep-1"}})
    with pytest.raises(ValidationError):
        await handle(event)
    assert uow.ledger.transfers == {}
