"""The ledger's events beyond ``gridloop.points.awarded``, on ``gridloop.points.v1`` (key: the
rider id; ``sequence``: the rider account's version).

A reward past the daily cap is ``capped`` (what was withheld, so the rider can see why); a case
voided as false is ``reversed`` (what was taken back, and the shortfall the rider had already
spent). A gift redemption (兑换) is ``reserved`` (points held, one unit of stock taken), then
exactly one of ``fulfilled`` (collected: the points are spent), ``cancelled`` or ``expired``
(the points come back).
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import AwareDatetime, Field

from common.contracts.base import EventData
from common.contracts.topics import Topic


class PointsCapped(EventData):
    """A reward met the rider's daily cap: ``withheld`` points of it were not paid."""

    event_type: ClassVar[str] = "gridloop.points.capped"
    topic: ClassVar[Topic] = Topic.POINTS

    transfer_id: str
    """The id the reward was decided under (``award:<report>``…)."""
    rider_id: str
    rule: str
    requested: int = Field(ge=0)
    paid: int = Field(ge=0)
    withheld: int = Field(gt=0)
    daily_cap: int = Field(ge=0)
    ledger_day: date
    """The Asia/Shanghai day whose cap was met."""
    report_id: str
    work_order_id: str | None = None
    capped_at: AwareDatetime


class PointsReversed(EventData):
    """Points paid for a report were taken back (the case was voided as false). ``shortfall``
    is what the rider had already spent and could not be taken back (the balance stops at 0)."""

    event_type: ClassVar[str] = "gridloop.points.reversed"
    topic: ClassVar[Topic] = Topic.POINTS

    transfer_id: str
    rider_id: str
    amount: int = Field(ge=0)
    shortfall: int = Field(ge=0)
    balance: int = Field(ge=0)
    report_id: str
    work_order_id: str | None = None
    reason: str = ""
    reversed_at: AwareDatetime


class RedemptionEvent(EventData):
    topic: ClassVar[Topic] = Topic.POINTS

    redemption_id: str
    rider_id: str
    gift_id: str
    gift_name: str
    cost: int = Field(gt=0)
    collection_point: str
    """Where the gift is collected: a 驿站 or a partner merchant, by name."""


class RedemptionReserved(RedemptionEvent):
    """The rider asked for a gift: its cost is reserved and one unit of stock held until
    ``expires_at``."""

    event_type: ClassVar[str] = "gridloop.redemption.reserved"

    collection_code: str
    """What the rider shows at the collection point."""
    available: int = Field(ge=0)
    expires_at: AwareDatetime
    reserved_at: AwareDatetime


class RedemptionFulfilled(RedemptionEvent):
    """The rider collected the gift: the reserved points are spent."""

    event_type: ClassVar[str] = "gridloop.redemption.fulfilled"

    fulfilled_by: str
    fulfilled_at: AwareDatetime


class RedemptionCancelled(RedemptionEvent):
    """Staff cancelled the redemption: the points and the unit of stock come back."""

    event_type: ClassVar[str] = "gridloop.redemption.cancelled"

    cancelled_by: str
    reason: str = ""
    cancelled_at: AwareDatetime


class RedemptionExpired(RedemptionEvent):
    """Nobody collected the gift in time: the points and the unit of stock come back."""

    event_type: ClassVar[str] = "gridloop.redemption.expired"

    expired_at: AwareDatetime


POINTS_EVENT_MODELS: tuple[type[EventData], ...] = (
    PointsCapped,
    PointsReversed,
    RedemptionReserved,
    RedemptionFulfilled,
    RedemptionCancelled,
    RedemptionExpired,
)
