from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import newest_first
from common.paging import SortKey
from reporting.adapters.tables import (
    CatalogueRow,
    IdempotencyRow,
    ReporterRequestRow,
    ReporterRow,
    ReportRow,
    TimelineRow,
)
from reporting.domain.catalogues import Catalogue, CatalogueEntry
from reporting.domain.limits import EarlierReport
from reporting.domain.photos import PhotoReference
from reporting.domain.progress import TimelineEntry
from reporting.domain.reporter_requests import ReporterRequest, RequestAction
from reporting.domain.reports import Report, ReportStatus

REPORTS: sa.Table = ReportRow.__table__  # type: ignore[attr-defined]
IDEMPOTENCY_KEYS: sa.Table = IdempotencyRow.__table__  # type: ignore[attr-defined]
TIMELINE: sa.Table = TimelineRow.__table__  # type: ignore[attr-defined]
REPORTERS: sa.Table = ReporterRow.__table__  # type: ignore[attr-defined]
CATALOGUES: sa.Table = CatalogueRow.__table__  # type: ignore[attr-defined]


async def _rows(
    session: AsyncSession, statement: sa.Select[Any], values: dict[str, Any] | None = None
) -> Sequence[sa.Row[Any]]:
    """The rows of a SQL statement, in the session's transaction."""
    connection = await session.connection()
    return (await connection.execute(statement, values)).all()


async def _write(session: AsyncSession, statement: sa.Executable, values: dict[str, Any]) -> int:
    """Run an INSERT or UPDATE in the session's transaction with ``values`` as its parameters;
    the rows it touched. The values go with the execution, not into the statement: a statement
    built with literal values costs several times more CPU to run (SQLAlchemy derives its cache
    key from every value anew)."""
    connection = await session.connection()
    return (await connection.execute(statement, values)).rowcount


# The statements of every submission and every projected event, built once.
_INSERT_REPORT = REPORTS.insert()
_INSERT_TIMELINE = TIMELINE.insert()
_INSERT_IDEMPOTENCY_KEY = IDEMPOTENCY_KEYS.insert()
_UPDATE_REPORT = REPORTS.update().where(REPORTS.c.id == sa.bindparam("report_id"))
_REPORT = sa.select(REPORTS).where(REPORTS.c.id == sa.bindparam("report_id"))
_FOLLOWING = (
    sa.select(REPORTS)
    .where(
        sa.or_(
            REPORTS.c.work_order_id == sa.bindparam("work_order_id"),
            REPORTS.c.id == sa.bindparam("report_id"),
        )
    )
    .order_by(REPORTS.c.submitted_at, REPORTS.c.id)
)
_REPORT_LOCKED = _REPORT.with_for_update()
_FOLLOWING_LOCKED = _FOLLOWING.with_for_update()
_IDEMPOTENCY_KEY = sa.select(IDEMPOTENCY_KEYS.c.fingerprint, IDEMPOTENCY_KEYS.c.report_id).where(
    IDEMPOTENCY_KEYS.c.reporter_id == sa.bindparam("reporter_id"),
    IDEMPOTENCY_KEYS.c.key == sa.bindparam("key"),
)


_RECENT_OF_REPORTER = sa.select(
    REPORTS.c.id,
    REPORTS.c.category,
    REPORTS.c.lat,
    REPORTS.c.lon,
    REPORTS.c.submitted_at,
    REPORTS.c.status,
).where(
    REPORTS.c.reporter_id == sa.bindparam("reporter_id"),
    REPORTS.c.submitted_at > sa.bindparam("since"),
)


