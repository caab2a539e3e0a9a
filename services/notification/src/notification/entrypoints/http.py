"""HTTP API of the notification service (/v1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from common.auth import Principal, authorise_own_data, current_principal
from common.paging import SortKey
from common.problems import Problem
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
    read_at: datetime | None = None


class Inbox(CursorPage[InboxItem]):
    """A recipient's messages, newest first."""

    recipient_id: str


class UnreadCount(BaseModel):
    recipient_id: str
    unread: int


class MarkedRead(BaseModel):
    recipient_id: str
    marked: int
    """How many messages were unread and are read now."""


def build_router(unit_of_work: Callable[[], AbstractNotificationUnitOfWork]) -> APIRouter:
    # The caller's own messages. Marking and counting live under /v1/notifications so that no
    # path of theirs is also a recipient of /v1/inbox/{recipient_id}.
    router = APIRouter(prefix="/v1", tags=["inbox"])

    @router.get(
        "/inbox",
        response_model=Inbox,
        summary="My in-app messages, newest first",
        description="The caller's own inbox (the token's subject), whatever their role; "
        "`unread=true` lists only the messages not marked read yet.",
    )
    async def my_inbox(
        principal: Caller,
        page: Page,
        unread: Annotated[bool, Query(description="only the unread messages")] = False,
    ) -> Inbox:
        me = principal.subject
        async with unit_of_work() as uow:
            fetched = await uow.notifications.inbox(
                me, limit=page.fetch, after=page.after, unread=unread
            )
        return Inbox.of(
            page,
            fetched,
            key=lambda i: SortKey(i.created_at, i.id),
            view=InboxItem.model_validate,
            recipient_id=me,
        )

    @router.get(
        "/notifications/unread-count",
        response_model=UnreadCount,
        summary="How many of my messages are unread",
    )
    async def unread_count(principal: Caller) -> UnreadCount:
        async with unit_of_work() as uow:
            unread = await uow.notifications.unread_count(principal.subject)
        return UnreadCount(recipient_id=principal.subject, unread=unread)

    @router.post(
        "/notifications/read-all",
        response_model=MarkedRead,
        summary="Mark all my messages read",
    )
    async def mark_all_read(principal: Caller) -> MarkedRead:
        async with unit_of_work() as uow:
            marked = await uow.notifications.mark_all_read(principal.subject, datetime.now(UTC))
            await uow.commit()
        return MarkedRead(recipient_id=principal.subject, marked=marked)

    @router.post(
        "/notifications/{notification_id}/read",
        response_model=InboxItem,
        summary="Mark one of my messages read",
        description="Marking a message read twice keeps the first time. Another recipient's "
        "message is a 404, as an unknown one is.",
        responses={404: {"description": "No such message in the caller's inbox"}},
    )
    async def mark_read(notification_id: str, principal: Caller) -> InboxItem:
        async with unit_of_work() as uow:
            stored = await uow.notifications.mark_read(
                principal.subject, notification_id, datetime.now(UTC)
            )
            await uow.commit()
        if stored is None:
            raise Problem(404, "Not Found", f"no message {notification_id} in your inbox")
        return InboxItem.model_validate(stored)

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
