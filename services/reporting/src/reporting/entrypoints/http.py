"""HTTP API of the reporting service (/v1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from common.auth import Principal, Role, current_principal, require_roles
from common.contracts.catalogue import CATEGORIES, find_category
from common.paging import SortKey
from common.problems import Problem, not_found
from common.service.paging import CursorPage, PageRequest, page_request
from common.service.request_model import RequestModel
from reporting.domain.reports import (
    MAX_TEXT_LENGTH,
    STATUS_LABELS,
    IdempotencyConflict,
    Report,
    SubmitReport,
    UnknownCategory,
)
from reporting.service_layer import handlers
from reporting.service_layer.unit_of_work import AbstractReportingUnitOfWork

Rider = Annotated[Principal, require_roles(Role.RIDER)]
Caller = Annotated[Principal, Depends(current_principal)]
Page = Annotated[PageRequest, Depends(page_request("reports"))]
CATEGORY_CODES: list[JsonValue] = [code for code in sorted(CATEGORIES)]


class SubmitReportRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "category": "0101",
                    "lat": 35.5531,
                    "lon": 116.8287,
                    "text": "3号楼2单元楼道堆放杂物，影响通行",
                }
            ]
        },
    )

    category: str = Field(
        pattern=r"^\d{4}$",
        description="category code, e.g. 0101 (楼道杂物); GET /v1/categories lists them",
        json_schema_extra={"enum": CATEGORY_CODES},
    )
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="WGS84 latitude")
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="WGS84 longitude")
    text: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)


class ReportView(BaseModel):
    id: str
    reporter_id: str
    district: str
    category: str
    category_name: str | None
    lat: float
    lon: float
    text: str
    status: str
    status_label: str
    grid_id: str | None
    grid_name: str | None
    work_order_id: str | None
    rejection_reason_code: str | None
    rejection_reason: str | None
    submitted_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, report: Report) -> ReportView:
        category = find_category(report.category)
        return cls(
            id=report.id,
            reporter_id=report.reporter_id,
            district=report.district,
            category=report.category,
            category_name=category.name if category else None,
            lat=report.lat,
            lon=report.lon,
            text=report.text,
            status=report.status.value,
            status_label=STATUS_LABELS[report.status],
            grid_id=report.grid_id,
            grid_name=report.grid_name,
            work_order_id=report.work_order_id,
            rejection_reason_code=report.rejection_code,
            rejection_reason=report.rejection_reason,
            submitted_at=report.submitted_at,
            updated_at=report.updated_at,
        )


class ReportList(CursorPage[ReportView]):
    """The caller's reports, newest first."""


class CategoryView(BaseModel):
    code: str
    name: str
    group_code: str
    group_name: str
    priority: str


def build_router(
    unit_of_work: Callable[[], AbstractReportingUnitOfWork], submitted_counter: Counter
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["reports"])

    @router.post(
        "/reports",
        status_code=201,
        response_model=ReportView,
        summary="Submit a report (随手拍上报)",
        responses={
            409: {"description": "The Idempotency-Key was already used for another report."}
        },
    )
    async def submit(
        body: SubmitReportRequest,
        response: Response,
        principal: Rider,
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)
        ] = None,
    ) -> ReportView:
        command = SubmitReport(
            reporter_id=principal.subject,
            district=principal.district,
            category=body.category,
            lat=body.lat,
            lon=body.lon,
            text=body.text,
            idempotency_key=idempotency_key,
        )
        try:
            submission = await handlers.submit_report(command, unit_of_work())
        except UnknownCategory as error:
            raise Problem(
                422,
                "Unknown category",
                str(error),
                extra={"errors": [{"field": "category", "message": str(error)}]},
            ) from error
        except IdempotencyConflict as error:
            raise Problem(409, "Idempotency-Key reused", str(error)) from error
        if submission.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        else:
            submitted_counter.labels("reporting").inc()
        response.headers["Location"] = f"/v1/reports/{submission.report.id}"
        return ReportView.of(submission.report)

    @router.get("/reports/{report_id}", response_model=ReportView, summary="A report's status")
    async def get_report(report_id: str, principal: Caller) -> ReportView:
        async with unit_of_work() as uow:
            report = await uow.reports.get(report_id)
        visible = report is not None and (
            report.reporter_id == principal.subject
            if principal.role is Role.RIDER
            else principal.is_staff() and report.district == principal.district
        )
        if report is None or not visible:
            raise not_found("report", report_id)
        return ReportView.of(report)

    @router.get("/reports", response_model=ReportList, summary="The caller's own reports")
    async def list_reports(principal: Rider, page: Page) -> ReportList:
        async with unit_of_work() as uow:
            fetched = await uow.reports.list_by_reporter(
                principal.subject, limit=page.fetch, after=page.after
            )
        return ReportList.of(
            page, fetched, key=lambda r: SortKey(r.submitted_at, r.id), view=ReportView.of
        )

    @router.get("/categories", response_model=list[CategoryView], summary="Report categories")
    async def categories() -> list[CategoryView]:
        return [
            CategoryView(
                code=c.code,
                name=c.name,
                group_code=c.group_code,
                group_name=c.group_name,
                priority=c.priority.value,
            )
            for c in CATEGORIES.values()
        ]

    return router