@functools.cache
def _hold_reporter(dialect: str) -> sa.Insert:
    """Insert the reporter's row or, if it is there, update it: either way the row stays
    locked until the transaction ends (SQLite's writers take turns anyway)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(REPORTERS).values(
        reporter_id=sa.bindparam("reporter_id"), last_submitted_at=sa.bindparam("at")
    )
    return statement.on_conflict_do_update(
        index_elements=[REPORTERS.c.reporter_id],
        set_={"last_submitted_at": statement.excluded.last_submitted_at},
    )


def _report(row: sa.Row[Any]) -> Report:
    values = dict(row._mapping)
    values["status"] = ReportStatus(values["status"])
    values["photos"] = tuple(PhotoReference(**photo) for photo in values["photos"] or ())
    return Report(**values)


class ReportRepository:
    """Reports read and written with SQL statements, not ORM objects: the submission and the
    projection of every work-order event go through here."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, report: Report) -> None:
        await _write(self._session, _INSERT_REPORT, asdict(report))

    async def get(self, report_id: str, *, for_update: bool = False) -> Report | None:
        statement = _REPORT_LOCKED if for_update else _REPORT
        rows = await _rows(self._session, statement, {"report_id": report_id})
        return _report(rows[0]) if rows else None

    async def following(
        self, work_order_id: str, or_report_id: str | None = None, *, for_update: bool = False
    ) -> list[Report]:
        """The reports that follow the work order, in the order they were submitted, and the
        report ``or_report_id`` whether it follows it yet or not (the order's own report, before
        the order's first event reached it): one statement."""
        statement = _FOLLOWING_LOCKED if for_update else _FOLLOWING
        values = {"work_order_id": work_order_id, "report_id": or_report_id}
        return [_report(row) for row in await _rows(self._session, statement, values)]

    async def save(self, report: Report) -> None:
        values = asdict(report)
        values["report_id"] = values.pop("id")
        if not await _write(self._session, _UPDATE_REPORT, values):
            raise LookupError(report.id)

    async def recent_of(self, reporter_id: str, *, since: datetime) -> list[EarlierReport]:
        values = {"reporter_id": reporter_id, "since": since}
        rows = await _rows(self._session, _RECENT_OF_REPORTER, values)
        return [EarlierReport(**row._mapping) for row in rows]

    async def list_by_reporter(
        self,
        reporter_id: str,
        *,
        limit: int,
        after: SortKey | None,
        statuses: Sequence[ReportStatus] = (),
    ) -> list[Report]:
        mine = sa.select(REPORTS).where(REPORTS.c.reporter_id == reporter_id)
        if statuses:
            mine = mine.where(REPORTS.c.status.in_([status.value for status in statuses]))
        statement = newest_first(
            mine,
            at=REPORTS.c.submitted_at,
            id_=REPORTS.c.id,
            after=after,
            limit=limit,
        )
        return [_report(row) for row in await _rows(self._session, statement)]


class ReporterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def hold(self, reporter_id: str, at: datetime) -> None:
        connection = await self._session.connection()
        statement = _hold_reporter(connection.dialect.name)
        await connection.execute(statement, {"reporter_id": reporter_id, "at": at})


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find(self, reporter_id: str, key: str) -> tuple[str, str] | None:
        rows = await _rows(
            self._session, _IDEMPOTENCY_KEY, {"reporter_id": reporter_id, "key": key}
        )
        return (rows[0].fingerprint, rows[0].report_id) if rows else None

    async def remember(self, reporter_id: str, key: str, fingerprint: str, report_id: str) -> None:
        await _write(
            self._session,
            _INSERT_IDEMPOTENCY_KEY,
            {
                "reporter_id": reporter_id,
                "key": key,
                "fingerprint": fingerprint,
                "report_id": report_id,
                "created_at": datetime.now(UTC),
            },
        )


@functools.cache
def _add_timeline_once(dialect: str) -> sa.Insert:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(TIMELINE).on_conflict_do_nothing(
        index_elements=[TIMELINE.c.report_id, TIMELINE.c.key]
    )


def _timeline_row(entry: TimelineEntry) -> dict[str, Any]:
    return {**asdict(entry), "photos": list(entry.photos) or None}


def _timeline_entry(row: sa.Row[Any]) -> TimelineEntry:
    values = dict(row._mapping)
    values["photos"] = tuple(values["photos"] or ())
    return TimelineEntry(**values)


class TimelineRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, entry: TimelineEntry) -> None:
        await _write(self._session, _INSERT_TIMELINE, _timeline_row(entry))

    async def add_once(self, entry: TimelineEntry) -> bool:
        connection = await self._session.connection()
        statement = _add_timeline_once(connection.dialect.name)
        return bool((await connection.execute(statement, _timeline_row(entry))).rowcount)

    async def of_report(self, report_id: str) -> list[TimelineEntry]:
        columns = [column for column in TIMELINE.c if column.name != "id"]
        statement = (
            sa.select(*columns).where(TIMELINE.c.report_id == report_id).order_by(TIMELINE.c.id)
        )
        return [_timeline_entry(row) for row in await _rows(self._session, statement)]


