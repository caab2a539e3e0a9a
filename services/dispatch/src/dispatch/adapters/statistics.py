"""The 综合评价 counts and the open-order levels as SQL aggregates (GROUP BY district, or GROUP
BY grid for a district's map), on SQLite and PostgreSQL alike; no order is loaded into
Python."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

from dispatch.adapters.tables import (
    RejectedReportRow,
    WorkOrderHistoryRow,
    WorkOrderReportRow,
    WorkOrderRow,
)
from dispatch.domain.statistics import (
    CLOSED_STATES,
    SATISFIED_FROM,
    TIMED_STATES,
    GridWorkload,
    OpenOrders,
    Period,
    Tally,
)
from dispatch.domain.triage import RejectionCode
from dispatch.domain.work_orders import OPEN_STATES, Action, WorkOrderState
from dispatch.service_layer.statistics import StatsScope

ORDERS: sa.Table = WorkOrderRow.__table__  # type: ignore[attr-defined]
HISTORY: sa.Table = WorkOrderHistoryRow.__table__  # type: ignore[attr-defined]
MERGED: sa.Table = WorkOrderReportRow.__table__  # type: ignore[attr-defined]
REJECTED: sa.Table = RejectedReportRow.__table__  # type: ignore[attr-defined]

FILED = WorkOrderState.FILED.value


class seconds_between(sa.sql.functions.FunctionElement[float]):
    """``seconds_between(later, earlier)``: the seconds from ``earlier`` to ``later``."""

    type = sa.Float()
    inherit_cache = True


@compiles(seconds_between)
def _seconds_between(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _in(column: sa.ColumnElement[Any], period: Period) -> ColumnElement[bool]:
    return sa.and_(column >= period.start, column < period.end)


def _states(states: frozenset[WorkOrderState]) -> list[str]:
    return sorted(s.value for s in states)


def _scope(scope: StatsScope) -> list[ColumnElement[bool]]:
    o = ORDERS.c
    where: list[ColumnElement[bool]] = [o.district.in_(list(scope.districts))]
    if scope.street is not None:
        where.append(o.street == scope.street)
    if scope.grid_id is not None:
        where.append(o.grid_id == scope.grid_id)
    if scope.department is not None:
        where += [o.assignee_kind == "department", o.assignee_id == scope.department]
    return where


def _overdue_at(now: datetime) -> ColumnElement[bool]:
    """An open order is overdue when its clock runs and its handling deadline has passed."""
    o = ORDERS.c
    return sa.and_(o.status.in_(_states(TIMED_STATES)), o.handle_due < now)


def _first(action: ColumnElement[bool]) -> ColumnElement[Any]:
    return sa.func.min(sa.case((action, HISTORY.c.at)))


def _cohort(scope: StatsScope, period: Period, cutoff: datetime) -> sa.Select[Any]:
    """One row per district over the orders that entered ``filed`` in the period."""
    o, h = ORDERS.c, HISTORY.c
    lives = (
        sa.select(
            o.district,
            o.status,
            o.handle_due,
            o.closed_at,
            o.rework_count,
            o.rating,
            _first(h.to_status == FILED).label("filed_at"),
            _first(h.action == Action.DISPATCH.value).label("dispatched_at"),
            _first(h.action == Action.CLAIM.value).label("claimed_at"),
            _first(h.action == Action.RATE.value).label("rated_at"),
        )
        .select_from(ORDERS.join(HISTORY, h.work_order_id == o.id))
        # Created before it was filed, and moved last after: bounds the history to aggregate.
        .where(
            *_scope(scope),
            o.filed_at < period.end,
            sa.or_(o.updated_at.is_(None), o.updated_at >= period.start),
        )
        .group_by(o.id, o.district, o.status, o.handle_due, o.closed_at, o.rework_count, o.rating)
        .subquery("lives")
    )
    c = lives.c
    closed = sa.and_(c.status.in_(_states(CLOSED_STATES)), c.closed_at < cutoff)
    due = sa.and_(c.status != WorkOrderState.VOIDED.value, sa.or_(closed, c.handle_due <= cutoff))
    claimed = c.claimed_at < cutoff
    rated = c.rated_at < cutoff
    return (
        sa.select(
            c.district,
            sa.func.count().label("filed"),
            _count_if(due).label("due"),
            _count_if(closed).label("closed"),
            _count_if(sa.and_(closed, c.closed_at <= c.handle_due)).label("closed_on_time"),
            _count_if(sa.and_(due, c.rework_count > 0)).label("reworked"),
            _count_if(claimed).label("claimed"),
            sa.func.sum(
                sa.case((claimed, seconds_between(c.claimed_at, c.dispatched_at)), else_=0.0)
            ).label("claim_seconds"),
            sa.func.sum(
                sa.case((closed, seconds_between(c.closed_at, c.dispatched_at)), else_=0.0)
            ).label("handling_seconds"),
            _count_if(rated).label("rated"),
            _count_if(sa.and_(rated, c.rating >= SATISFIED_FROM)).label("satisfied"),
        )
        .where(_in(c.filed_at, period))
        .group_by(c.district)
    )


def _per_district(
    column: ColumnElement[Any], name: str, source: sa.FromClause, *where: ColumnElement[bool]
) -> sa.Select[Any]:
    return (
        sa.select(column, sa.func.count().label(name))
        .select_from(source)
        .where(*where)
        .group_by(column)
    )


class SqlStatistics:
    """Reads on a connection of its own (no unit of work: nothing is written)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def tallies(
        self, scope: StatsScope, period: Period, cutoff: datetime
    ) -> dict[str, Tally]:
        o, h = ORDERS.c, HISTORY.c
        statements = [
            _per_district(o.district, "created", ORDERS, *_scope(scope), _in(o.filed_at, period)),
            _per_district(
                o.district,
                "merged",
                MERGED.join(ORDERS, MERGED.c.work_order_id == o.id),
                *_scope(scope),
                _in(MERGED.c.attached_at, period),
            ),
            _per_district(
                o.district,
                "rejected_on_review",
                HISTORY.join(ORDERS, h.work_order_id == o.id),
                *_scope(scope),
                h.action == Action.REJECT.value,
                _in(h.at, period),
            ),
            _cohort(scope, period, cutoff),
        ]
        if not scope.narrowed:
            r = REJECTED.c
            statements.append(
                _per_district(
                    r.district,
                    "rejected_at_triage",
                    REJECTED,
                    r.district.in_(list(scope.districts)),
                    r.reason_code != RejectionCode.REJECTED_ON_REVIEW.value,
                    _in(r.rejected_at, period),
                )
            )
        counts: dict[str, dict[str, Any]] = defaultdict(dict)
        async with self._engine.connect() as connection:
            for statement in statements:
                result = await connection.execute(statement)
                for row in result.mappings():
                    district = row["district"]
                    counts[district].update({k: v for k, v in row.items() if k != "district"})
        return {district: _tally(values) for district, values in counts.items()}

    async def open_orders(self, scope: StatsScope | None, now: datetime) -> list[OpenOrders]:
        o = ORDERS.c
        group = sa.func.coalesce(o.category_group, sa.func.substr(o.category, 1, 2))
        statement = (
            sa.select(o.district, group, o.status, sa.func.count(), _count_if(_overdue_at(now)))
            .where(o.status.in_(_states(OPEN_STATES)), *(_scope(scope) if scope else ()))
            .group_by(o.district, group, o.status)
        )
        async with self._engine.connect() as connection:
            rows: Sequence[Any] = (await connection.execute(statement)).all()
        return [
            OpenOrders(district, category_group, state, int(count), int(late))
            for district, category_group, state, count, late in rows
        ]

    async def grid_workload(
        self, district: str, grid_ids: Sequence[str] | None, now: datetime
    ) -> dict[str, GridWorkload]:
        o = ORDERS.c
        statement = sa.select(o.grid_id, sa.func.count(), _count_if(_overdue_at(now))).where(
            o.district == district, o.status.in_(_states(OPEN_STATES))
        )
        if grid_ids is not None:
            statement = statement.where(o.grid_id.in_(list(grid_ids)))
        async with self._engine.connect() as connection:
            rows: Sequence[Any] = (await connection.execute(statement.group_by(o.grid_id))).all()
        return {
            grid_id: GridWorkload(grid_id, int(count), int(late or 0))
            for grid_id, count, late in rows
        }


def _tally(values: dict[str, Any]) -> Tally:
    """Counts as ints, sums of seconds as floats (PostgreSQL answers ``Decimal``)."""
    numbers: dict[str, Any] = {
        name: float(value or 0) if name.endswith("_seconds") else int(value or 0)
        for name, value in values.items()
    }
    return Tally(**numbers)
