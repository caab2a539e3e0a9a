"""Work orders over HTTP (/v1/workorders): list, read with history and merged reports, and the
steps of their life — claim, resolve, return, verify, void, accept and reject after review."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from common.auth import Principal, Role, current_principal, require_roles
from common.paging import SortKey
from common.problems import Problem, not_found
from common.service.paging import CursorPage, PageRequest, page_request
from common.service.request_model import RequestModel
from dispatch.domain.work_orders import (
    STATE_LABELS,
    IllegalTransition,
    NotAllowed,
    WorkOrder,
    WorkOrderError,
    WorkOrderState,
)
from dispatch.service_layer import lifecycle
from dispatch.service_layer.districts import DistrictRegistry
from dispatch.service_layer.lifecycle import Act, Action, Caller, CallerRole, WorkOrderNotFound
from dispatch.service_layer.unit_of_work import AbstractDispatchUnitOfWork, WorkOrderFilter

Staff = Annotated[
    Principal,
    require_roles(Role.GRID_WORKER, Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN, Role.SERVICE),
]
Page = Annotated[PageRequest, Depends(page_request("workorders"))]
MAX_NOTE = 500


class TransitionView(BaseModel):
    from_state: str | None
    to_state: str
    action: str
    actor: str
    actor_role: str
    reason: str
    evidence: list[str]
    at: datetime


class AttachedReportView(BaseModel):
    report_id: str
    reporter_id: str
    distance_m: float
    attached_at: datetime
    detached_at: datetime | None = Field(
        default=None, description="when its reporter withdrew it (撤回); it no longer follows"
    )


class AssigneeView(BaseModel):
    kind: str
    id: str
    name: str


class DeadlinesView(BaseModel):
    started_at: datetime
    claim_due: datetime
    warning_at: datetime
    handle_due: datetime


class WorkOrderSummary(BaseModel):
    id: str
    district: str
    report_id: str
    category: str
    category_name: str
    priority: str
    grid_id: str
    grid_name: str
    street: str
    state: str
    state_label: str
    assignee: AssigneeView | None
    deadlines: DeadlinesView | None
    overdue: bool
    escalation_level: int
    filed_at: datetime
    version: int


class WorkOrderView(WorkOrderSummary):
    reporter_id: str
    lat: float
    lon: float
    text: str
    rework_count: int
    return_count: int
    reopen_count: int
    closed_at: datetime | None
    rating: int | None
    reports: list[AttachedReportView]
    history: list[TransitionView]


class WorkOrderList(CursorPage[WorkOrderSummary]):
    pass


class Note(RequestModel):
    note: str = Field(default="", max_length=MAX_NOTE)


class Reason(RequestModel):
    reason: str = Field(min_length=1, max_length=MAX_NOTE)


class Resolution(RequestModel):
    note: str = Field(min_length=1, max_length=MAX_NOTE, description="what was done")
    evidence: list[str] = Field(
        default_factory=list,
        max_length=9,
        description="evidence photos: the ids the reporting service gave them "
        "(POST /v1/photos on reporting); the order's reporters see them on the resolved step",
    )


class Verification(RequestModel):
    passed: bool
    note: str = Field(default="", max_length=MAX_NOTE)


def caller_of(principal: Principal) -> Caller:
    return Caller(
        id=principal.subject,
        role=CallerRole(principal.role.value),
        districts=principal.all_districts,
        grids=principal.grids,
    )


def build_workorders_router(
    unit_of_work: Callable[[], AbstractDispatchUnitOfWork], registry: DistrictRegistry
) -> APIRouter:
    router = APIRouter(prefix="/v1/workorders", tags=["work orders"])

    def summary(order: WorkOrder) -> WorkOrderSummary:
        return WorkOrderSummary(**_summary_fields(order, registry))

    def view(order: WorkOrder) -> WorkOrderView:
        return WorkOrderView(
            **_summary_fields(order, registry),
            reporter_id=order.reporter_id,
            lat=order.lat,
            lon=order.lon,
            text=order.text,
            rework_count=order.rework_count,
            return_count=order.return_count,
            reopen_count=order.reopen_count,
            closed_at=order.closed_at,
            rating=order.rating,
            reports=[AttachedReportView(**vars(r)) for r in order.attached],
            history=[
                TransitionView(
                    from_state=step.from_state.value if step.from_state else None,
                    to_state=step.to_state.value,
                    action=step.action,
                    actor=step.actor,
                    actor_role=step.actor_role,
                    reason=step.reason,
                    evidence=list(step.evidence),
                    at=step.at,
                )
                for step in order.history
            ],
        )

    @router.get(
        "",
        response_model=WorkOrderList,
        summary="Work orders the caller may see, newest first",
        description="Grid workers see the orders of their grids and those assigned to them; "
        "departments those assigned to them; supervisors and admins their districts'.",
    )
    async def list_work_orders(
        principal: Staff,
        page: Page,
        district: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
        street: Annotated[str | None, Query(max_length=200)] = None,
        grid: Annotated[str | None, Query(max_length=64)] = None,
        state: Annotated[list[WorkOrderState] | None, Query()] = None,
        category: Annotated[str | None, Query(pattern=r"^\d{4}$")] = None,
        assignee: Annotated[str | None, Query(max_length=128)] = None,
        overdue: bool | None = None,
    ) -> WorkOrderList:
        districts = principal.all_districts
        if district is not None:
            if not principal.covers(district):
                raise Problem(403, "Forbidden", f"the token does not cover district {district}")
            districts = (district,)
        grid_ids, or_assigned_to = None, None
        if principal.role is Role.GRID_WORKER:  # their grids' orders and their own
            grid_ids, or_assigned_to = principal.grids, principal.subject
        if principal.role is Role.DEPARTMENT:
            assignee = principal.subject
        where = WorkOrderFilter(
            districts=districts,
            street=street,
            grid_id=grid,
            grid_ids=grid_ids,
            or_assigned_to=or_assigned_to,
            states=[s.value for s in state or []],
            category=category,
            assignee_id=assignee,
            overdue=overdue,
        )
        async with unit_of_work() as uow:
            found = await uow.work_orders.listing(where, after=page.after, limit=page.fetch)
        return WorkOrderList.of(page, found, key=_sort_key, view=summary)

    @router.get("/{work_order_id}", response_model=WorkOrderView, summary="A work order")
    async def get_work_order(
        work_order_id: str, principal: Annotated[Principal, Depends(current_principal)]
    ) -> WorkOrderView:
        if principal.role is Role.RIDER:
            raise not_found("work order", work_order_id)
        async with unit_of_work() as uow:
            order = await uow.work_orders.get(work_order_id)
        if order is None or not caller_of(principal).sees(order):
            raise not_found("work order", work_order_id)
        return view(order)

    async def run(command: Act) -> WorkOrderView:
        try:
            order = await lifecycle.act(command, unit_of_work(), registry)
        except WorkOrderNotFound as error:
            raise not_found("work order", command.work_order_id) from error
        except IllegalTransition as error:
            raise Problem(
                409,
                "Conflict",
                str(error),
                extra={"state": error.state.value, "state_label": STATE_LABELS[error.state]},
            ) from error
        except NotAllowed as error:
            raise Problem(403, "Forbidden", str(error)) from error
        except WorkOrderError as error:
            raise Problem(422, "Invalid request", str(error)) from error
        return view(order)

    conflict: dict[int | str, dict[str, Any]] = {
        409: {"description": "not allowed in the order's current state"}
    }

    @router.post("/{work_order_id}/claim", response_model=WorkOrderView, responses=conflict)
    async def claim(work_order_id: str, principal: Staff) -> WorkOrderView:
        """签收: the assignee takes the order on."""
        return await run(Act(work_order_id, caller_of(principal), Action.CLAIM))

    @router.post("/{work_order_id}/resolve", response_model=WorkOrderView, responses=conflict)
    async def resolve(work_order_id: str, body: Resolution, principal: Staff) -> WorkOrderView:
        """处置反馈: the assignee reports it handled, with a note and evidence photos."""
        return await run(
            Act(
                work_order_id,
                caller_of(principal),
                Action.RESOLVE,
                note=body.note,
                evidence=tuple(body.evidence),
            )
        )

    @router.post("/{work_order_id}/return", response_model=WorkOrderView, responses=conflict)
    async def return_(work_order_id: str, body: Reason, principal: Staff) -> WorkOrderView:
        """回退: the assignee says it is not theirs; it is dispatched to someone else."""
        return await run(Act(work_order_id, caller_of(principal), Action.RETURN, note=body.reason))

    @router.post("/{work_order_id}/verify", response_model=WorkOrderView, responses=conflict)
    async def verify(work_order_id: str, body: Verification, principal: Staff) -> WorkOrderView:
        """核查: a supervisor passes the fix (结案) or fails it (返工)."""
        return await run(
            Act(
                work_order_id,
                caller_of(principal),
                Action.VERIFY,
                note=body.note,
                passed=body.passed,
            )
        )

    @router.post("/{work_order_id}/void", response_model=WorkOrderView, responses=conflict)
    async def void(work_order_id: str, body: Reason, principal: Staff) -> WorkOrderView:
        """作废: a supervisor voids the order, e.g. as a false report."""
        return await run(Act(work_order_id, caller_of(principal), Action.VOID, note=body.reason))

    @router.post("/{work_order_id}/accept", response_model=WorkOrderView, responses=conflict)
    async def accept(
        work_order_id: str, principal: Staff, body: Note | None = None
    ) -> WorkOrderView:
        """核实通过: a supervisor files an order that waited for review (a note is optional)."""
        note = body.note if body else ""
        return await run(Act(work_order_id, caller_of(principal), Action.ACCEPT, note=note))

    @router.post("/{work_order_id}/reject", response_model=WorkOrderView, responses=conflict)
    async def reject(work_order_id: str, body: Reason, principal: Staff) -> WorkOrderView:
        """不予立案: a supervisor refuses a report that waited for review, with the reason."""
        return await run(Act(work_order_id, caller_of(principal), Action.REJECT, note=body.reason))

    return router


def _sort_key(order: WorkOrder) -> SortKey:
    return SortKey(order.filed_at, order.id)


def _summary_fields(order: WorkOrder, registry: DistrictRegistry) -> dict[str, object]:
    assignee, deadlines = order.assignee, order.deadlines
    return {
        "id": order.id,
        "district": order.district,
        "report_id": order.report_id,
        "category": order.category,
        "category_name": registry.category_name(order.district, order.category),
        "priority": order.priority,
        "grid_id": order.grid_id,
        "grid_name": registry.grid_name(order.district, order.grid_id),
        "street": order.street,
        "state": order.state.value,
        "state_label": STATE_LABELS[order.state],
        "assignee": AssigneeView(kind=assignee.kind.value, id=assignee.id, name=assignee.name)
        if assignee
        else None,
        "deadlines": DeadlinesView(**vars(deadlines)) if deadlines else None,
        "overdue": order.overdue,
        "escalation_level": order.escalation_level,
        "filed_at": order.filed_at,
        "version": order.version,
    }
