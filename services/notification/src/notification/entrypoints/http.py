"""HTTP API of the notification service (/v1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from common.auth import Principal, authorise_own_data, current_principal
from common.paging import SortKey
from common.service.paging import CursorPage, PageRequest, page_request
from notification.service_layer.unit_of_work import AbstractNotificationUnitOfWork

Caller = Annotated[Principal, Depends(current_principal)]
Page = Annotated[PageRequest, Depends(page_request("inbox"))]


class InboxItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    channel: str
    template: str
    title: str
    body: str
    report_id: str | None
    work_order_id: str | None
    created_at: datetime


class Inbox(CursorPage[InboxItem]):
    """A recipient's messages, newest first."""

    recipient_id: str


def build_router(unit_of_work: Callable[[], AbstractNotificationUnitOfWork]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["inbox"])

    @router.get(
        "/inbox/{recipient_id}",
        response_model=Inbox,
        summary="A recipient's in-app messages, newest first",
        description="Riders, grid workers, departments and supervisors read their own inbox "
        "with their own token (the recipient id is the token's subject); supervisors, admins "
        "and services may read anyone's.",
    )
    async def inbox(recipient_id: str, principal: Caller, page: Page) -> Inbox:
        authorise_own_data(principal, recipient_id, "inbox")
        async with unit_of_work() as uow:
            fetched = await uow.notifications.inbox(
                recipient_id, limit=page.fetch, after=page.after
            )
        return Inbox.of(
            page,
            fetched,
            key=lambda i: SortKey(i.created_at, i.id),
            view=InboxItem.model_validate,
            recipient_id=recipient_id,
        )

    return router
