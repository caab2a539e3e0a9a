"""派遣: giving an order to the right person with the right clock."""

from __future__ import annotations

from datetime import datetime

import structlog

from dispatch.domain.assignment import NobodyToAssign, choose_assignee, deadlines_for
from dispatch.domain.work_orders import WorkOrder
from dispatch.service_layer.announce import Announcer
from dispatch.service_layer.districts import DistrictRegistry
from dispatch.service_layer.unit_of_work import AbstractDispatchUnitOfWork

_log = structlog.get_logger("gridloop.dispatch")


async def dispatch_order(
    order: WorkOrder,
    registry: DistrictRegistry,
    uow: AbstractDispatchUnitOfWork,
    announcer: Announcer,
    at: datetime,
    *,
    redispatch: bool,
) -> bool:
    """Assign ``order`` (filed, returned or reopened) and start its clock; False if the
    district has no roster or category yet, or nobody may take it — the order then waits and
    the scanner tries again."""
    roster = registry.roster(order.district)
    catalogue = registry.catalogues.get(order.district)
    category = catalogue.find(order.category) if catalogue else None
    if roster is None or category is None:
        return False
    workers = [worker.id for worker in roster.workers_of(order.grid_id)]
    try:
        assignee = choose_assignee(
            roster=roster,
            category=category,
            grid_id=order.grid_id,
            street=order.street,
            open_orders=await uow.work_orders.open_counts(workers),
            excluded=order.returned_by,
        )
    except NobodyToAssign as error:
        _log.warning("workorder.unassignable", work_order_id=order.id, reason=str(error))
        return False
    order.dispatch(assignee, deadlines_for(category, registry.calendar(order.district), at), at=at)
    await announcer.dispatched(order, at, redispatch=redispatch)
    return True
