from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from shapely.geometry import mapping, shape
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import newest_first
from common.paging import SortKey
from dispatch.adapters.tables import (
    GridRow,
    ReferenceDocumentRow,
    RejectedReportRow,
    WorkOrderHistoryRow,
    WorkOrderReportRow,
    WorkOrderRow,
)
from dispatch.domain.grids import Grid, GridIndex
from dispatch.domain.triage import Rejected
from dispatch.domain.work_orders import (
    CLOCKED_STATES,
    OPEN_STATES,
    TROUBLED_AFTER,
    WAITING_STATES,
    Assignee,
    AssigneeKind,
    AttachedReport,
    Deadlines,
    Transition,
    WorkOrder,
    WorkOrderState,
)
from dispatch.service_layer.unit_of_work import (
    MergeCandidate,
    ReferenceDocument,
    WorkOrderFilter,
)


class GridRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def replace_district(self, index: GridIndex) -> None:
        """Swap a district's whole registry for ``index`` (in the caller's transaction)."""
        await self._session.exec(
            delete(GridRow).where(col(GridRow.district_code) == index.district_code)
        )
        now = datetime.now(UTC)
        for position, grid in enumerate(index.grids):
            self._session.add(
                GridRow(
                    grid_id=grid.grid_id,
                    district_code=grid.district_code,
                    name=grid.name,
                    community=grid.community,
                    street=grid.street,
                    geometry=json.dumps(mapping(grid.geometry)),
                    position=position,
                    loaded_at=now,
                )
            )

    async def revisions(self) -> dict[str, tuple[int, datetime | None]]:
        """Per district: how many grids and when they were last loaded — changes whenever any
        replica loads new grids."""
        rows = (
            await self._session.exec(
                select(
                    GridRow.district_code, sa.func.count(), sa.func.max(GridRow.loaded_at)
                ).group_by(GridRow.district_code)
            )
        ).all()
        return {district: (int(count), loaded_at) for district, count, loaded_at in rows}

    async def load(self, district_code: str) -> GridIndex | None:
        rows = (
            await self._session.exec(
                select(GridRow)
                .where(GridRow.district_code == district_code)
                .order_by(col(GridRow.position))
            )
        ).all()
        if not rows:
            return None
        return GridIndex(
            Grid(
                grid_id=row.grid_id,
                name=row.name,
                community=row.community,
                street=row.street,
                district_code=row.district_code,
                geometry=shape(json.loads(row.geometry)),  # type: ignore[arg-type]
            )
            for row in rows
        )


class ReferenceRepository:
    """A district's catalogue, roster and calendar, as the JSON documents that were loaded."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def put(self, district: str, kind: str, body: object) -> int:
        """Store ``body`` as the district's ``kind`` document; returns its new revision."""
        row = await self._session.get(ReferenceDocumentRow, (district, kind), with_for_update=True)
        now = datetime.now(UTC)
        text = json.dumps(body, ensure_ascii=False, sort_keys=True)
        if row is None:
            row = ReferenceDocumentRow(
                district=district, kind=kind, body=text, revision=1, loaded_at=now
            )
        else:
            row.body, row.revision, row.loaded_at = text, row.revision + 1, now
        self._session.add(row)
        await self._session.flush()
        return row.revision

    async def all(self) -> list[ReferenceDocument]:
        rows = (await self._session.exec(select(ReferenceDocumentRow))).all()
        return [
            ReferenceDocument(row.district, row.kind, json.loads(row.body), row.revision)
            for row in rows
        ]

    async def revisions(self) -> dict[tuple[str, str], int]:
        rows = (
            await self._session.exec(
                select(
                    ReferenceDocumentRow.district,
                    ReferenceDocumentRow.kind,
                    ReferenceDocumentRow.revision,
                )
            )
        ).all()
        return {(district, kind): revision for district, kind, revision in rows}


