"""Use cases of the dispatch service."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from common.contracts.events import (
    RejectionReason,
    ReportRejected,
    ReportSubmitted,
    WorkOrderFiled,
)
from common.messaging.ports import EventHandler, EventMeta, HandlerOutcome
from dispatch.domain.grids import GridFileError, GridIndex
from dispatch.domain.triage import Accepted, triage
from dispatch.domain.work_orders import WorkOrder
from dispatch.service_layer.unit_of_work import AbstractDispatchUnitOfWork

_log = structlog.get_logger("gridloop.dispatch")


class GridRegistryEmpty(RuntimeError):
    """No grids are loaded for the district yet. A report is then retried with backoff and, if
    the grids are still missing, dead-lettered — never rejected as outside the service area,
    which would tell the rider something false."""


class GridRegistry:
    """The in-memory spatial index of the district's grids, refreshed whenever grids load."""

    def __init__(self, district: str) -> None:
        self.district = district
        self._index: GridIndex | None = None
        self._revision: tuple[int, datetime | None] | None = None

    @property
    def loaded(self) -> bool:
        return self._index is not None

    def current(self) -> GridIndex:
        if self._index is None:
            raise GridRegistryEmpty(f"no grids are loaded for district {self.district}")
        return self._index

    def replace(self, index: GridIndex) -> None:
        self._index = index

    async def refresh(self, uow: AbstractDispatchUnitOfWork) -> bool:
        """Reload the grids if another replica (or an earlier run) changed them; True if the
        index was rebuilt."""
        async with uow:
            revision = await uow.grids.revision(self.district)
            if revision == self._revision:
                return False
            index = await uow.grids.load(self.district)
        self._revision = revision
        if index is None:
            return False
        self._index = index
        _log.info("grids.refreshed", grids=len(index))
        return True


def new_work_order_id() -> str:
    return f"wo-{uuid.uuid4().hex[:20]}"


async def load_grids(
    document: dict[str, Any], uow: AbstractDispatchUnitOfWork, registry: GridRegistry
) -> GridIndex:
    """Validate a GeoJSON FeatureCollection and make it the district's grid registry.

    Raises ``GridFileError`` naming the offending feature; nothing changes then.
    """
    index = GridIndex.from_feature_collection(document)
    if index.district_code != registry.district:
        raise GridFileError(
            f"the grids belong to district {index.district_code}, "
            f"but this service serves district {registry.district}"
        )
    async with uow:
        await uow.grids.replace_district(index)
        await uow.commit()
    registry.replace(index)
    _log.info("grids.loaded", grids=len(index), district=index.district_code)
    return index


def on_report_submitted_handler(
    registry: GridRegistry,
    on_triaged: Callable[[str, str], None] = lambda outcome, reason: None,
    new_id: Callable[[], str] = new_work_order_id,
) -> EventHandler[ReportSubmitted, AbstractDispatchUnitOfWork]:
    async def on_report_submitted(
        report: ReportSubmitted, meta: EventMeta, uow: AbstractDispatchUnitOfWork
    ) -> HandlerOutcome:
        if await uow.work_orders.already_triaged(report.report_id):
            return "ignored"
        decision = triage(
            category_code=report.category,
            lat=report.lat,
            lon=report.lon,
            grids=registry.current(),
        )
        now = datetime.now(UTC)
        if isinstance(decision, Accepted):
            order = WorkOrder.file(
                work_order_id=new_id(),
                report_id=report.report_id,
                reporter_id=report.reporter_id,
                district=meta.district,
                category=decision.category.code,
                priority=decision.category.priority.value,
                grid_id=decision.grid.grid_id,
                lat=report.lat,
                lon=report.lon,
                text=report.text,
                at=now,
            )
            await uow.work_orders.add(order)
            await uow.outbox.add(
                WorkOrderFiled(
                    work_order_id=order.id,
                    report_id=order.report_id,
                    reporter_id=order.reporter_id,
                    category=order.category,
                    category_name=decision.category.name,
                    priority=order.priority,
                    grid_id=decision.grid.grid_id,
                    grid_name=decision.grid.name,
                    community=decision.grid.community,
                    street=decision.grid.street,
                    lat=order.lat,
                    lon=order.lon,
                    filed_at=now,
                ),
                subject=order.id,
                sequence=order.version,
            )
            uow.after_commit(lambda: on_triaged("filed", ""))
            _log.debug(
                "workorder.filed",
                report_id=report.report_id,
                work_order_id=order.id,
                grid_id=order.grid_id,
            )
            return "processed"
        await uow.work_orders.record_rejection(
            report_id=report.report_id,
            reporter_id=report.reporter_id,
            category=report.category,
            lat=report.lat,
            lon=report.lon,
            decision=decision,
            at=now,
        )
        await uow.outbox.add(
            ReportRejected(
                report_id=report.report_id,
                reporter_id=report.reporter_id,
                category=report.category,
                reason_code=RejectionReason(decision.code.value),
                reason=decision.reason,
                rejected_at=now,
            ),
            subject=report.report_id,
            sequence=1,
        )
        reason = decision.code.value
        uow.after_commit(lambda: on_triaged("rejected", reason))
        _log.debug("report.rejected", report_id=report.report_id, reason=decision.code.value)
        return "processed"

    return on_report_submitted
