"""Admin HTTP API of the notification service: webhooks per district and audience, and the
deliveries beyond the inbox with every attempt."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field, HttpUrl

from common.auth import Principal, Role, require_roles
from common.problems import Problem
from notification.domain.delivery import Audience, DeliveryStatus, Webhook
from notification.service_layer.unit_of_work import AbstractNotificationUnitOfWork

Admin = Annotated[Principal, require_roles(Role.ADMIN)]
Staff = Annotated[Principal, require_roles(Role.ADMIN, Role.SUPERVISOR, Role.SERVICE)]
District = Annotated[str, Path(pattern=r"^\d{6}$", description="district code")]


class WebhookIn(BaseModel):
    url: HttpUrl
    secret: str = Field(min_length=16, max_length=200, description="HMAC-SHA256 key")


class WebhookOut(BaseModel):
    district: str
    audience: Audience
    url: str
    rotating: bool
    """A previous secret is still signed with (retire it once the receiver has the new one)."""

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookOut:
        return cls(
            district=webhook.district,
            audience=Audience(webhook.audience),
            url=webhook.url,
            rotating=webhook.previous_secret is not None,
        )


class WebhookList(BaseModel):
    items: list[WebhookOut]


class AttemptOut(BaseModel):
    attempt: int
    attempted_at: datetime
    outcome: str
    status_code: int | None
    error: str | None


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    recipient_id: str
    audience: str
    district: str
    channel: str
    template: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    last_error: str | None
    report_id: str | None
    work_order_id: str | None


class DeliveryDetail(DeliveryOut):
    attempt_log: list[AttemptOut]


class DeliveryList(BaseModel):
    items: list[DeliveryOut]


def _no_webhook(district: str, audience: Audience) -> Problem:
    return Problem(404, "Not Found", f"no webhook for district {district} and {audience.value}")


def build_admin_router(
    unit_of_work: Callable[[], AbstractNotificationUnitOfWork],
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["deliveries"])
    path = "/webhooks/{district}/{audience}"

    @router.put(
        path,
        response_model=WebhookOut,
        summary="Set the webhook of a district's audience (admin)",
        description="A new secret rotates: the old one keeps signing too (two signatures) "
        "until it is retired with DELETE …/previous-secret.",
    )
    async def put_webhook(
        district: District, audience: Audience, body: WebhookIn, _: Admin
    ) -> WebhookOut:
        async with unit_of_work() as uow:
            current = await uow.webhooks.get(district, audience.value)
            previous = None
            if current is not None:
                previous = (
                    current.previous_secret if current.secret == body.secret else current.secret
                )
            webhook = Webhook(district, audience.value, str(body.url), body.secret, previous)
            await uow.webhooks.put(webhook, datetime.now(UTC))
            await uow.commit()
        return WebhookOut.of(webhook)

    @router.delete(
        path + "/previous-secret",
        response_model=WebhookOut,
        summary="Stop signing with the previous secret (admin)",
    )
    async def retire_previous_secret(
        district: District, audience: Audience, _: Admin
    ) -> WebhookOut:
        async with unit_of_work() as uow:
            current = await uow.webhooks.get(district, audience.value)
            if current is None:
                raise _no_webhook(district, audience)
            webhook = Webhook(district, audience.value, current.url, current.secret, None)
            await uow.webhooks.put(webhook, datetime.now(UTC))
            await uow.commit()
        return WebhookOut.of(webhook)

    @router.delete(path, status_code=204, summary="Remove a webhook (admin)")
    async def delete_webhook(district: District, audience: Audience, _: Admin) -> Response:
        async with unit_of_work() as uow:
            if not await uow.webhooks.delete(district, audience.value):
                raise _no_webhook(district, audience)
            await uow.commit()
        return Response(status_code=204)

    @router.get("/webhooks", response_model=WebhookList, summary="Every webhook (admin)")
    async def list_webhooks(_: Admin) -> WebhookList:
        async with unit_of_work() as uow:
            webhooks = await uow.webhooks.all()
        return WebhookList(items=[WebhookOut.of(w) for w in webhooks])

    @router.get(
        "/deliveries",
        response_model=DeliveryList,
        summary="Deliveries beyond the inbox of the districts the token covers, newest first "
        "(staff)",
    )
    async def list_deliveries(
        principal: Staff,
        status: DeliveryStatus | None = None,
        recipient_id: Annotated[str | None, Query(max_length=128)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> DeliveryList:
        async with unit_of_work() as uow:
            found = await uow.deliveries.listed(
                status=status,
                recipient_id=recipient_id,
                limit=limit,
                districts=principal.all_districts,
            )
        return DeliveryList(
            items=[DeliveryOut.model_validate(d, from_attributes=True) for d in found]
        )

    @router.get(
        "/deliveries/{delivery_id}",
        response_model=DeliveryDetail,
        summary="One delivery with every attempt (staff)",
    )
    async def get_delivery(delivery_id: str, principal: Staff) -> DeliveryDetail:
        async with unit_of_work() as uow:
            delivery = await uow.deliveries.get(delivery_id)
            attempts = await uow.deliveries.attempts(delivery_id) if delivery else []
        if delivery is None or not principal.covers(delivery.district):
            raise Problem(404, "Not Found", f"no delivery {delivery_id}")
        return DeliveryDetail(
            **DeliveryOut.model_validate(delivery, from_attributes=True).model_dump(),
            attempt_log=[AttemptOut.model_validate(a, from_attributes=True) for a in attempts],
        )

    return router
