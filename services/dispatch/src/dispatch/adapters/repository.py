from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from shapely.geometry import mapping, shape
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.adapters.tables import (
    GridRow,
    RejectedReportRow,
    WorkOrderHistoryRow,
    WorkOrderRow,
)
from dispatch.domain.grids import Grid, GridIndex
from dispatch.domain.triage import Rejected
from dispatch.domain.work_orders import Transition, WorkOrder, WorkOrderStatus


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

    async def revision(self, district_code: str) -> tuple[int, datetime | None]:
        """How many grids the district has and when they were last loaded: changes whenever
        any replica loads new grids."""
        count, loaded_at = (
            await self._session.exec(
                select(sa.func.count(), sa.func.max(GridRow.loaded_at)).where(
                    GridRow.district_code == district_code
                )
            )
        ).one()
        return int(count), loaded_at

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


class WorkOrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, order: WorkOrder) -> None:
        self._session.add(
            WorkOrderRow(
                id=order.id,
                report_id=order.report_id,
                reporter_id=order.reporter_id,
                district=order.district,
                category=order.category,
                priority=order.priority,
                grid_id=order.grid_id,
                lat=order.lat,
                lon=order.lon,
                text=order.text,
                status=order.status.value,
                version=order.version,
                filed_at=order.filed_at,
            )
        )
        for step in order.history:
            self._session.add(
                WorkOrderHistoryRow(
                    work_order_id=order.id,
                    from_status=step.from_status,
                    to_status=step.to_status,
                    actor=step.actor,
                    reason=step.reason,
                    at=step.at,
                )
            )

    async def get(self, work_order_id: str) -> WorkOrder | None:
        row = await self._session.get(WorkOrderRow, work_order_id)
        if row is None:
            return None
        history = (
            await self._session.exec(
                select(WorkOrderHistoryRow)
                .where(WorkOrderHistoryRow.work_order_id == work_order_id)
                .order_by(col(WorkOrderHistoryRow.id))
            )
        ).all()
        return WorkOrder(
            id=row.id,
            report_id=row.report_id,
            reporter_id=row.reporter_id,
            district=row.district,
            category=row.category,
            priority=row.priority,
            grid_id=row.grid_id,
            lat=row.lat,
            lon=row.lon,
            text=row.text,
            filed_at=row.filed_at,
            status=WorkOrderStatus(row.status),
            version=row.version,
            history=[
                Transition(h.from_status, h.to_status, h.actor, h.reason, h.at) for h in history
            ],
        )

    async def already_triaged(self, report_id: str) -> bool:
        """True if the report already became a work order or was rejected."""
        filed = (
            await self._session.exec(
                select(WorkOrderRow.id).where(WorkOrderRow.report_id == report_id)
            )
        ).first()
        if filed is not None:
            return True
        return await self._session.get(RejectedReportRow, report_id) is not None

    async def record_rejection(
        self,
        *,
        report_id: str,
        reporter_id: str,
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
                category=category,
                lat=lat,
                lon=lon,
                reason_code=decision.code.value,
                reason=decision.reason,
                rejected_at=at,
            )
        )