# The statements triage runs for every report, built once: their values go with each
# execution (a statement built with literal values costs several times more CPU to run).
_ORDERS: sa.Table = WorkOrderRow.__table__  # type: ignore[attr-defined]
_MERGED: sa.Table = WorkOrderReportRow.__table__  # type: ignore[attr-defined]
_REJECTED: sa.Table = RejectedReportRow.__table__  # type: ignore[attr-defined]
_HISTORY: sa.Table = WorkOrderHistoryRow.__table__  # type: ignore[attr-defined]
_OPEN_STATE_VALUES = [state.value for state in OPEN_STATES]
_TRIAGED = sa.union_all(
    sa.select(sa.literal(1)).where(_ORDERS.c.report_id == sa.bindparam("report_id")),
    sa.select(sa.literal(1)).where(_MERGED.c.report_id == sa.bindparam("report_id")),
    sa.select(sa.literal(1)).where(_REJECTED.c.report_id == sa.bindparam("report_id")),
).limit(1)
_MERGE_CANDIDATES = (
    sa.select(_ORDERS.c.id, _ORDERS.c.lat, _ORDERS.c.lon, _ORDERS.c.filed_at)
    .where(
        _ORDERS.c.district == sa.bindparam("district"),
        _ORDERS.c.category_group == sa.bindparam("category_group"),
        _ORDERS.c.status.in_(_OPEN_STATE_VALUES),
        _ORDERS.c.filed_at >= sa.bindparam("since"),
        _ORDERS.c.lat.between(sa.bindparam("south"), sa.bindparam("north")),
        _ORDERS.c.lon.between(sa.bindparam("west"), sa.bindparam("east")),
    )
    .order_by(_ORDERS.c.filed_at, _ORDERS.c.id)
)
_OPEN_COUNTS = (
    sa.select(_ORDERS.c.assignee_id, sa.func.count())
    .where(
        _ORDERS.c.assignee_id.in_(sa.bindparam("assignees", expanding=True)),
        _ORDERS.c.status.in_(_OPEN_STATE_VALUES),
    )
    .group_by(_ORDERS.c.assignee_id)
)


class WorkOrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, order: WorkOrder) -> None:
        connection = await self._session.connection()
        await connection.execute(_ORDERS.insert(), {"id": order.id, **_values(order)})
        await self._write_history(order, already=0)
        for report in order.attached:
            await self._attach(order.id, report)

    async def save(self, order: WorkOrder, *, history_before: int) -> None:
        """Write the order's new state and the history rows added since ``history_before``."""
        row = await self._session.get(WorkOrderRow, order.id)
        if row is None:
            raise LookupError(order.id)
        for name, value in _values(order).items():
            setattr(row, name, value)
        self._session.add(row)
        await self._write_history(order, already=history_before)
        known = set(
            (
                await self._session.exec(
                    select(WorkOrderReportRow.report_id).where(
                        WorkOrderReportRow.work_order_id == order.id
                    )
                )
            ).all()
        )
        for report in order.attached:
            if report.report_id not in known:
                await self._attach(order.id, report)
            elif report.detached_at is not None:
                await self._detach(report)

    async def get(self, work_order_id: str, *, for_update: bool = False) -> WorkOrder | None:
        statement = select(WorkOrderRow).where(WorkOrderRow.id == work_order_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._session.exec(statement)).first()
        if row is None:
            return None
        return (await self._with_children([row]))[0]

    async def by_report(self, report_id: str) -> WorkOrder | None:
        """The order a report was filed as, or merged into."""
        row = (
            await self._session.exec(
                select(WorkOrderRow).where(WorkOrderRow.report_id == report_id)
            )
        ).first()
        if row is None:
            attached = await self._session.get(WorkOrderReportRow, report_id)
            if attached is None:
                return None
            row = await self._session.get(WorkOrderRow, attached.work_order_id)
            if row is None:
                return None
        return (await self._with_children([row]))[0]

    async def already_triaged(self, report_id: str) -> bool:
        """True if the report already became or joined a work order, or was rejected."""
        connection = await self._session.connection()
        found = await connection.execute(_TRIAGED, {"report_id": report_id})
        return found.first() is not None

    async def merge_candidates(
        self,
        *,
        district: str,
        category_group: str,
        since: datetime,
        lat_range: tuple[float, float],
        lon_range: tuple[float, float],
    ) -> list[MergeCandidate]:
        connection = await self._session.connection()
        rows = await connection.execute(
            _MERGE_CANDIDATES,
            {
                "district": district,
                "category_group": category_group,
                "since": since,
                "south": lat_range[0],
                "north": lat_range[1],
                "west": lon_range[0],
                "east": lon_range[1],
            },
        )
        return [MergeCandidate(row.id, row.lat, row.lon, row.filed_at) for row in rows]

    async def open_counts(self, assignee_ids: Sequence[str]) -> dict[str, int]:
        if not assignee_ids:
            return {}
        connection = await self._session.connection()
        rows = await connection.execute(_OPEN_COUNTS, {"assignees": list(assignee_ids)})
        return {assignee: int(count) for assignee, count in rows if assignee}

    async def due_for_scan(
        self,
        now: datetime,
        *,
        street_after: timedelta,
        district_after: timedelta,
        after: str | None,
        limit: int,
    ) -> list[str]:
        """Ids (in order, after ``after``) of the orders the scanner has something to do for
        at ``now``: those waiting for an assignee; orders on a clock whose warning, overdue or
        escalation is due and not announced yet; orders reworked, returned or reopened three
        times and not yet escalated to the district. Nothing else, so orders with nothing due
        never take the place of those with something due."""
        order = WorkOrderRow
        on_a_clock = sa.and_(
            col(order.status).in_([s.value for s in CLOCKED_STATES]),
            col(order.handle_due).is_not(None),
            sa.or_(
                sa.and_(
                    sa.not_(col(order.warned)),
                    col(order.warning_at) <= now,
                    col(order.handle_due) > now,
                ),
                sa.and_(sa.not_(col(order.overdue)), col(order.handle_due) <= now),
                sa.and_(
                    col(order.escalation_level) < 1, col(order.handle_due) <= now - street_after
                ),
                sa.and_(
                    col(order.escalation_level) < 2, col(order.handle_due) <= now - district_after
                ),
            ),
        )
        troubled = sa.and_(
            col(order.status).in_([s.value for s in OPEN_STATES]),
            col(order.escalation_level) < 2,
            sa.or_(
                col(order.rework_count) >= TROUBLED_AFTER,
                col(order.return_count) >= TROUBLED_AFTER,
                col(order.reopen_count) >= TROUBLED_AFTER,
            ),
        )
        waiting = col(order.status).in_([s.value for s in WAITING_STATES])
        statement = select(order.id).where(sa.or_(waiting, on_a_clock, troubled))
        if after is not None:
            statement = statement.where(col(order.id) > after)
        rows = (await self._session.exec(statement.order_by(col(order.id)).limit(limit))).all()
        return list(rows)

    async def listing(
        self, where: WorkOrderFilter, *, after: SortKey | None, limit: int
    ) -> list[WorkOrder]:
        statement = select(WorkOrderRow).where(col(WorkOrderRow.district).in_(where.districts))
        if where.street is not None:
            statement = statement.where(WorkOrderRow.street == where.street)
        if where.grid_ids is not None:
            in_grids = col(WorkOrderRow.grid_id).in_(list(where.grid_ids))
            if where.or_assigned_to is not None:
                assigned = col(WorkOrderRow.assignee_id) == where.or_assigned_to
                statement = statement.where(sa.or_(in_grids, assigned))
            else:
                statement = statement.where(in_grids)
        if where.grid_id is not None:
            statement = statement.where(WorkOrderRow.grid_id == where.grid_id)
        if where.states:
            statement = statement.where(col(WorkOrderRow.status).in_(list(where.states)))
        if where.category is not None:
            statement = statement.where(WorkOrderRow.category == where.category)
        if where.assignee_id is not None:
            statement = statement.where(WorkOrderRow.assignee_id == where.assignee_id)
        if where.overdue is not None:
            statement = statement.where(WorkOrderRow.overdue == where.overdue)
        statement = newest_first(
            statement,
            at=WorkOrderRow.filed_at,  # type: ignore[arg-type]
            id_=WorkOrderRow.id,  # type: ignore[arg-type]
            after=after,
            limit=limit,
        )
        rows = (await self._session.exec(statement)).all()
        return await self._with_children(rows, history=False)

    async def record_rejection(
        self,
        *,
        report_id: str,
        reporter_id: str,
        district: str | None,
        category: str,
        lat: float,
        lon: float,
        decision: Rejected,
        at: datetime,
    ) -> None:
        self._session.add(
            RejectedReportRow(
                report_id=report_id,
                reporter_id=reporter_id,
                district=district,
                category=category,
                lat=lat,
                lon=lon,
                reason_code=decision.code.value,
                reason=decision.reason,
                rejected_at=at,
            )
        )

    # --- internals ---------------------------------------------------------------------------

    async def _attach(self, work_order_id: str, report: AttachedReport) -> None:
        connection = await self._session.connection()
        await connection.execute(
            _MERGED.insert(),
            {
                "report_id": report.report_id,
                "work_order_id": work_order_id,
                "reporter_id": report.reporter_id,
                "distance_m": report.distance_m,
                "attached_at": report.attached_at,
                "detached_at": report.detached_at,
            },
        )

    async def _detach(self, report: AttachedReport) -> None:
        connection = await self._session.connection()
        await connection.execute(
            _MERGED.update()
            .where(_MERGED.c.report_id == report.report_id, _MERGED.c.detached_at.is_(None))
            .values(detached_at=report.detached_at)
        )

    async def _write_history(self, order: WorkOrder, *, already: int) -> None:
        """The order's steps from ``already`` on, written at once (the order's row is written
        first: :meth:`add` inserts it at once, :meth:`save` updates a row that exists)."""
        steps = [
            {
                "work_order_id": order.id,
                "from_status": step.from_state.value if step.from_state else None,
                "to_status": step.to_state.value,
                "action": step.action,
                "actor": step.actor,
                "actor_role": step.actor_role,
                "reason": step.reason[:500],
                "evidence": json.dumps(list(step.evidence)) if step.evidence else None,
                "at": step.at,
            }
            for step in order.history[already:]
        ]
        if steps:
            connection = await self._session.connection()
            await connection.execute(_HISTORY.insert(), steps)

    async def _with_children(
        self, rows: Sequence[WorkOrderRow], *, history: bool = True
    ) -> list[WorkOrder]:
        ids = [row.id for row in rows]
        attached: dict[str, list[AttachedReport]] = {i: [] for i in ids}
        steps: dict[str, list[Transition]] = {i: [] for i in ids}
        if ids:
            for report in (
                await self._session.exec(
                    select(WorkOrderReportRow)
                    .where(col(WorkOrderReportRow.work_order_id).in_(ids))
                    .order_by(col(WorkOrderReportRow.attached_at))
                )
            ).all():
                attached[report.work_order_id].append(
                    AttachedReport(
                        report.report_id,
                        report.reporter_id,
                        report.attached_at,
                        report.distance_m,
                        report.detached_at,
                    )
                )
            if history:
                for step in (
                    await self._session.exec(
                        select(WorkOrderHistoryRow)
                        .where(col(WorkOrderHistoryRow.work_order_id).in_(ids))
                        .order_by(col(WorkOrderHistoryRow.id))
                    )
                ).all():
                    steps[step.work_order_id].append(_transition(step))
        return [_domain(row, attached[row.id], steps[row.id]) for row in rows]


