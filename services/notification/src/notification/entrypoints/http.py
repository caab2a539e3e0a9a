"""HTTP API of the notification service (/v1)."""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from common.auth import Principal, authorise_rider_data, current_principal
from notification.service_layer.unit_of_work import AbstractNotificationUnitOfWork

Caller = Annotated[Principal, Depends(current_principal)]


class InboxItem(BaseModel):
    id: str
    channel: str
    template: str
    title: str
    body: str
    report_id: str | None
    work_order_id: str | None
    created_at: datetime


class Inbox(BaseModel):
    recipient_id: str
    items: list[InboxItem]
    limit: int
    offset: int


def build_router(unit_of_work: Callable[[], AbstractNotificationUnitOfWork]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["inbox"])

    @router.get(
        "/inbox/{recipient_id}",
        response_model=Inbox,
        summary="A recipient's in-app messages, newest first",
    )
    async def inbox(
        recipient_id: str,
        principal: Caller,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Inbox:
        authorise_rider_data(principal, recipient_id, "inbox")
        async with unit_of_work() as uow:
            items = await uow.notifications.inbox(recipient_id, limit=limit, offset=offset)
        return Inbox(
            recipient_id=recipient_id,
            items=[
                InboxItem(
                    id=i.id,
                    channel=i.channel,
                    template=i.template,
                    title=i.title,
                    body=i.body,
                    report_id=i.report_id,
                    work_order_id=i.work_order_id,
                    created_at=i.created_at,
                )
                for i in items
            ],
            limit=limit,
            offset=offset,
        )

    return router
