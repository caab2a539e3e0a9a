"""Writing events into the outbox inside the business transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from common.contracts.envelope import CloudEvent
from common.contracts.events import EventData
from common.logging import current_correlation_id, new_correlation_id


class OutboxWriter:
    """Adds events to the outbox through the unit of work's session; they are published by
    the relay only once the transaction has committed."""

    def __init__(
        self,
        session: AsyncSession,
        table: sa.Table,
        *,
        source: str,
        district: str,
        causation: CloudEvent | None = None,
    ) -> None:
        self._session = session
        self._table = table
        self._source = source
        self._district = district
        self._causation = causation
        self.pending: list[CloudEvent] = []

    def caused_by(self, event: CloudEvent) -> None:
        """Events added from now on carry ``event``'s correlation id and name it as cause."""
        self._causation = event

    async def add(self, data: EventData, *, subject: str, sequence: int) -> CloudEvent:
        correlation = (
            self._causation.correlationid
            if self._causation
            else current_correlation_id() or new_correlation_id()
        )
        event = CloudEvent(
            type=data.event_type,
            source=self._source,
            subject=subject,
            district=self._district,
            correlationid=correlation,
            causationid=self._causation.id if self._causation else None,
            sequence=sequence,
            data=data.model_dump(mode="json"),
        )
        await self._session.exec(
            self._table.insert().values(
                event_id=event.id,
                topic=data.topic.value,
                message_key=subject,
                event_type=event.type,
                payload=event.to_bytes(),
                created_at=datetime.now(UTC),
            )
        )
        self.pending.append(event)
        return event
