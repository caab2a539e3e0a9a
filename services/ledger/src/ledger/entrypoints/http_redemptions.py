"""HTTP API of gifts and their redemption (兑换): the catalogue per district (admins), a
rider's redemption (Idempotency-Key) and list of redemptions, and the collection point's
fulfil or cancel (staff)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from common.auth import Principal, Role, authorise_rider_data, current_principal, require_roles
from common.paging import SortKey
from common.problems import Problem
from common.service.paging import CursorPage, PageRequest, page_request
from ledger.adapters.unit_of_work import SqlLedgerUnitOfWork
from ledger.domain.redemption import (
    CollectionPointKind,
    Gift,
    Redemption,
    RedemptionRefused,
    RedemptionState,
)
from ledger.service_layer.redemptions import Redemptions
from ledger.service_layer.unit_of_work import RedemptionFilter

Caller = Annotated[Principal, Depends(current_principal)]
Admin = Annotated[Principal, require_roles(Role.ADMIN)]
Rider = Annotated[Principal, require_roles(Role.RIDER)]
Staff = Annotated[Principal, require_roles(Role.SUPERVISOR, Role.ADMIN)]
DistrictCode = Annotated[str, Path(pattern=r"^\d{6}$", description="行政区划代码")]
RedemptionPage = Annotated[PageRequest, Depends(page_request("redemptions"))]
GiftId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="a retry with the same key answers the same redemption and changes nothing",
    ),
]

_STATUS = {
    "unknown_gift": (404, "Unknown gift"),
    "unknown": (404, "Unknown redemption"),
    "inactive": (409, "Gift not redeemable now"),
    "insufficient_points": (409, "Not enough points"),
    "out_of_stock": (409, "Out of stock"),
    "key_reused": (409, "Idempotency-Key reused"),
    "expired": (409, "Reservation expired"),
    "ended": (409, "Redemption already ended"),
    "wrong_code": (422, "Wrong collection code"),
}


def _problem(refused: RedemptionRefused) -> Problem:
    status, title = _STATUS[refused.reason]
    return Problem(status, title, refused.detail)


class GiftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    cost: int = Field(gt=0, le=1_000_000, description="points")
    stock: int = Field(ge=0, le=1_000_000, description="units left to redeem")
    collection_point_kind: CollectionPointKind = Field(
        description="station: a 骑手驿站; merchant: a partner merchant"
    )
    collection_point_name: str = Field(min_length=1, max_length=120)
    active_from: AwareDatetime
    active_until: AwareDatetime | None = None


class GiftView(GiftBody):
    model_config = ConfigDict(extra="forbid")

    id: str
    district: str
    collection_point: str

    @classmethod
    def of(cls, gift: Gift) -> GiftView:
        return cls(
            id=gift.id,
            district=gift.district,
            name=gift.name,
            cost=gift.cost,
            stock=gift.stock,
            collection_point_kind=gift.collection_point_kind,
            collection_point_name=gift.collection_point_name,
            collection_point=gift.collection_point,
            active_from=gift.active_from,
            active_until=gift.active_until,
        )


class GiftCatalogue(BaseModel):
    district: str
    gifts: list[GiftView]


class RedeemRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gift_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


class FulfilRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    collection_code: str = Field(min_length=1, max_length=16)


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=200)


class RedemptionView(BaseModel):
    id: str
    rider_id: str
    gift_id: str
    gift_name: str
    district: str
    cost: int
    collection_point: str
    collection_code: str
    """What the rider shows at the collection point."""
    state: str
    reserved_at: datetime
    expires_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None

    @classmethod
    def of(cls, redemption: Redemption) -> RedemptionView:
        return cls(
            id=redemption.id,
            rider_id=redemption.rider_id,
            gift_id=redemption.gift_id,
            gift_name=redemption.gift_name,
            district=redemption.district,
            cost=redemption.cost,
            collection_point=redemption.collection_point,
            collection_code=redemption.collection_code,
            state=redemption.state.value,
            reserved_at=redemption.reserved_at,
            expires_at=redemption.expires_at,
            resolved_at=redemption.resolved_at,
            resolved_by=redemption.resolved_by,
        )


class RedemptionList(CursorPage[RedemptionView]):
    """Redemptions, the newest reservation first."""


def _covers(principal: Principal, district: str) -> None:
    if not principal.covers(district):
        raise Problem(403, "Forbidden", f"the token does not cover district {district}")


def _listing_scope(
    principal: Principal,
    *,
    rider: str | None,
    district: str | None,
    states: list[RedemptionState],
) -> RedemptionFilter:
    """What the caller's list may show: a rider their own (another rider's is 403); staff a
    rider's or a district's within the districts their token covers (a district it does not
    cover is 403), their home district's when they name neither; any other role nothing."""
    authorise_rider_data(principal, rider or principal.subject, "redemptions")
    if principal.role is Role.RIDER:
        own_districts = (district,) if district is not None else None
        return RedemptionFilter(principal.subject, own_districts, tuple(states))
    if district is not None:
        _covers(principal, district)
        districts: tuple[str, ...] = (district,)
    elif rider is not None:
        districts = principal.all_districts
    else:
        districts = (principal.district,)
    return RedemptionFilter(rider, districts, tuple(states))


