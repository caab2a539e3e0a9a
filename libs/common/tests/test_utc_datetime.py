"""Times go into every service database as UTC and come back timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from common.db import UtcDateTime, create_engine

METADATA = sa.MetaData()
MOMENTS = sa.Table("moments", METADATA, sa.Column("at", UtcDateTime(), nullable=True))


async def test_an_offset_time_reads_back_as_the_same_instant_in_utc(database_url: str) -> None:
    engine = create_engine(database_url)
    shanghai_midnight = datetime(2026, 11, 24, 0, 0, tzinfo=timezone(timedelta(hours=8)))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(METADATA.drop_all)
            await connection.run_sync(METADATA.create_all)
            await connection.execute(MOMENTS.insert().values(at=shanghai_midnight))
            stored = await connection.scalar(sa.select(MOMENTS.c.at))
            with pytest.raises(StatementError, match="without a timezone"):
                await connection.execute(MOMENTS.insert().values(at=datetime(2026, 1, 1)))
            await connection.run_sync(METADATA.drop_all)
    finally:
        await engine.dispose()
    assert stored == shanghai_midnight
    assert stored.tzinfo is UTC or stored.utcoffset() == timedelta(0)
    assert (stored.hour, stored.day) == (16, 23)
