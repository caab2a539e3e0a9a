"""Recipients' preferences and quiet hours, and work orders' newest versions."""

from __future__ import annotations

import functools
from datetime import datetime, time

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from notification.adapters.tables import (
    PreferenceRow,
    QuietHoursRow,
    WeChatOpenIdRow,
    WorkOrderVersionRow,
)
from notification.domain.preferences import Preference, QuietHours


class PreferenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def enabled(self, recipient_id: str, kind: str, channel: str) -> bool:
        """True unless the recipient turned this kind off on this channel."""
        row = await self._session.get(PreferenceRow, (recipient_id, kind, channel))
        return row is None or row.enabled

    async def put(self, preference: Preference, at: datetime) -> None:
        key = (preference.recipient_id, preference.kind, preference.channel)
        row = await self._session.get(PreferenceRow, key)
        if row is None:
            row = PreferenceRow(
                recipient_id=preference.recipient_id,
                kind=preference.kind,
                channel=preference.channel,
                enabled=preference.enabled,
                updated_at=at,
            )
        else:
            row.enabled = preference.enabled
            row.updated_at = at
        self._session.add(row)
        await self._session.flush()

    async def of(self, recipient_id: str) -> list[Preference]:
        statement = (
            select(PreferenceRow)
            .where(PreferenceRow.recipient_id == recipient_id)
            .order_by(col(PreferenceRow.kind), col(PreferenceRow.channel))
        )
        return [
            Preference(row.recipient_id, row.kind, row.channel, row.enabled)
            for row in (await self._session.exec(statement)).all()
        ]

    async def quiet_hours(self, recipient_id: str) -> QuietHours | None:
        row = await self._session.get(QuietHoursRow, recipient_id)
        if row is None:
            return None
        return QuietHours(recipient_id, time.fromisoformat(row.start), time.fromisoformat(row.end))

    async def put_quiet_hours(self, quiet: QuietHours, at: datetime) -> None:
        row = await self._session.get(QuietHoursRow, quiet.recipient_id)
        start, end = quiet.start.strftime("%H:%M"), quiet.end.strftime("%H:%M")
        if row is None:
            row = QuietHoursRow(
                recipient_id=quiet.recipient_id, start=start, end=end, updated_at=at
            )
        else:
            row.start, row.end, row.updated_at = start, end, at
        self._session.add(row)
        await self._session.flush()

    async def delete_quiet_hours(self, recipient_id: str) -> bool:
        row = await self._session.get(QuietHoursRow, recipient_id)
        if row is None:
            return False
        await self._session.delete(row)
        return True


WORK_ORDER_VERSIONS: sa.Table = WorkOrderVersionRow.__table__  # type: ignore[attr-defined]


@functools.cache
def _note_version(dialect: str) -> sa.Insert:
    """Insert the work order's version, or raise the stored one to it if it is newer: one
    statement, built once per dialect."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(WORK_ORDER_VERSIONS)
    return statement.on_conflict_do_update(
        index_elements=[WORK_ORDER_VERSIONS.c.work_order_id],
        set_={"sequence": statement.excluded.sequence},
        where=WORK_ORDER_VERSIONS.c.sequence < statement.excluded.sequence,
    )


class WorkOrderVersionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def note(self, work_order_id: str, sequence: int) -> None:
        """Remember ``sequence`` if it is the newest seen of the work order."""
        connection = await self._session.connection()
        await connection.execute(
            _note_version(connection.dialect.name),
            {"work_order_id": work_order_id, "sequence": sequence},
        )

    async def newest(self, work_order_id: str) -> int:
        row = await self._session.get(WorkOrderVersionRow, work_order_id)
        return row.sequence if row else 0


class WeChatOpenIdRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def openid(self, recipient_id: str) -> str | None:
        row = await self._session.get(WeChatOpenIdRow, recipient_id)
        return row.openid if row else None

    async def put(self, recipient_id: str, openid: str, at: datetime) -> None:
        row = await self._session.get(WeChatOpenIdRow, recipient_id)
        if row is None:
            row = WeChatOpenIdRow(recipient_id=recipient_id, openid=openid, updated_at=at)
        else:
            row.openid, row.updated_at = openid, at
        self._session.add(row)
        await self._session.flush()

    async def delete(self, recipient_id: str) -> bool:
        row = await self._session.get(WeChatOpenIdRow, recipient_id)
        if row is None:
            return False
        await self._session.delete(row)
        return True