def build_redemptions_router(
    unit_of_work: Callable[[], SqlLedgerUnitOfWork], redemptions: Redemptions
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["redemptions"])

    @router.put(
        "/districts/{code}/gifts/{gift_id}",
        response_model=GiftView,
        summary="Add or change a gift of a district's catalogue (admins)",
    )
    async def put_gift(
        code: DistrictCode, gift_id: GiftId, body: GiftBody, principal: Admin
    ) -> GiftView:
        """``stock`` is what is left to redeem: reserved units are already taken from it."""
        _covers(principal, code)
        if body.active_until is not None and body.active_until <= body.active_from:
            raise Problem(422, "Invalid window", "active_until must follow active_from")
        gift = Gift(
            id=gift_id,
            district=code,
            name=body.name,
            cost=body.cost,
            stock=body.stock,
            collection_point_kind=body.collection_point_kind,
            collection_point_name=body.collection_point_name,
            active_from=body.active_from.astimezone(UTC),
            active_until=body.active_until.astimezone(UTC) if body.active_until else None,
        )
        async with unit_of_work() as uow:
            existing = await uow.ledger.get_gift(gift_id)
            if existing is not None and existing.district != code:
                raise Problem(409, "Conflict", f"gift {gift_id} belongs to {existing.district}")
            await uow.ledger.put_gift(gift)
            await uow.commit()
        return GiftView.of(gift)

    @router.get(
        "/districts/{code}/gifts",
        response_model=GiftCatalogue,
        summary="A district's gift catalogue",
    )
    async def gifts(code: DistrictCode, principal: Caller) -> GiftCatalogue:
        async with unit_of_work() as uow:
            found = await uow.ledger.gifts_of(code)
        return GiftCatalogue(district=code, gifts=[GiftView.of(g) for g in found])

    @router.post(
        "/redemptions",
        response_model=RedemptionView,
        status_code=201,
        summary="Redeem a gift: reserve its cost and one unit of stock (riders)",
        responses={
            200: {"description": "A retry with the same Idempotency-Key: the same redemption."},
            404: {"description": "No such gift."},
            409: {
                "description": "Not enough points, out of stock, not redeemable now, or the "
                "Idempotency-Key was used for another gift."
            },
        },
    )
    async def redeem(
        body: RedeemRequest, response: Response, principal: Rider, key: IdempotencyKey
    ) -> RedemptionView:
        async with unit_of_work() as uow:
            try:
                redemption, made = await redemptions.reserve(
                    uow,
                    rider_id=principal.subject,
                    gift_id=body.gift_id,
                    idempotency_key=key,
                    now=datetime.now(UTC),
                )
            except RedemptionRefused as refused:
                raise _problem(refused) from refused
            await uow.commit()
        if not made:
            response.status_code = 200
        return RedemptionView.of(redemption)

    @router.get(
        "/redemptions",
        response_model=RedemptionList,
        summary="Redemptions, newest first: a rider's own, or staff's of their districts",
        description="A rider sees their own redemptions (with each one's collection code). "
        "Supervisors, admins and services may name a `rider` and/or a `district`, and see "
        "only redemptions of districts their token covers; with neither, their home "
        "district's. `status` (repeatable) keeps those in the given states.",
        responses={
            403: {
                "description": "Another rider's redemptions, a district the token does not "
                "cover, or a role that sees no redemptions (grid workers, departments)."
            }
        },
    )
    async def list_redemptions(
        principal: Caller,
        page: RedemptionPage,
        status: Annotated[
            list[RedemptionState] | None,
            Query(description="only redemptions in these states (repeatable)"),
        ] = None,
        rider: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=128,
                description="only this rider's (staff; a rider may name only themselves)",
            ),
        ] = None,
        district: Annotated[
            str | None,
            Query(
                pattern=r"^\d{6}$",
                description="行政区划代码: only this district's (staff: one their token covers)",
            ),
        ] = None,
    ) -> RedemptionList:
        where = _listing_scope(principal, rider=rider, district=district, states=status or [])
        async with unit_of_work() as uow:
            found = await uow.ledger.redemptions(where, after=page.after, limit=page.fetch)
        return RedemptionList.of(
            page,
            found,
            key=lambda r: SortKey(r.reserved_at, r.id),
            view=RedemptionView.of,
        )

    @router.get(
        "/redemptions/{redemption_id}",
        response_model=RedemptionView,
        summary="One redemption (its rider, or staff)",
    )
    async def redemption(redemption_id: str, principal: Caller) -> RedemptionView:
        async with unit_of_work() as uow:
            found = await uow.ledger.get_redemption(redemption_id)
        if found is None:
            raise Problem(404, "Unknown redemption", f"no redemption {redemption_id}")
        authorise_rider_data(principal, found.rider_id, "redemptions")
        return RedemptionView.of(found)

    @router.post(
        "/redemptions/{redemption_id}/fulfil",
        response_model=RedemptionView,
        summary="The gift was handed over against its collection code: the points are spent",
        responses={409: {"description": "Expired, cancelled, or already ended otherwise."}},
    )
    async def fulfil(redemption_id: str, body: FulfilRequest, principal: Staff) -> RedemptionView:
        return await _ended_by_staff(
            principal,
            redemption_id,
            lambda uow: redemptions.fulfil(
                uow,
                redemption_id,
                collection_code=body.collection_code,
                by=principal.subject,
                now=datetime.now(UTC),
            ),
        )

    @router.post(
        "/redemptions/{redemption_id}/cancel",
        response_model=RedemptionView,
        summary="Cancel a reservation: the points and the unit of stock come back (staff)",
        responses={409: {"description": "Already fulfilled or expired."}},
    )
    async def cancel(redemption_id: str, body: CancelRequest, principal: Staff) -> RedemptionView:
        return await _ended_by_staff(
            principal,
            redemption_id,
            lambda uow: redemptions.cancel(
                uow,
                redemption_id,
                by=principal.subject,
                now=datetime.now(UTC),
                reason=body.reason,
            ),
        )

    async def _ended_by_staff(
        principal: Principal,
        redemption_id: str,
        end: Callable[[SqlLedgerUnitOfWork], Awaitable[Redemption]],
    ) -> RedemptionView:
        """Fulfil or cancel a redemption of a district the staff member covers (else 404)."""
        async with unit_of_work() as uow:
            found = await uow.ledger.get_redemption(redemption_id)
            if found is None:
                raise Problem(404, "Unknown redemption", f"no redemption {redemption_id}")
            _covers(principal, found.district)
            try:
                ended = await end(uow)
            except RedemptionRefused as refused:
                raise _problem(refused) from refused
            await uow.commit()
        return RedemptionView.of(ended)

    return router
