"""Redeeming gifts (兑换): reserve, then fulfil, cancel or expire — each exactly once.

Locks are taken in one order everywhere: the rider's account first (its upsert holds the row),
then the gift's stock (a conditional update) or the redemption (a conditional state change).
So two transactions never wait for each other in a cycle, one rider's redemptions are decided
one after another against the available balance (never an overdraft), and the last unit of a
gift goes to exactly one rider.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from common.contracts.events import (
    RedemptionCancelled,
    RedemptionExpired,
    RedemptionFulfilled,
    RedemptionReserved,
)
from ledger.domain.points import (
    REDEMPTION_ACCOUNT,
    Account,
    Transfer,
    TransferCode,
    fingerprint,
    ledger_day,
    post_transfer,
    rider_account,
)
from ledger.domain.redemption import (
    Redemption,
    RedemptionRefused,
    RedemptionState,
    reserve_transfer_id,
    resolution_transfer_id,
)
from ledger.service_layer.unit_of_work import AbstractRedemptionUnitOfWork

_log = structlog.get_logger("gridloop.ledger")


def _nothing(district: str, amount: int) -> None:
    return None


@dataclass(frozen=True)
class RedemptionObserver:
    """Counted after the commit: points reserved, redeemed (posted), released (cancelled) and
    expired, by district."""

    reserved: Callable[[str, int], None] = _nothing
    redeemed: Callable[[str, int], None] = _nothing
    released: Callable[[str, int], None] = _nothing
    expired: Callable[[str, int], None] = _nothing


class Redemptions:
    def __init__(self, hold: timedelta, observer: RedemptionObserver | None = None) -> None:
        self.hold = hold
        self.observer = observer or RedemptionObserver()
        self._opened = False

    async def reserve(
        self,
        uow: AbstractRedemptionUnitOfWork,
        *,
        rider_id: str,
        gift_id: str,
        idempotency_key: str,
        now: datetime,
    ) -> tuple[Redemption, bool]:
        """The redemption for this key (``True`` if made now). Refused when the gift is unknown,
        inactive or out of stock, or the rider's available points do not cover it."""
        if not self._opened:
            await uow.ledger.open_account(REDEMPTION_ACCOUNT, must_not_go_negative=False)
        rider = await uow.ledger.open_account(rider_account(rider_id), must_not_go_negative=True)
        earlier = await uow.ledger.redemption_by_key(rider_id, idempotency_key)
        if earlier is not None:
            if earlier.gift_id != gift_id:
                raise RedemptionRefused(
                    "key_reused",
                    f"Idempotency-Key {idempotency_key} was used for gift {earlier.gift_id}",
                )
            return earlier, False
        gift = await uow.ledger.get_gift(gift_id)
        if gift is None:
            raise RedemptionRefused("unknown_gift", f"no gift {gift_id}")
        if not gift.active_at(now):
            raise RedemptionRefused("inactive", f"gift {gift_id} cannot be redeemed now")
        if rider.available < gift.cost:
            raise RedemptionRefused(
                "insufficient_points",
                f"gift {gift_id} costs {gift.cost} points; {rider.available} are available",
            )
        if not await uow.ledger.take_stock(gift_id):
            raise RedemptionRefused("out_of_stock", f"gift {gift_id} is out of stock")
        redemption = Redemption(
            id=str(uuid.uuid4()),
            rider_id=rider_id,
            gift_id=gift.id,
            gift_name=gift.name,
            district=gift.district,
            cost=gift.cost,
            collection_point=gift.collection_point,
            collection_code=f"{secrets.randbelow(10**6):06d}",
            idempotency_key=idempotency_key,
            state=RedemptionState.RESERVED,
            reserved_at=now,
            expires_at=now + self.hold,
        )
        transfer = self._transfer(
            redemption, TransferCode.RESERVE, reserve_transfer_id(redemption.id), now
        )
        rider, _ = post_transfer(rider, Account(REDEMPTION_ACCOUNT), transfer)
        await uow.ledger.add_redemption(redemption)
        await uow.ledger.record(transfer, [rider])
        await uow.outbox.add(
            RedemptionReserved(
                redemption_id=redemption.id,
                rider_id=rider_id,
                gift_id=gift.id,
                gift_name=gift.name,
                cost=gift.cost,
                collection_point=gift.collection_point,
                collection_code=redemption.collection_code,
                available=rider.available,
                expires_at=redemption.expires_at,
                reserved_at=now,
            ),
            subject=rider_id,
            sequence=rider.version,
        )
        uow.after_commit(lambda: self._mark_opened())
        uow.after_commit(lambda: self.observer.reserved(gift.district, gift.cost))
        return redemption, True

    def _mark_opened(self) -> None:
        self._opened = True

    async def fulfil(
        self,
        uow: AbstractRedemptionUnitOfWork,
        redemption_id: str,
        *,
        collection_code: str,
        by: str,
        now: datetime,
    ) -> Redemption:
        """The gift was handed over: post the reserved points. Refused once the reservation
        expired, was cancelled, or with a wrong collection code; a repeat is a no-op."""
        redemption = await self._get(uow, redemption_id)
        if redemption.state is RedemptionState.FULFILLED:
            return redemption
        if collection_code != redemption.collection_code:
            raise RedemptionRefused("wrong_code", "the collection code does not match")
        return await self._resolve(uow, redemption, RedemptionState.FULFILLED, by, now)

    async def cancel(
        self,
        uow: AbstractRedemptionUnitOfWork,
        redemption_id: str,
        *,
        by: str,
        now: datetime,
        reason: str = "",
    ) -> Redemption:
        redemption = await self._get(uow, redemption_id)
        if redemption.state is RedemptionState.CANCELLED:
            return redemption
        return await self._resolve(
            uow, redemption, RedemptionState.CANCELLED, by, now, reason=reason
        )

    async def expire(
        self, uow: AbstractRedemptionUnitOfWork, redemption_id: str, *, now: datetime
    ) -> bool:
        """Void one reservation past its expiry (the sweeper); False if it ended meanwhile."""
        redemption = await self._get(uow, redemption_id)
        if redemption.state is not RedemptionState.RESERVED or not redemption.expired_at(now):
            return False
        try:
            await self._resolve(uow, redemption, RedemptionState.EXPIRED, "sweeper", now)
        except RedemptionRefused:
            return False
        return True

    async def _get(self, uow: AbstractRedemptionUnitOfWork, redemption_id: str) -> Redemption:
        redemption = await uow.ledger.get_redemption(redemption_id)
        if redemption is None:
            raise RedemptionRefused("unknown", f"no redemption {redemption_id}")
        return redemption

    async def _resolve(
        self,
        uow: AbstractRedemptionUnitOfWork,
        redemption: Redemption,
        state: RedemptionState,
        by: str,
        now: datetime,
        *,
        reason: str = "",
    ) -> Redemption:
        rider = await uow.ledger.open_account(
            rider_account(redemption.rider_id), must_not_go_negative=True
        )
        if state is not RedemptionState.EXPIRED and redemption.expired_at(now):
            raise RedemptionRefused(
                "expired", f"redemption {redemption.id} expired at {redemption.expires_at}"
            )
        if not await uow.ledger.end_redemption(redemption.id, state, by=by, at=now):
            current = await self._get(uow, redemption.id)
            raise RedemptionRefused(
                "ended", f"redemption {redemption.id} is already {current.state.value}"
            )
        transfer = self._transfer(
            redemption, state.resolution, resolution_transfer_id(redemption.id, state), now
        )
        rider, _ = post_transfer(rider, Account(REDEMPTION_ACCOUNT), transfer)
        await uow.ledger.record(transfer, [rider])
        if state is not RedemptionState.FULFILLED:
            await uow.ledger.return_stock(redemption.gift_id)
        ended = replace(redemption, state=state, resolved_at=now, resolved_by=by)
        await uow.outbox.add(
            self._event(ended, reason), subject=redemption.rider_id, sequence=rider.version
        )
        district, cost = redemption.district, redemption.cost
        count = {
            RedemptionState.FULFILLED: self.observer.redeemed,
            RedemptionState.CANCELLED: self.observer.released,
            RedemptionState.EXPIRED: self.observer.expired,
        }[state]
        uow.after_commit(lambda: count(district, cost))
        _log.info("redemption.ended", redemption_id=redemption.id, state=state.value)
        return ended

    def _event(
        self, ended: Redemption, reason: str
    ) -> RedemptionFulfilled | RedemptionCancelled | RedemptionExpired:
        common = {
            "redemption_id": ended.id,
            "rider_id": ended.rider_id,
            "gift_id": ended.gift_id,
            "gift_name": ended.gift_name,
            "cost": ended.cost,
            "collection_point": ended.collection_point,
        }
        at, by = ended.resolved_at, ended.resolved_by or ""
        if ended.state is RedemptionState.FULFILLED:
            return RedemptionFulfilled.model_validate(
                {**common, "fulfilled_by": by, "fulfilled_at": at}
            )
        if ended.state is RedemptionState.CANCELLED:
            return RedemptionCancelled.model_validate(
                {**common, "cancelled_by": by, "reason": reason, "cancelled_at": at}
            )
        return RedemptionExpired.model_validate({**common, "expired_at": at})

    def _transfer(
        self, redemption: Redemption, code: TransferCode, transfer_id: str, now: datetime
    ) -> Transfer:
        return Transfer(
            id=transfer_id,
            debit_account_id=rider_account(redemption.rider_id),
            credit_account_id=REDEMPTION_ACCOUNT,
            amount=redemption.cost,
            code=code,
            rider_id=redemption.rider_id,
            report_id=None,
            work_order_id=None,
            ledger_day=ledger_day(now),
            caused_by_event_id=f"redemption:{redemption.id}",
            created_at=now,
            district=redemption.district,
            fingerprint=fingerprint(code, redemption.rider_id, redemption.id, redemption.cost),
            redemption_id=redemption.id,
        )


async def sweep_expired(
    unit_of_work: Callable[[], AbstractRedemptionUnitOfWork],
    redemptions: Redemptions,
    now: datetime,
    *,
    batch: int = 200,
) -> int:
    """Expire every reservation past its time, one transaction each; how many it expired."""
    async with unit_of_work() as uow:
        due = await uow.ledger.due_redemptions(now, limit=batch)
    expired = 0
    for redemption_id in due:
        async with unit_of_work() as uow:
            if await redemptions.expire(uow, redemption_id, now=now):
                await uow.commit()
                expired += 1
    return expired
