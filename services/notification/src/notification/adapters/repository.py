from __future__ import annotations

import functools
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import newest_first
from common.paging import SortKey
from notification.adapters.tables import NotificationRow
from notification.domain.messages import Message, StoredNotification

NOTIFICATIONS: sa.Table = NotificationRow.__table__  # type: ignore[attr-defined]


@functools.cache
def _insert_unless_there(dialect: str) -> sa.Insert:
    """Built once per dialect; the values go with each execution (several times cheaper to run
    than a statement built with literal values)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(NOTIFICATIONS).on_conflict_do_nothing()


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, notification_id: str, event_id: str, message: Message, at: datetime
    ) -> bool:
        """Store the message unless one with this id (event, recipient, channel, template) is
        there already; False then, and nothing changes."""
        connection = await self._session.connection()
        result = await connection.execute(
            _insert_unless_there(connection.dialect.name),
            {
                "id": notification_id,
                "event_id": event_id,
                "recipient_id": message.recipient_id,
                "channel": message.channel.value,
                "template": message.template.value,
                "title": message.title,
                "body": message.body,
                "report_id": message.report_id,
                "work_order_id": message.work_order_id,
                "created_at": at,
            },
        )
        return bool(result.rowcount)

    async def inbox(
        self, recipient_id: str, *, limit: int, after: SortKey | None, unread: bool = False
    ) -> list[StoredNotification]:
        mine = select(NotificationRow).where(NotificationRow.recipient_id == recipient_id)
        if unread:
            mine = mine.where(col(NotificationRow.read_at).is_(None))
        statement = newest_first(
            mine,
            at=col(NotificationRow.created_at),
            id_=col(NotificationRow.id),
            after=after,
            limit=limit,
        )
        rows = (await self._session.exec(statement)).all()
        return [_stored(row) for row in rows]

    async def mark_read(
        self, recipient_id: str, notification_id: str, at: datetime
    ) -> StoredNotification | None:
        row = await self._session.get(NotificationRow, notification_id)
        if row is None or row.recipient_id != recipient_id:
            return None
        if row.read_at is None:
            row.read_at = at
            self._session.add(row)
            await self._session.flush()
        return _stored(row)

    async def mark_all_read(self, recipient_id: str, at: datetime) -> int:
        result = await self._session.exec(
            sa.update(NotificationRow)
            .where(
                col(NotificationRow.recipient_id) == recipient_id,
                col(NotificationRow.read_at).is_(None),
            )
            .values(read_at=at)
        )
        return int(result.rowcount)

    async def unread_count(self, recipient_id: str) -> int:
        count = await self._session.scalar(
            select(sa.func.count())
            .select_from(NotificationRow)
            .where(
                col(NotificationRow.recipient_id) == recipient_id,
                col(NotificationRow.read_at).is_(None),
            )
        )
        return int(count or 0)


def _stored(row: NotificationRow) -> StoredNotification:
    return StoredNotification(
        id=row.id,
        recipient_id=row.recipient_id,
        channel=row.channel,
        template=row.template,
        title=row.title,
        body=row.body,
        report_id=row.report_id,
        work_order_id=row.work_order_id,
        created_at=row.created_at,
        read_at=row.read_at,
    )
