"""Writing events into the outbox inside the business transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from common.contracts.base import EventData
from common.contracts.envelope import CloudEvent
from common.logging import current_correlation_id, new_correlation_id
from common.messaging.ports import EventMeta


class OutboxWriter:
    """Collects the events of one transaction and writes them to the outbox in one statement
    just before it commits (:meth:`flush`); the relay publishes them only once the
    transaction has committed."""

    def __init__(
        self,
        session: AsyncSession,
        table: sa.Table,
        *,
        service: str,
        district: str,
    ) -> None:
        """``district``: the events' district unless the event added or its cause names one."""
        self._session = session
        self._table = table
        self._service = service
        self._district = district
        self._causation: EventMeta | None = None
        self._rows: list[dict[str, Any]] = []
        self.pending: list[CloudEvent] = []

    def caused_by(self, event: EventMeta | None) -> None:
        """Events added from now on carry ``event``'s correlation id and name it as cause."""
        self._causation = event

    async def add(
        self, data: EventData, *, subject: str, sequence: int, district: str | None = None
    ) -> CloudEvent:
        cause = self._causation
        correlation = cause.correlationid if cause else current_correlation_id()
        district = district or (cause.district if cause else self._district)
        event = CloudEvent(
            type=data.event_type,
            source=f"/gridloop/{district}/{self._service}",
            subject=subject,
            district=district,
            correlationid=correlation or new_correlation_id(),
            causationid=cause.id if cause else None,
            sequence=sequence,
            data=data.model_dump(mode="json"),
        )
        self._rows.append(
            {
                "event_id": event.id,
                "topic": data.topic.value,
                "message_key": subject,
                "event_type": event.type,
                "payload": event.to_bytes(),
                "created_at": datetime.now(UTC),
            }
        )
        self.pending.append(event)
        return event

    def mark(self) -> int:
        """Where the buffer stands now (for a savepoint)."""
        return len(self._rows)

    def discard_after(self, mark: int) -> None:
        """Forget the events added since ``mark`` (their savepoint was rolled back)."""
        del self._rows[mark:]
        del self.pending[mark:]

    async def flush(self) -> None:
        if self._rows:
            rows, self._rows = self._rows, []
            await self._session.exec(self._table.insert(), params=rows)
