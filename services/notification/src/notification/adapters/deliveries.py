"""Deliveries, their attempts, and the webhooks they go to, in the service's database."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from notification.adapters.tables import DeliveryAttemptRow, DeliveryRow, WebhookRow
from notification.domain.delivery import Attempt, Delivery, DeliveryStatus, Webhook

DELIVERIES: sa.Table = DeliveryRow.__table__  # type: ignore[attr-defined]


@functools.cache
def _insert_unless_there(dialect: str) -> sa.Insert:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(DELIVERIES).on_conflict_do_nothing()


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, delivery: Delivery) -> bool:
        """Store the delivery unless one of its (event, recipient, channel, template) is there
        already (a replay): False then, and nothing changes."""
        connection = await self._session.connection()
        result = await connection.execute(
            _insert_unless_there(connection.dialect.name),
            {
                "id": delivery.id,
                "event_id": delivery.event_id,
                "recipient_id": delivery.recipient_id,
                "audience": delivery.audience,
                "district": delivery.district,
                "channel": delivery.channel,
                "template": delivery.template,
                "payload": json.dumps(delivery.payload, ensure_ascii=False),
                "status": delivery.status.value,
                "attempts": delivery.attempts,
                "next_attempt_at": delivery.next_attempt_at,
                "created_at": delivery.created_at,
                "updated_at": delivery.created_at,
                "report_id": delivery.report_id,
                "work_order_id": delivery.work_order_id,
                "sequence": delivery.sequence,
                "critical": delivery.critical,
                "last_error": delivery.last_error,
            },
        )
        return bool(result.rowcount)

    async def get(self, delivery_id: str) -> Delivery | None:
        row = await self._session.get(DeliveryRow, delivery_id)
        return _delivery(row) if row else None

    async def due(self, now: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries whose next attempt is due, oldest due first."""
        statement = (
            select(DeliveryRow)
            .where(
                DeliveryRow.status == DeliveryStatus.PENDING.value,
                col(DeliveryRow.next_attempt_at) <= now,
            )
            .order_by(col(DeliveryRow.next_attempt_at), col(DeliveryRow.id))
            .limit(limit)
        )
        return [_delivery(row) for row in (await self._session.exec(statement)).all()]

    async def claim(self, delivery: Delivery, until: datetime) -> bool:
        """Hold a due delivery for one attempt (its next attempt moves to ``until``, so a crash
        mid-send retries it then); False if another sender took it first."""
        result = await self._session.exec(
            sa.update(DeliveryRow)
            .where(
                col(DeliveryRow.id) == delivery.id,
                col(DeliveryRow.status) == DeliveryStatus.PENDING.value,
                col(DeliveryRow.attempts) == delivery.attempts,
                col(DeliveryRow.next_attempt_at) == delivery.next_attempt_at,
            )
            .values(next_attempt_at=until)
        )
        return bool(result.rowcount)

    async def record(
        self,
        delivery_id: str,
        *,
        attempt: int,
        at: datetime,
        outcome: str,
        status: DeliveryStatus,
        next_attempt_at: datetime,
        status_code: int | None,
        error: str | None,
    ) -> None:
        """Record an attempt and where it leaves the delivery."""
        self._session.add(
            DeliveryAttemptRow(
                delivery_id=delivery_id,
                attempt=attempt,
                attempted_at=at,
                outcome=outcome,
                status_code=status_code,
                error=error[:500] if error else None,
            )
        )
        await self._session.exec(
            sa.update(DeliveryRow)
            .where(col(DeliveryRow.id) == delivery_id)
            .values(
                status=status.value,
                attempts=attempt,
                next_attempt_at=next_attempt_at,
                updated_at=at,
                last_error=error[:500] if error else None,
            )
        )

    async def reschedule(self, delivery_id: str, at: datetime) -> None:
        """Move the next attempt to ``at`` without counting an attempt (quiet hours)."""
        await self._session.exec(
            sa.update(DeliveryRow)
            .where(col(DeliveryRow.id) == delivery_id)
            .values(next_attempt_at=at)
        )

    async def set_status(
        self, delivery_id: str, status: DeliveryStatus, at: datetime, error: str | None = None
    ) -> None:
        await self._session.exec(
            sa.update(DeliveryRow)
            .where(col(DeliveryRow.id) == delivery_id)
            .values(status=status.value, updated_at=at, last_error=error)
        )

    async def attempts(self, delivery_id: str) -> list[Attempt]:
        statement = (
            select(DeliveryAttemptRow)
            .where(DeliveryAttemptRow.delivery_id == delivery_id)
            .order_by(col(DeliveryAttemptRow.attempt))
        )
        return [
            Attempt(
                delivery_id=row.delivery_id,
                attempt=row.attempt,
                attempted_at=row.attempted_at,
                outcome=row.outcome,
                status_code=row.status_code,
                error=row.error,
            )
            for row in (await self._session.exec(statement)).all()
        ]

    async def newest_sequence(self, work_order_id: str) -> int:
        """The highest event sequence of the work order any delivery was made for."""
        newest = await self._session.scalar(
            select(sa.func.max(DeliveryRow.sequence)).where(
                DeliveryRow.work_order_id == work_order_id
            )
        )
        return int(newest or 0)

    async def listed(
        self,
        *,
        status: DeliveryStatus | None,
        recipient_id: str | None,
        limit: int,
        districts: Sequence[str] | None = None,
    ) -> list[Delivery]:
        statement = select(DeliveryRow)
        if districts is not None:
            statement = statement.where(col(DeliveryRow.district).in_(list(districts)))
        if status is not None:
            statement = statement.where(DeliveryRow.status == status.value)
        if recipient_id is not None:
            statement = statement.where(DeliveryRow.recipient_id == recipient_id)
        statement = statement.order_by(
            col(DeliveryRow.created_at).desc(), col(DeliveryRow.id).desc()
        ).limit(limit)
        return [_delivery(row) for row in (await self._session.exec(statement)).all()]


