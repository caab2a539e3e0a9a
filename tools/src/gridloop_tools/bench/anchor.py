"""The PostgreSQL anchor: what the database server alone does with the smallest write of the
loop, so the loop's throughput can be read against it.

Reporting's ``POST /v1/reports`` commits one report row and one outbox row in a transaction.
The anchor does just that — the same two tables, created from reporting's own table
definitions in a scratch database — in a tight loop on 1 and on 8 connections (asyncpg,
prepared statements, no ORM, no HTTP, no broker) and counts committed transactions a second.
The ratio loops/s ÷ anchor tx/s (8 connections) then says how much of what the database
could commit the whole loop reaches.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from reporting.adapters.tables import MESSAGING

__all__ = ["AnchorResult", "run_anchor"]

CONNECTIONS = (1, 8)

_INSERT_REPORT = """
INSERT INTO reports (id, reporter_id, district, category, category_name, lat, lon, text,
                     status, last_sequence, submitted_at, updated_at)
VALUES ($1, $2, '370812', '0101', '楼道杂物堆放', 35.55, 116.83, '楼道杂物堆放，影响通行',
        'submitted', 0, $3, $3)
"""
_INSERT_OUTBOX = """
INSERT INTO outbox (event_id, topic, message_key, event_type, payload, created_at)
VALUES ($1, 'gridloop.reports.v1', $2, 'gridloop.report.submitted', $3, $4)
"""


@dataclass(frozen=True)
class AnchorResult:
    seconds: float
    tx_per_second: Mapping[int, float]
    """Connections → committed transactions a second."""


async def run_anchor(database_url: str, seconds: float) -> AnchorResult:
    """Create the two tables in the (empty, scratch) database at ``database_url`` and run the
    loop for ``seconds`` on each number of :data:`CONNECTIONS`."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            tables = [MESSAGING.outbox.metadata.tables["reports"], MESSAGING.outbox]
            await connection.run_sync(
                lambda sync: MESSAGING.outbox.metadata.create_all(sync, tables=tables)
            )
    finally:
        await engine.dispose()
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    rates = {n: await _loop(dsn, n, seconds) for n in CONNECTIONS}
    return AnchorResult(seconds, rates)


async def _loop(dsn: str, connections: int, seconds: float) -> float:
    pool = [await asyncpg.connect(dsn) for _ in range(connections)]
    try:
        until = time.perf_counter() + seconds
        started = time.perf_counter()
        counts = await asyncio.gather(*(_writer(connection, until) for connection in pool))
        return sum(counts) / (time.perf_counter() - started)
    finally:
        await asyncio.gather(*(connection.close() for connection in pool))


async def _writer(connection: asyncpg.Connection, until: float) -> int:
    report = await connection.prepare(_INSERT_REPORT)
    outbox = await connection.prepare(_INSERT_OUTBOX)
    committed = 0
    while time.perf_counter() < until:
        report_id = f"rep-{uuid.uuid4().hex[:20]}"
        now = datetime.now(UTC)
        async with connection.transaction():
            await report.fetch(report_id, f"anchor-{committed % 300}", now)
            await outbox.fetch(str(uuid.uuid4()), report_id, _payload(report_id, now), now)
        committed += 1
    return committed


def _payload(report_id: str, at: datetime) -> bytes:
    """About the size of a real ``gridloop.report.submitted`` CloudEvent."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "type": "gridloop.report.submitted",
            "source": "/gridloop/reporting",
            "subject": report_id,
            "time": at.isoformat(),
            "datacontenttype": "application/json",
            "district": "370812",
            "correlationid": uuid.uuid4().hex,
            "sequence": 1,
            "data": {
                "report_id": report_id,
                "reporter_id": "anchor",
                "category": "0101",
                "lat": 35.55,
                "lon": 116.83,
                "text": "楼道杂物堆放，影响通行",
                "submitted_at": at.isoformat(),
                "reporter_districts": ["370812"],
            },
        },
        ensure_ascii=False,
    ).encode()
