"""One active worker per database among a service's replicas (the outbox relay, the
escalation scanner): on PostgreSQL the leader holds a session-level advisory lock on a
dedicated connection, and the others stand by until that connection dies; SQLite is a
single-process database, so its one process always leads."""

from __future__ import annotations

import time
import zlib

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_log = structlog.get_logger("gridloop.leadership")


class Leadership:
    def __init__(self, engine: AsyncEngine, lock_name: str, *, recheck_after: float = 1.0) -> None:
        """``lock_name`` names the advisory lock (its CRC-32 is the key): every replica of a
        release, and of the releases before it, must use the same name. A lock held is checked
        (its connection still alive) at most every ``recheck_after`` seconds; in between, any
        statement of the leader that fails makes the relay let go of the lead."""
        self._engine = engine
        self._name = lock_name
        self._key = zlib.crc32(lock_name.encode())
        self._connection: AsyncConnection | None = None
        self._recheck_after = recheck_after
        self._checked_at = 0.0

    @property
    def held(self) -> bool:
        return self._engine.dialect.name != "postgresql" or self._connection is not None

    async def ensure(self) -> bool:
        """True while this process leads; tries to take the lead if nobody holds it."""
        if self._engine.dialect.name != "postgresql":
            return True
        if self._connection is not None:
            if time.monotonic() - self._checked_at < self._recheck_after:
                return True
            try:
                await self._connection.execute(sa.text("SELECT 1"))
                await self._connection.commit()
                self._checked_at = time.monotonic()
                return True
            except Exception:
                _log.warning("leadership.lost", name=self._name)
                await self.release()
        connection = await self._engine.connect()
        acquired = (
            await connection.execute(
                sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
            )
        ).scalar_one()
        await connection.commit()
        if not acquired:
            await connection.close()
            return False
        self._connection = connection
        self._checked_at = time.monotonic()
        _log.info("leadership.acquired", name=self._name)
        return True

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        # The lock belongs to the database session, and a pooled connection outlives
        # close(): unlock explicitly, then discard the connection so nothing keeps it.
        try:
            await connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
            await connection.commit()
        except Exception:
            _log.warning("leadership.unlock_failed", name=self._name)
        try:
            await connection.invalidate()
            await connection.close()
        except Exception:
            _log.warning("leadership.close_failed", name=self._name)
