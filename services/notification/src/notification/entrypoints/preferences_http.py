"""The caller's own preferences: which kinds of message they get on which channel beyond the
inbox (the inbox always gets everything), and their quiet hours."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi import Path as FastApiPath
from pydantic import BaseModel, Field, StrictBool

from common.auth import Principal, Role, current_principal
from common.problems import Problem
from notification.domain.messages import TemplateId
from notification.domain.preferences import Preference, QuietHours
from notification.service_layer.unit_of_work import AbstractNotificationUnitOfWork

Caller = Annotated[Principal, Depends(current_principal)]
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class PushChannel(StrEnum):
    """Channels beyond the inbox a recipient may turn off per kind of message."""

    WEBHOOK = "webhook"
    WECHAT = "wechat"


class PreferenceIn(BaseModel):
    enabled: StrictBool


class PreferenceOut(BaseModel):
    kind: TemplateId
    channel: PushChannel
    enabled: StrictBool


class QuietHoursIn(BaseModel):
    start: str = Field(pattern=HHMM, description="HH:MM, Asia/Shanghai", examples=["22:00"])
    end: str = Field(pattern=HHMM, description="HH:MM, Asia/Shanghai", examples=["07:00"])


class QuietHoursOut(QuietHoursIn):
    pass


class Preferences(BaseModel):
    recipient_id: str
    preferences: list[PreferenceOut]
    """Only what differs from the default (every kind on every channel)."""
    quiet_hours: QuietHoursOut | None


def build_preferences_router(
    unit_of_work: Callable[[], AbstractNotificationUnitOfWork],
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["preferences"])

    async def mine(me: str) -> Preferences:
        async with unit_of_work() as uow:
            chosen = await uow.preferences.of(me)
            quiet = await uow.preferences.quiet_hours(me)
        return Preferences(
            recipient_id=me,
            preferences=[
                PreferenceOut(
                    kind=TemplateId(p.kind), channel=PushChannel(p.channel), enabled=p.enabled
                )
                for p in chosen
            ],
            quiet_hours=(
                QuietHoursOut(start=quiet.start.strftime("%H:%M"), end=quiet.end.strftime("%H:%M"))
                if quiet
                else None
            ),
        )

    @router.get("/preferences", response_model=Preferences, summary="My preferences")
    async def get_preferences(principal: Caller) -> Preferences:
        return await mine(principal.subject)

    @router.put(
        "/preferences/{kind}/{channel}",
        response_model=Preferences,
        summary="Turn a kind of message on or off on a channel, for me",
        description="The kind is a template id. Critical messages (escalations) are sent "
        "whatever is chosen; the inbox always gets every message.",
    )
    async def put_preference(
        kind: TemplateId, channel: PushChannel, body: PreferenceIn, principal: Caller
    ) -> Preferences:
        async with unit_of_work() as uow:
            await uow.preferences.put(
                Preference(principal.subject, kind.value, channel.value, body.enabled),
                datetime.now(UTC),
            )
            await uow.commit()
        return await mine(principal.subject)

    @router.put(
        "/quiet-hours",
        response_model=Preferences,
        summary="Set my quiet hours",
        description="Non-critical pushes due in the window wait until it ends; the inbox is "
        "written at once. The window may cross midnight; start = end is refused.",
    )
    async def put_quiet_hours(body: QuietHoursIn, principal: Caller) -> Preferences:
        if body.start == body.end:
            raise Problem(422, "Unprocessable Content", "quiet hours need start != end")
        async with unit_of_work() as uow:
            await uow.preferences.put_quiet_hours(
                QuietHours(
                    principal.subject, time.fromisoformat(body.start), time.fromisoformat(body.end)
                ),
                datetime.now(UTC),
            )
            await uow.commit()
        return await mine(principal.subject)

    @router.delete("/quiet-hours", status_code=204, summary="Remove my quiet hours")
    async def delete_quiet_hours(principal: Caller) -> Response:
        async with unit_of_work() as uow:
            await uow.preferences.delete_quiet_hours(principal.subject)
            await uow.commit()
        return Response(status_code=204)

    @router.put(
        "/wechat-openids/{recipient_id}",
        response_model=WeChatOpenId,
        summary="Register a recipient's mini-program openid for subscribe messages",
        description="The recipient themselves, or a service (the mini program's backend) or "
        "an admin for anyone.",
    )
    async def put_openid(
        recipient_id: Annotated[str, FastApiPath(max_length=128)],
        body: WeChatOpenId,
        principal: Caller,
    ) -> WeChatOpenId:
        _own_or_service(principal, recipient_id)
        async with unit_of_work() as uow:
            await uow.wechat.put(recipient_id, body.openid, datetime.now(UTC))
            await uow.commit()
        return body

    @router.delete(
        "/wechat-openids/{recipient_id}", status_code=204, summary="Forget a recipient's openid"
    )
    async def delete_openid(
        recipient_id: Annotated[str, FastApiPath(max_length=128)], principal: Caller
    ) -> Response:
        _own_or_service(principal, recipient_id)
        async with unit_of_work() as uow:
            await uow.wechat.delete(recipient_id)
            await uow.commit()
        return Response(status_code=204)

    return router


class WeChatOpenId(BaseModel):
    openid: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")


def _own_or_service(principal: Principal, recipient_id: str) -> None:
    if principal.subject == recipient_id or principal.role in (Role.SERVICE, Role.ADMIN):
        return
    raise Problem(403, "Forbidden", "only the recipient, a service or an admin sets an openid")
