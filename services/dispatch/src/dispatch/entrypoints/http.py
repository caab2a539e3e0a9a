"""HTTP API of the dispatch service (/v1)."""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel

from common.auth import Principal, Role, current_principal, require_roles
from common.contracts.catalogue import find_category
from common.problems import Problem, not_found
from common.service.body_limit import allow_body_bytes
from dispatch.domain.grids import GridFileError
from dispatch.domain.work_orders import WorkOrder
from dispatch.service_layer import handlers
from dispatch.service_layer.handlers import GridRegistry
from dispatch.service_layer.unit_of_work import AbstractDispatchUnitOfWork

Admin = Annotated[Principal, require_roles(Role.ADMIN)]
Caller = Annotated[Principal, Depends(current_principal)]


class TransitionView(BaseModel):
    from_status: str | None
    to_status: str
    actor: str
    reason: str
    at: datetime


class WorkOrderView(BaseModel):
    id: str
    report_id: str
    reporter_id: str
    district: str
    category: str
    category_name: str | None
    priority: str
    grid_id: str
    grid_name: str | None
    community: str | None
    street: str | None
    lat: float
    lon: float
    text: str
    status: str
    version: int
    filed_at: datetime
    history: list[TransitionView]


class GridLoadSummary(BaseModel):
    district_code: str
    grids: int
    streets: int
    communities: int


def _visible(order: WorkOrder, principal: Principal) -> bool:
    if principal.district != order.district:
        return False
    if principal.role is Role.GRID_WORKER:
        return order.grid_id in principal.grids
    return principal.role in {Role.SUPERVISOR, Role.ADMIN, Role.SERVICE, Role.DEPARTMENT}


def build_router(
    unit_of_work: Callable[[], AbstractDispatchUnitOfWork],
    registry: GridRegistry,
    *,
    grids_max_body_bytes: int,
) -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.get(
        "/workorders/{work_order_id}",
        response_model=WorkOrderView,
        tags=["work orders"],
        summary="A work order and its history",
    )
    async def get_work_order(work_order_id: str, principal: Caller) -> WorkOrderView:
        async with unit_of_work() as uow:
            order = await uow.work_orders.get(work_order_id)
        if order is None or not _visible(order, principal):
            raise not_found("work order", work_order_id)
        grid = registry.current().get(order.grid_id) if registry.loaded else None
        category = find_category(order.category)
        return WorkOrderView(
            id=order.id,
            report_id=order.report_id,
            reporter_id=order.reporter_id,
            district=order.district,
            category=order.category,
            category_name=category.name if category else None,
            priority=order.priority,
            grid_id=order.grid_id,
            grid_name=grid.name if grid else None,
            community=grid.community if grid else None,
            street=grid.street if grid else None,
            lat=order.lat,
            lon=order.lon,
            text=order.text,
            status=order.status.value,
            version=order.version,
            filed_at=order.filed_at,
            history=[TransitionView(**vars(step)) for step in order.history],
        )

    @router.put(
        "/grids",
        response_model=GridLoadSummary,
        tags=["grids"],
        summary="Replace the district's grid registry with a GeoJSON FeatureCollection",
    )
    @allow_body_bytes(grids_max_body_bytes)
    async def put_grids(
        principal: Admin,
        document: Annotated[dict[str, Any], Body(description="GeoJSON FeatureCollection")],
    ) -> GridLoadSummary:
        if principal.district != registry.district:
            raise Problem(
                403,
                "Forbidden",
                f"an admin of district {principal.district} "
                f"may not load grids of district {registry.district}",
            )
        try:
            index = await handlers.load_grids(document, unit_of_work(), registry)
        except GridFileError as error:
            raise Problem(422, "Invalid grid file", str(error)) from error
        return GridLoadSummary(
            district_code=index.district_code,
            grids=len(index),
            streets=len({g.street for g in index.grids}),
            communities=len({(g.street, g.community) for g in index.grids}),
        )

    return router
