"""Gifts and their redemption (兑换), two-phase like a TigerBeetle pending transfer.

A redemption reserves the gift's cost on the rider's account (a pending debit: the available
balance drops at once, so concurrent redemptions can never overdraw) and one unit of stock.
It then ends exactly once: ``fulfilled`` (the rider showed the collection code at the 驿站 or
merchant: the pending debit is posted), ``cancelled`` by staff or ``expired`` by the sweeper
(the pending debit is voided and the unit of stock comes back). A fulfilment after the
reservation's expiry is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ledger.domain.points import TransferCode


class CollectionPointKind(StrEnum):
    STATION = "station"
    """A 骑手驿站."""
    MERCHANT = "merchant"
    """A partner merchant."""


class RedemptionState(StrEnum):
    RESERVED = "reserved"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def resolution(self) -> TransferCode:
        """The transfer that ends a reservation in this state."""
        return {
            RedemptionState.FULFILLED: TransferCode.POST,
            RedemptionState.CANCELLED: TransferCode.VOID,
            RedemptionState.EXPIRED: TransferCode.EXPIRE,
        }[self]


@dataclass(frozen=True)
class Gift:
    id: str
    district: str
    name: str
    cost: int
    stock: int
    collection_point_kind: CollectionPointKind
    collection_point_name: str
    active_from: datetime
    active_until: datetime | None = None

    def __post_init__(self) -> None:
        if self.cost <= 0:
            raise ValueError("a gift costs a positive number of points")
        if self.stock < 0:
            raise ValueError("stock is never negative")

    def active_at(self, moment: datetime) -> bool:
        return self.active_from <= moment and (
            self.active_until is None or moment < self.active_until
        )

    @property
    def collection_point(self) -> str:
        kind = "驿站" if self.collection_point_kind is CollectionPointKind.STATION else "商户"
        return f"{self.collection_point_name}（{kind}）"


@dataclass(frozen=True)
class Redemption:
    id: str
    rider_id: str
    gift_id: str
    gift_name: str
    district: str
    cost: int
    collection_point: str
    collection_code: str
    idempotency_key: str
    state: RedemptionState
    reserved_at: datetime
    expires_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None

    def expired_at(self, moment: datetime) -> bool:
        return moment >= self.expires_at


def reserve_transfer_id(redemption_id: str) -> str:
    return f"reserve:{redemption_id}"


def resolution_transfer_id(redemption_id: str, state: RedemptionState) -> str:
    """``post:``, ``void:`` or ``expire:<redemption>``."""
    return f"{state.resolution.value}:{redemption_id}"


class RedemptionRefused(Exception):
    """A redemption cannot be made or moved; ``reason`` says why (the API's 409/422)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