def _delivery(row: DeliveryRow) -> Delivery:
    return Delivery(
        id=row.id,
        event_id=row.event_id,
        recipient_id=row.recipient_id,
        audience=row.audience,
        district=row.district,
        channel=row.channel,
        template=row.template,
        payload=json.loads(row.payload),
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        report_id=row.report_id,
        work_order_id=row.work_order_id,
        last_error=row.last_error,
        critical=row.critical,
        sequence=row.sequence,
    )


WEBHOOKS: sa.Table = WebhookRow.__table__  # type: ignore[attr-defined]
_WEBHOOKS_OF_DISTRICT = sa.select(WEBHOOKS).where(WEBHOOKS.c.district == sa.bindparam("district"))


class WebhookRepository:
    """A district's webhooks are read once per unit of work: a batch of events asks for them
    once per message, and the answer does not change inside the transaction unless it is
    changed here."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._of_district: dict[str, dict[str, Webhook]] = {}

    async def get(self, district: str, audience: str) -> Webhook | None:
        webhooks = self._of_district.get(district)
        if webhooks is None:
            connection = await self._session.connection()
            rows = await connection.execute(_WEBHOOKS_OF_DISTRICT, {"district": district})
            webhooks = {row.audience: _webhook(row) for row in rows}
            self._of_district[district] = webhooks
        return webhooks.get(audience)

    async def put(self, webhook: Webhook, at: datetime) -> None:
        self._of_district.pop(webhook.district, None)
        row = await self._session.get(WebhookRow, (webhook.district, webhook.audience))
        if row is None:
            row = WebhookRow(
                district=webhook.district,
                audience=webhook.audience,
                url=webhook.url,
                secret=webhook.secret,
                previous_secret=webhook.previous_secret,
                updated_at=at,
            )
        else:
            row.url = webhook.url
            row.secret = webhook.secret
            row.previous_secret = webhook.previous_secret
            row.updated_at = at
        self._session.add(row)
        await self._session.flush()

    async def delete(self, district: str, audience: str) -> bool:
        self._of_district.pop(district, None)
        row = await self._session.get(WebhookRow, (district, audience))
        if row is None:
            return False
        await self._session.delete(row)
        return True

    async def all(self) -> list[Webhook]:
        statement = select(WebhookRow).order_by(col(WebhookRow.district), col(WebhookRow.audience))
        return [_webhook(row) for row in (await self._session.exec(statement)).all()]


def _webhook(row: WebhookRow | sa.Row[Any]) -> Webhook:
    return Webhook(
        district=row.district,
        audience=row.audience,
        url=row.url,
        secret=row.secret,
        previous_secret=row.previous_secret,
    )
