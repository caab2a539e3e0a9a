"""The records of photos and of the photos each report references, in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from reporting.adapters.tables import PhotoRow, ReportPhotoRow, ReportRow
from reporting.domain.photos import Photo, Referrer

PHOTOS: sa.Table = PhotoRow.__table__  # type: ignore[attr-defined]
REPORT_PHOTOS: sa.Table = ReportPhotoRow.__table__  # type: ignore[attr-defined]
REPORTS: sa.Table = ReportRow.__table__  # type: ignore[attr-defined]


def _photo(row: sa.Row[Any]) -> Photo:
    return Photo(**row._mapping)


class PhotoRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _rows(self, statement: sa.Select[Any]) -> Sequence[sa.Row[Any]]:
        connection = await self._session.connection()
        return (await connection.execute(statement)).all()

    async def add(self, photo: Photo) -> None:
        connection = await self._session.connection()
        await connection.execute(PHOTOS.insert(), asdict(photo))

    async def get(self, photo_id: str) -> Photo | None:
        rows = await self._rows(sa.select(PHOTOS).where(PHOTOS.c.id == photo_id))
        return _photo(rows[0]) if rows else None

    async def get_many(self, photo_ids: Sequence[str]) -> dict[str, Photo]:
        if not photo_ids:
            return {}
        rows = await self._rows(sa.select(PHOTOS).where(PHOTOS.c.id.in_(list(photo_ids))))
        return {row.id: _photo(row) for row in rows}

    async def by_uploader_and_hash(self, uploader_id: str, content_hash: str) -> Photo | None:
        rows = await self._rows(
            sa.select(PHOTOS).where(
                PHOTOS.c.uploader_id == uploader_id, PHOTOS.c.content_hash == content_hash
            )
        )
        return _photo(rows[0]) if rows else None

    async def attach(self, report_id: str, photo_ids: Sequence[str]) -> None:
        if not photo_ids:
            return
        connection = await self._session.connection()
        insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
        await connection.execute(
            insert(REPORT_PHOTOS).on_conflict_do_nothing(
                index_elements=[REPORT_PHOTOS.c.report_id, REPORT_PHOTOS.c.photo_id]
            ),
            [
                {"report_id": report_id, "photo_id": photo_id, "position": position}
                for position, photo_id in enumerate(photo_ids)
            ],
        )

    async def referrers(self, photo_id: str) -> list[Referrer]:
        statement = (
            sa.select(REPORTS.c.reporter_id, REPORTS.c.district, REPORTS.c.grid_id)
            .join(REPORT_PHOTOS, REPORT_PHOTOS.c.report_id == REPORTS.c.id)
            .where(REPORT_PHOTOS.c.photo_id == photo_id)
        )
        return [
            Referrer(row.reporter_id, row.district, row.grid_id)
            for row in await self._rows(statement)
        ]
