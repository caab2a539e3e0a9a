"""The base SQL unit of work: one database transaction holding state, outbox rows and
processed-event rows."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Self

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.messaging.outbox import OutboxWriter
from common.messaging.ports import WriteConflict
from common.messaging.processed_events import ProcessedEvents


class SqlUnitOfWork:
    """Subclass per service and add repositories in :meth:`_open`.

    Leaving the ``async with`` block without :meth:`commit` rolls everything back.
    """

    session: AsyncSession
    outbox: OutboxWriter
    processed_events: ProcessedEvents

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        outbox_table: sa.Table,
        processed_events_table: sa.Table,
        service: str,
        district: str,
        on_events_committed: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbox_table = outbox_table
        self._processed_events_table = processed_events_table
        self._service = service
        self._district = district
        self._on_events_committed = on_events_committed

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self.outbox = OutboxWriter(
            self.session, self._outbox_table, service=self._service, district=self._district
        )
        self.processed_events = ProcessedEvents(self.session, self._processed_events_table)
        self._after_commit: list[Callable[[], None]] = []
        self._open()
        return self

    def _open(self) -> None:
        """Hook for subclasses: build repositories on ``self.session``."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()
        if isinstance(exc, IntegrityError):
            # A unique key written concurrently (at flush or at commit): callers may re-read.
            raise WriteConflict(str(exc.orig)) from exc

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this transaction has committed (e.g. count a metric), so a
        retried attempt is never counted twice."""
        self._after_commit.append(callback)

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of the transaction that rolls back alone if its block raises: database
        changes, queued events and after-commit callbacks alike."""
        events_mark = self.outbox.mark()
        callbacks_mark = len(self._after_commit)
        try:
            async with self.session.begin_nested():
                yield
        except BaseException:
            self.outbox.discard_after(events_mark)
            del self._after_commit[callbacks_mark:]
            raise

    async def commit(self) -> None:
        await self.outbox.flush()
        await self.session.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()
        if self.outbox.pending and self._on_events_committed is not None:
            self._on_events_committed()
        self.outbox.pending = []

    async def rollback(self) -> None:
        await self.session.rollback()
