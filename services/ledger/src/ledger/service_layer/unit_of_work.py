"""What the ledger handlers need from a unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from common.messaging.ports import AbstractUnitOfWork
from common.paging import SortKey
from ledger.domain.points import Account, Transfer, Withheld
from ledger.domain.redemption import Gift, Redemption, RedemptionState
from ledger.domain.rules import RuleSet


class LedgerStore(Protocol):
    async def open_account(self, account_id: str, *, must_not_go_negative: bool) -> Account:
        """The account (created if missing), held until commit."""
        ...

    async def get_account(self, account_id: str) -> Account | None: ...
    async def get_transfer(self, transfer_id: str) -> Transfer | None: ...
    async def awarded_on(self, rider_id: str, day: date) -> int:
        """Points a rider earned (every earning code) on an Asia/Shanghai day."""
        ...

    async def record(self, transfer: Transfer, accounts: Sequence[Account]) -> None:
        """Store the transfer and the accounts' balances after it (as ``post_transfer``
        computed them)."""
        ...

    async def transfers_of(
        self, rider_id: str, *, limit: int, after: SortKey | None
    ) -> list[Transfer]:
        """Newest first (ties by id, descending), below ``after``; at most ``limit``."""
        ...

    async def advance(self, account: Account) -> None:
        """Store the account's new version alone (a decision that moved no points, so each of
        the rider's events still carries a sequence of its own)."""
        ...

    async def get_withheld(self, withheld_id: str) -> Withheld | None: ...
    async def record_withheld(self, withheld: Withheld) -> None: ...
    async def earnings_of_order(self, work_order_id: str) -> list[Transfer]:
        """Every earning transfer paid for a report of the work order."""
        ...

    async def withheld_of_order(self, work_order_id: str) -> list[Withheld]: ...
    async def rule_sets(self, district: str) -> list[RuleSet]: ...


@dataclass(frozen=True)
class RedemptionFilter:
    """Which redemptions a listing shows: a rider's, a set of districts', or a rider's within
    those districts (what a staff member's token covers); ``states`` narrows either."""

    rider_id: str | None = None
    districts: Sequence[str] | None = None
    """None: any district (a rider's own list)."""
    states: Sequence[RedemptionState] = ()

    def __post_init__(self) -> None:
        if self.rider_id is None and self.districts is None:
            raise ValueError("a listing of redemptions is bounded by a rider or by districts")


class RedemptionStore(LedgerStore, Protocol):
    """The ledger with gifts and redemptions."""

    async def get_gift(self, gift_id: str) -> Gift | None: ...
    async def gifts_of(self, district: str) -> list[Gift]: ...
    async def put_gift(self, gift: Gift) -> None:
        """Add the gift or replace every field of it."""
        ...

    async def take_stock(self, gift_id: str) -> bool:
        """One unit of the gift's stock taken, if any is left (atomic)."""
        ...

    async def return_stock(self, gift_id: str) -> None: ...
    async def add_redemption(self, redemption: Redemption) -> None: ...
    async def get_redemption(self, redemption_id: str) -> Redemption | None: ...
    async def redemption_by_key(self, rider_id: str, key: str) -> Redemption | None: ...
    async def redemptions(
        self, where: RedemptionFilter, *, after: SortKey | None, limit: int
    ) -> list[Redemption]:
        """Newest reservation first (ties by id, descending), below ``after``; at most
        ``limit``."""
        ...

    async def end_redemption(
        self, redemption_id: str, state: RedemptionState, *, by: str, at: datetime
    ) -> bool:
        """Move a reserved redemption to ``state``; False if it is not reserved any more (the
        one guard that makes a reservation end exactly once)."""
        ...

    async def due_redemptions(self, now: datetime, *, limit: int) -> list[str]:
        """Reserved redemptions whose expiry has passed, oldest expiry first."""
        ...


class AbstractLedgerUnitOfWork(AbstractUnitOfWork, Protocol):
    @property
    def ledger(self) -> LedgerStore: ...


class AbstractRedemptionUnitOfWork(AbstractUnitOfWork, Protocol):
    @property
    def ledger(self) -> RedemptionStore: ...