def _values(order: WorkOrder) -> dict[str, Any]:
    assignee, deadlines = order.assignee, order.deadlines
    return {
        "report_id": order.report_id,
        "reporter_id": order.reporter_id,
        "district": order.district,
        "category": order.category,
        "category_group": order.category_group,
        "priority": order.priority,
        "grid_id": order.grid_id,
        "street": order.street,
        "lat": order.lat,
        "lon": order.lon,
        "text": order.text,
        "status": order.state.value,
        "version": order.version,
        "filed_at": order.filed_at,
        "updated_at": order.history[-1].at if order.history else order.filed_at,
        "assignee_kind": assignee.kind.value if assignee else None,
        "assignee_id": assignee.id if assignee else None,
        "assignee_name": assignee.name if assignee else None,
        "returned_by": json.dumps(list(order.returned_by)) if order.returned_by else None,
        "started_at": deadlines.started_at if deadlines else None,
        "claim_due": deadlines.claim_due if deadlines else None,
        "warning_at": deadlines.warning_at if deadlines else None,
        "handle_due": deadlines.handle_due if deadlines else None,
        "rework_count": order.rework_count,
        "return_count": order.return_count,
        "reopen_count": order.reopen_count,
        "escalation_level": order.escalation_level,
        "warned": order.warned,
        "overdue": order.overdue,
        "closed_at": order.closed_at,
        "rating": order.rating,
    }


def _domain(
    row: WorkOrderRow, attached: list[AttachedReport], history: list[Transition]
) -> WorkOrder:
    assignee = None
    if row.assignee_kind and row.assignee_id:
        assignee = Assignee(
            AssigneeKind(row.assignee_kind), row.assignee_id, row.assignee_name or row.assignee_id
        )
    deadlines = None
    if row.started_at and row.claim_due and row.warning_at and row.handle_due:
        deadlines = Deadlines(row.started_at, row.claim_due, row.warning_at, row.handle_due)
    return WorkOrder(
        id=row.id,
        district=row.district,
        report_id=row.report_id,
        reporter_id=row.reporter_id,
        category=row.category,
        category_group=row.category_group or row.category[:2],
        priority=row.priority,
        grid_id=row.grid_id,
        street=row.street or "",
        lat=row.lat,
        lon=row.lon,
        text=row.text,
        filed_at=row.filed_at,
        state=WorkOrderState(row.status),
        version=row.version,
        assignee=assignee,
        returned_by=tuple(json.loads(row.returned_by)) if row.returned_by else (),
        deadlines=deadlines,
        rework_count=row.rework_count,
        return_count=row.return_count,
        reopen_count=row.reopen_count,
        escalation_level=row.escalation_level,
        warned=row.warned,
        overdue=row.overdue,
        closed_at=row.closed_at,
        rating=row.rating,
        attached=attached,
        history=history,
    )


def _transition(row: WorkOrderHistoryRow) -> Transition:
    return Transition(
        from_state=WorkOrderState(row.from_status) if row.from_status else None,
        to_state=WorkOrderState(row.to_status),
        action=row.action or ("file" if row.from_status is None else "move"),
        actor=row.actor,
        actor_role=row.actor_role or "system",
        reason=row.reason,
        at=row.at,
        evidence=tuple(json.loads(row.evidence)) if row.evidence else (),
    )
