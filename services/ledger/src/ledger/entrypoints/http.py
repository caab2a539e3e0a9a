"""HTTP API of the ledger service (/v1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from common.auth import Principal, authorise_rider_data, current_principal
from common.paging import SortKey
from common.service.paging import CursorPage, PageRequest, page_request
from ledger.domain.points import rider_account
from ledger.service_layer.unit_of_work import AbstractLedgerUnitOfWork

Caller = Annotated[Principal, Depends(current_principal)]
Page = Annotated[PageRequest, Depends(page_request("transfers"))]


class BalanceView(BaseModel):
    account_id: str
    rider_id: str
    balance: int
    pending: int
    available: int


class TransferView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    code: str
    report_id: str
    work_order_id: str | None
    ledger_day: date
    caused_by_event_id: str
    created_at: datetime


class TransferList(CursorPage[TransferView]):
    """A rider's transfers, newest first."""


def build_router(unit_of_work: Callable[[], AbstractLedgerUnitOfWork]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["points"])

    @router.get(
        "/accounts/{rider_id}/balance",
        response_model=BalanceView,
        summary="A rider's points balance",
    )
    async def balance(rider_id: str, principal: Caller) -> BalanceView:
        authorise_rider_data(principal, rider_id, "points")
        async with unit_of_work() as uow:
            account = await uow.ledger.get_account(rider_account(rider_id))
        if account is None:  # no points yet: a zero balance, not an error
            return BalanceView(
                account_id=rider_account(rider_id),
                rider_id=rider_id,
                balance=0,
                pending=0,
                available=0,
            )
        return BalanceView(
            account_id=account.id,
            rider_id=rider_id,
            balance=account.balance,
            pending=account.debits_pending,
            available=account.available,
        )

    @router.get(
        "/accounts/{rider_id}/transfers",
        response_model=TransferList,
        summary="Every transfer behind a rider's balance, newest first",
    )
    async def transfers(rider_id: str, principal: Caller, page: Page) -> TransferList:
        authorise_rider_data(principal, rider_id, "points")
        async with unit_of_work() as uow:
            fetched = await uow.ledger.transfers_of(rider_id, limit=page.fetch, after=page.after)
        return TransferList.of(
            page,
            fetched,
            key=lambda t: SortKey(t.created_at, t.id),
            view=TransferView.model_validate,
        )

    return router
