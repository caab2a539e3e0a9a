"""HTTP API of the ledger service (/v1)."""

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from common.auth import Principal, authorise_rider_data, current_principal
from ledger.domain.points import rider_account
from ledger.service_layer.unit_of_work import AbstractLedgerUnitOfWork

Caller = Annotated[Principal, Depends(current_principal)]


class BalanceView(BaseModel):
    account_id: str
    rider_id: str
    balance: int
    pending: int
    available: int


class TransferView(BaseModel):
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


class TransferList(BaseModel):
    items: list[TransferView]
    limit: int
    offset: int


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
    async def transfers(
        rider_id: str,
        principal: Caller,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> TransferList:
        authorise_rider_data(principal, rider_id, "points")
        async with unit_of_work() as uow:
            found = await uow.ledger.transfers_of(rider_id, limit=limit, offset=offset)
        return TransferList(
            items=[
                TransferView(
                    id=t.id,
                    debit_account_id=t.debit_account_id,
                    credit_account_id=t.credit_account_id,
                    amount=t.amount,
                    code=t.code.value,
                    report_id=t.report_id,
                    work_order_id=t.work_order_id,
                    ledger_day=t.ledger_day,
                    caused_by_event_id=t.caused_by_event_id,
                    created_at=t.created_at,
                )
                for t in found
            ],
            limit=limit,
            offset=offset,
        )

    return router
