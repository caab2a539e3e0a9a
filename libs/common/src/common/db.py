"""Database plumbing: async engines for SQLite and PostgreSQL, per-service table registries,
the outbox and processed-event tables every service carries, and running a service's Alembic
migrations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Mapped, registry
from sqlmodel.ext.asyncio.session import AsyncSession

from common.paging import SortKey

SQLITE_BUSY_TIMEOUT_SECONDS = 30

SelectT = TypeVar("SelectT", bound=sa.Select[Any])


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A moment in time, stored in UTC and always read back timezone-aware.

    SQLite keeps no offset, so without this a stored ``+08:00`` time would come back as naive
    wall time; PostgreSQL's ``timestamptz`` already behaves this way.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a datetime without a timezone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_unavailable(error: BaseException) -> bool:
    """The database or the network is unreachable: a condition of the infrastructure that
    passes (wait and retry), never a property of the request or event being handled."""
    if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error,
        ConnectionError
        | TimeoutError
        | OSError
        | sa.exc.OperationalError
        | sa.exc.InterfaceError
        | sa.exc.DisconnectionError
        | sa.exc.TimeoutError,  # no pooled connection came free in time
    )


def new_registry() -> registry:
    """Each service declares its tables on its own registry, so metadata never mixes."""
    return registry()


POSTGRES_POOL_SIZE = 20
"""Connections per process at most; PostgreSQL's ``max_connections`` must cover 20 × the
processes of all services (4 services × 2 replicas: 160)."""


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


_JSON_CODEC: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}
"""JSON columns (catalogues, photos, timelines, grids) through orjson: several times cheaper
than the standard library's json on every row read or written."""


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine. SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` transactions so
    concurrent writers (HTTP, consumers, relay) queue instead of failing on lock upgrades."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            echo=echo,
            hide_parameters=True,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            **_JSON_CODEC,
        )
        _configure_sqlite(engine)
        return engine
    # No ping before each transaction (a round trip every time): a connection that died while
    # pooled fails its first statement, SQLAlchemy then discards every connection pooled before
    # the failure, and callers retry (consumers) or answer 503 (HTTP). A fixed pool, no
    # overflow: connections are reused, never opened and closed per request under load.
    return create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=0,
        pool_recycle=1800,
        **_JSON_CODEC,
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event drive BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


class MessagingTables(NamedTuple):
    outbox: sa.Table
    """Events waiting to be published, in commit order."""
    processed_events: sa.Table
    """(consumer, event id) of every event a consumer has handled."""
    published_offsets: sa.Table
    """Per (topic, partition), the log end offset the relay's acknowledged records reached."""


def messaging_tables(metadata: sa.MetaData) -> MessagingTables:
    """The messaging tables every service carries, declared on the service's own metadata."""
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("message_key", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("published_at", UtcDateTime(), nullable=True),
    )
    sa.Index(
        "ix_outbox_unpublished",
        outbox.c.position,
        sqlite_where=outbox.c.published_at.is_(None),
        postgresql_where=outbox.c.published_at.is_(None),
    )
    processed_events = sa.Table(
        "processed_events",
        metadata,
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("processed_at", UtcDateTime(), nullable=False),
    )
    published_offsets = sa.Table(
        "outbox_published_offsets",
        metadata,
        sa.Column("topic", sa.String(200), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    return MessagingTables(outbox, processed_events, published_offsets)


MIGRATION_LOCK_KEY = 0x6772_6C70  # "grlp": serialises concurrent replicas running migrations


def migration_config(url: str, migrations_dir: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def upgrade_database(url: str, migrations_dir: Path, revision: str = "head") -> None:
    """Run a service's Alembic migrations up to ``revision`` (blocking; call from a thread)."""
    command.upgrade(migration_config(url, migrations_dir), revision)


async def upgrade_database_async(url: str, migrations_dir: Path, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade_database, url, migrations_dir, revision)


def run_migrations_online() -> None:
    """Body of every service's ``migrations/env.py``: async engine, one advisory-locked run."""
    from alembic import context

    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("sqlalchemy.url is not set for the migration run")

    def do_run(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.configure(
            connection=connection,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=sa.pool.NullPool)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(do_run)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(run())


def newest_first(
    statement: SelectT,
    *,
    at: Mapped[datetime] | sa.ColumnElement[datetime],
    id_: Mapped[str] | sa.ColumnElement[str],
    after: SortKey | None,
    limit: int,
) -> SelectT:
    """One page of a newest-first list: ordered by ``(at, id)`` descending, starting below
    ``after`` (the last item of the previous page), at most ``limit`` rows.

    The keyset condition ``(at, id) < (after.at, after.id)`` is spelled
    ``at <= :at AND (at < :at OR id < :id)``: both SQLite and PostgreSQL read it, the bound
    timestamp passes through the column's type like the stored one did, and an index on
    ``(owner, at, id)`` serves it as a range scan. No OFFSET, so deep pages cost what the first
    one does and no client-supplied number reaches the database.
    """
    if after is not None:
        statement = statement.where(at <= after.at, sa.or_(at < after.at, id_ < after.id))
    return statement.order_by(at.desc(), id_.desc()).limit(limit)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(sa.text("SELECT 1"))


async def wait_until_reachable(
    engine: AsyncEngine,
    on_waiting: Callable[[BaseException, float], None],
    *,
    first_delay: float = 0.5,
    max_delay: float = 15.0,
) -> None:
    """Return once the database answers. While it is out of reach (``is_unavailable``) wait
    with doubling delays, telling ``on_waiting`` each time; any other error is raised. A
    service starting during a database outage waits instead of crashing in a loop."""
    delay = first_delay
    while True:
        try:
            await ping(engine)
            return
        except Exception as error:
            if not is_unavailable(error):
                raise
            on_waiting(error, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)


__all__ = [
    "MessagingTables",
    "UtcDateTime",
    "create_engine",
    "is_unavailable",
    "messaging_tables",
    "migration_config",
    "new_registry",
    "newest_first",
    "ping",
    "run_migrations_online",
    "session_factory",
    "upgrade_database",
    "upgrade_database_async",
    "wait_until_reachable",
]