_CATALOGUE_VERSIONS = sa.select(
    CATALOGUES.c.district, CATALOGUES.c.revision, CATALOGUES.c.received_at
)
_CATALOGUE_VERSIONS_OF = _CATALOGUE_VERSIONS.where(
    CATALOGUES.c.district.in_(sa.bindparam("districts", expanding=True))
)
_CATALOGUES_OF = sa.select(CATALOGUES).where(
    CATALOGUES.c.district.in_(sa.bindparam("districts", expanding=True))
)

CatalogueVersion = tuple[str, int, datetime]


def _version_key(row: sa.Row[Any]) -> CatalogueVersion:
    return (row.district, row.revision, row.received_at)


class ParsedCatalogues:
    """Catalogues as parsed from their rows, by district, revision and the moment this
    database stored them: a key names one stored document, whichever database of the process
    it is in, so an entry is never stale — a new revision is a new key. Bounded: the oldest
    entry goes first."""

    def __init__(self, capacity: int = 64) -> None:
        self._capacity = capacity
        self._parsed: dict[CatalogueVersion, Catalogue] = {}

    def get(self, key: CatalogueVersion) -> Catalogue | None:
        return self._parsed.get(key)

    def put(self, key: CatalogueVersion, catalogue: Catalogue) -> Catalogue:
        if len(self._parsed) >= self._capacity:
            del self._parsed[next(iter(self._parsed))]
        self._parsed[key] = catalogue
        return catalogue


_PARSED_CATALOGUES = ParsedCatalogues()


def _catalogue(row: CatalogueRow | sa.Row[Any]) -> Catalogue:
    return Catalogue(
        district=row.district,
        district_name=row.district_name,
        revision=row.revision,
        published_at=row.published_at,
        entries=tuple(CatalogueEntry.of(entry) for entry in row.categories),
    )


class CatalogueRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, district: str, *, for_update: bool = False) -> Catalogue | None:
        statement = select(CatalogueRow).where(CatalogueRow.district == district)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._session.exec(statement)).first()
        return _catalogue(row) if row else None

    async def of_districts(self, districts: Sequence[str] | None) -> dict[str, Catalogue]:
        """The catalogues of ``districts`` (every district's if None), by district. Each
        submission asks: the stored revisions are read, and only a catalogue not parsed before
        is read whole (its categories are a JSON document of a few hundred entries)."""
        if districts is None:
            versions = await _rows(self._session, _CATALOGUE_VERSIONS)
        else:
            values = {"districts": list(districts)}
            versions = await _rows(self._session, _CATALOGUE_VERSIONS_OF, values)
        found: dict[str, Catalogue] = {}
        unparsed: list[str] = []
        for version in versions:
            catalogue = _PARSED_CATALOGUES.get(_version_key(version))
            if catalogue is None:
                unparsed.append(version.district)
            else:
                found[version.district] = catalogue
        if unparsed:
            values = {"districts": unparsed}
            for row in await _rows(self._session, _CATALOGUES_OF, values):
                found[row.district] = _PARSED_CATALOGUES.put(_version_key(row), _catalogue(row))
        return dict(sorted(found.items()))

    async def put(self, catalogue: Catalogue) -> None:
        values: dict[str, Any] = {
            "district_name": catalogue.district_name,
            "revision": catalogue.revision,
            "categories": [asdict(entry) for entry in catalogue.entries],
            "published_at": catalogue.published_at,
            "received_at": datetime.now(UTC),
        }
        row = await self._session.get(CatalogueRow, catalogue.district)
        if row is None:
            row = CatalogueRow(district=catalogue.district, **values)
        else:
            for name, value in values.items():
                setattr(row, name, value)
        self._session.add(row)


def _request(row: ReporterRequestRow) -> ReporterRequest:
    values = row.model_dump()
    values["action"] = RequestAction(row.action)
    return ReporterRequest(**values)


class ReporterRequestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, request: ReporterRequest) -> None:
        self._session.add(ReporterRequestRow(**asdict(request)))

    async def of_report(self, report_id: str) -> list[ReporterRequest]:
        statement = (
            select(ReporterRequestRow)
            .where(ReporterRequestRow.report_id == report_id)
            .order_by(col(ReporterRequestRow.requested_at))
        )
        return [_request(row) for row in (await self._session.exec(statement)).all()]

    async def by_key(self, reporter_id: str, key: str) -> ReporterRequest | None:
        statement = select(ReporterRequestRow).where(
            ReporterRequestRow.reporter_id == reporter_id,
            ReporterRequestRow.idempotency_key == key,
        )
        row = (await self._session.exec(statement)).first()
        return _request(row) if row else None
