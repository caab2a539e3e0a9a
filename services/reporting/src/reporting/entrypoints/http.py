"""HTTP API of the reporting service (/v1)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from prometheus_client import Counter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from common.auth import Principal, Role, current_principal, optional_principal, require_roles
from common.paging import SortKey
from common.problems import Problem, not_found
from common.service.paging import CursorPage, PageRequest, page_request
from common.service.request_model import RequestModel
from reporting.domain.catalogues import Catalogue
from reporting.domain.errors import (
    DistrictNotServed,
    IdempotencyConflict,
    InactiveCategory,
    ReportNotFound,
    UnknownCategory,
)
from reporting.domain.limits import SubmissionLimits, TooManyReports
from reporting.domain.photos import (
    DEFAULT_CAPTURE_WINDOW,
    MAX_PHOTOS_PER_REPORT,
    CaptureWindow,
    InvalidReportField,
    Referrer,
    Viewer,
    may_see_report,
)
from reporting.domain.progress import TimelineEntry
from reporting.domain.reporter_requests import (
    AskAboutReport,
    ReporterRequest,
    RequestAction,
    RequestRefused,
)
from reporting.domain.reports import MAX_TEXT_LENGTH, Report, ReportStatus, SubmitReport
from reporting.entrypoints.photo_views import (
    MULTIPART_REPORT_DOC,
    ReportPhotoView,
    photo_url,
    thumbnail_url,
)
from reporting.service_layer import handlers
from reporting.service_layer.reporter_requests import Asked, ask_about_report
from reporting.service_layer.unit_of_work import AbstractReportingUnitOfWork

Rider = Annotated[Principal, require_roles(Role.RIDER)]
Caller = Annotated[Principal, Depends(current_principal)]
MaybeCaller = Annotated[Principal | None, Depends(optional_principal)]
Page = Annotated[PageRequest, Depends(page_request("reports"))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="a retry with the same key answers the same and changes nothing",
    ),
]
CATEGORY_DOC = (
    "the category's 4-digit code in the catalogue of the district reported in, e.g. 0101 "
    "(楼道杂物). Codes are per district: GET /v1/categories lists each district's; a code "
    "that is not (or no longer) in the catalogues of the districts the token covers is "
    "answered 422"
)


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

    category: str = Field(pattern=r"^\d{4}$", description=CATEGORY_DOC)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="WGS84 latitude")
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="WGS84 longitude")
    text: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)
    photo_ids: list[str] = Field(
        default_factory=list,
        max_length=MAX_PHOTOS_PER_REPORT,
        description="ids of photos the rider uploaded (POST /v1/photos), each once",
    )
    captured_at: AwareDatetime | None = Field(
        default=None,
        strict=False,
        description="when the report was taken, if it is sent later (offline capture); "
        "with a UTC offset",
    )

    @field_validator("photo_ids")
    @classmethod
    def _each_photo_once(cls, photo_ids: list[str]) -> list[str]:
        if len(set(photo_ids)) != len(photo_ids):
            raise ValueError("each photo at most once")
        return photo_ids


class RateRequest(RequestModel):
    """评价: how well the closed work order was handled."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"score": 5, "comment": "很及时"}]})

    score: int = Field(ge=1, le=5, description="1 (poor) to 5 (very good)")
    comment: str = Field(default="", max_length=MAX_TEXT_LENGTH)

    def command(self, report_id: str, reporter_id: str, key: str | None) -> AskAboutReport:
        return AskAboutReport(
            report_id, reporter_id, RequestAction.RATE, self.comment, self.score, key
        )


class ReopenRequest(RequestModel):
    """发回重办: the problem is back, or was not fixed."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "杂物又堆回来了"}]})

    reason: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)

    def command(self, report_id: str, reporter_id: str, key: str | None) -> AskAboutReport:
        return AskAboutReport(report_id, reporter_id, RequestAction.REOPEN, self.reason, None, key)


class ReportView(BaseModel):
    id: str
    reporter_id: str
    district: str
    category: str
    category_name: str | None
    lat: float
    lon: float
    text: str
    status: str = Field(
        description="submitted, rejected, pending_review, filed, dispatched, claimed, resolved, "
        "rework, closed, reopened, rated, voided, merged or withdrawn"
    )
    status_label: str
    grid_id: str | None
    grid_name: str | None
    work_order_id: str | None
    work_order_state: str | None = Field(description="the work order's state as last heard")
    deadline: datetime | None = Field(
        description="the handling deadline (处置时限) of the work order's current assignment"
    )
    closed_at: datetime | None = Field(
        description="when the work order was last closed (结案); the reopening window runs from it"
    )
    rejection_reason_code: str | None
    rejection_reason: str | None
    submitted_at: datetime
    updated_at: datetime
    captured_at: datetime | None = Field(description="when the report was taken, if sent later")
    occurred_at: datetime = Field(description="captured_at, else submitted_at")
    photos: list[ReportPhotoView]

    @classmethod
    def fields_of(cls, report: Report) -> dict[str, object]:
        return {
            "id": report.id,
            "reporter_id": report.reporter_id,
            "district": report.district,
            "category": report.category,
            "category_name": report.category_name,
            "lat": report.lat,
            "lon": report.lon,
            "text": report.text,
            "status": report.status.value,
            "status_label": report.status_label,
            "grid_id": report.grid_id,
            "grid_name": report.grid_name,
            "work_order_id": report.work_order_id,
            "work_order_state": report.work_order_state,
            "deadline": report.deadline,
            "closed_at": report.closed_at,
            "rejection_reason_code": report.rejection_code,
            "rejection_reason": report.rejection_reason,
            "submitted_at": report.submitted_at,
            "updated_at": report.updated_at,
            "captured_at": report.captured_at,
            "occurred_at": report.occurred_at,
            "photos": [ReportPhotoView.of(photo) for photo in report.photos],
        }

    @classmethod
    def of(cls, report: Report) -> ReportView:
        return cls.model_validate(cls.fields_of(report))


class StepPhotoView(BaseModel):
    id: str
    url: str
    thumbnail_url: str


class TimelineView(BaseModel):
    step: str
    label: str
    at: datetime
    work_order_id: str | None
    detail: str | None = Field(description="e.g. the assignee, the note, the reason")
    photos: list[StepPhotoView] = Field(
        default_factory=list, description="the grid worker's evidence photos of a resolution"
    )

    @classmethod
    def of(cls, entry: TimelineEntry) -> TimelineView:
        return cls(
            step=entry.step,
            label=entry.label,
            at=entry.at,
            work_order_id=entry.work_order_id,
            detail=entry.detail,
            photos=[
                StepPhotoView(id=photo, url=photo_url(photo), thumbnail_url=thumbnail_url(photo))
                for photo in entry.photos
            ],
        )


class ReportDetail(ReportView):
    """A report with every step it went through, oldest first."""

    timeline: list[TimelineView]

    @classmethod
    def with_timeline(cls, report: Report, timeline: list[TimelineEntry]) -> ReportDetail:
        steps = [TimelineView.of(entry) for entry in timeline]
        return cls.model_validate({**cls.fields_of(report), "timeline": steps})


class ReportList(CursorPage[ReportView]):
    """The caller's reports, newest first."""


class CategoryView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    group_code: str
    group_name: str
    priority: str
    handle_limit: str = Field(description="the handling time limit in words, e.g. 4 工作时")
    active: bool = Field(description="whether it may be reported now")
    photo_required: bool = Field(description="whether a report of it needs a photo")


class DistrictCatalogueView(BaseModel):
    district: str
    district_name: str
    revision: int
    published_at: datetime
    categories: list[CategoryView]

    @classmethod
    def of(cls, catalogue: Catalogue) -> DistrictCatalogueView:
        return cls(
            district=catalogue.district,
            district_name=catalogue.district_name,
            revision=catalogue.revision,
            published_at=catalogue.published_at,
            categories=[CategoryView.model_validate(entry) for entry in catalogue.entries],
        )


class RequestView(BaseModel):
    """A rating or reopening, accepted and passed on to the work order."""

    id: str
    report_id: str
    work_order_id: str
    action: Literal["rate", "reopen"]
    score: int | None
    comment: str | None = Field(description="the rating's comment")
    reason: str | None = Field(description="why the work order must be handled again")
    requested_at: datetime

    @classmethod
    def of(cls, request: ReporterRequest) -> RequestView:
        rating = request.action is RequestAction.RATE
        return cls(
            id=request.id,
            report_id=request.report_id,
            work_order_id=request.work_order_id or "",  # a rating or reopening names one
            action=request.action.value,
            score=request.score,
            comment=request.text if rating else None,
            reason=None if rating else request.text,
            requested_at=request.requested_at,
        )


ASKING: dict[str, Any] = {
    "status_code": 202,
    "response_model": RequestView,
    "responses": {
        409: {
            "description": "The report's work order is not closed (the problem names the "
            "report's `report_status`), was rated already, a reopening was asked for already, "
            "the reopening window has passed, or the Idempotency-Key was used for another "
            "request."
        }
    },
}
"""What the rating and the reopening routes answer."""


def viewer_of(principal: Principal) -> Viewer:
    """Who is asking to see a report or a photo, as the access rules know them."""
    return Viewer(
        principal.subject,
        principal.is_staff(),
        principal.all_districts,
        grids=principal.grids if principal.role is Role.GRID_WORKER else (),
        department=principal.role is Role.DEPARTMENT,
    )


def not_possible_now(refused: RequestRefused) -> Problem:
    """409 for a reporter's request the report's status does not allow, naming that status."""
    return Problem(
        409,
        "Not possible now",
        str(refused),
        extra={"report_status": refused.status.value, "report_status_label": refused.status_label},
    )


@dataclass(frozen=True)
class SubmissionMetrics:
    submitted: Counter
    limited: Counter
    """By window: an hour, a day."""
    duplicates: Counter


@dataclass(frozen=True)
class ReportsApi:
    router: APIRouter
    submit: Callable[..., Awaitable[ReportDetail]]
    """The endpoint of ``POST /v1/reports`` (the multipart form of the route ends in it)."""


def build_router(
    unit_of_work: Callable[[], AbstractReportingUnitOfWork],
    metrics: SubmissionMetrics,
    reopen_window: timedelta,
    limits_in: Callable[[str], SubmissionLimits],
    capture_window: CaptureWindow = DEFAULT_CAPTURE_WINDOW,
) -> ReportsApi:
    router = APIRouter(prefix="/v1", tags=["reports"])

    async def detail(report_id: str) -> ReportDetail:
        async with unit_of_work() as uow:
            report = await uow.reports.get(report_id)
            timeline = await uow.timeline.of_report(report_id)
        if report is None:
            raise not_found("report", report_id)
        return ReportDetail.with_timeline(report, timeline)

    @router.post(
        "/reports",
        status_code=201,
        response_model=ReportDetail,
        summary="Submit a report (随手拍上报)",
        description="A new report is answered 201. The same rider reporting the same category "
        "within a few metres and minutes of an earlier report of theirs is answered 200 with "
        "that report and the header `Duplicate-Of`: nothing new is filed.",
        responses={
            200: {
                "description": "The rider's earlier report of the same problem.",
                "model": ReportDetail,
            },
            429: {
                "description": "The rider reached a limit on reports an hour or a day; "
                "`Retry-After` says in how many seconds the next one is accepted."
            },
            403: {
                "description": "The token's role may not report, or none of the districts it "
                "covers is served here yet (no category catalogue)."
            },
            409: {"description": "The Idempotency-Key was already used for another report."},
        },
        openapi_extra=MULTIPART_REPORT_DOC,
    )
    async def submit(
        body: SubmitReportRequest,
        response: Response,
        principal: Rider,
        idempotency_key: IdempotencyKey = None,
    ) -> ReportDetail:
        command = SubmitReport(
            reporter_id=principal.subject,
            district=principal.district,
            districts=principal.all_districts,
            category=body.category,
            lat=body.lat,
            lon=body.lon,
            text=body.text,
            idempotency_key=idempotency_key,
            limits=limits_in(principal.district),
            photo_ids=tuple(body.photo_ids),
            captured_at=body.captured_at,
        )
        try:
            submission = await handlers.submit_report(
                command, unit_of_work(), capture_window=capture_window
            )
        except DistrictNotServed as error:
            raise Problem(403, "District not served", str(error)) from error
        except (UnknownCategory, InactiveCategory) as error:
            title = (
                "Unknown category" if isinstance(error, UnknownCategory) else "Inactive category"
            )
            raise Problem(
                422,
                title,
                str(error),
                extra={"errors": [{"field": "category", "message": str(error)}]},
            ) from error
        except InvalidReportField as error:
            raise Problem(
                422,
                "Invalid report",
                str(error),
                extra={"errors": [{"field": error.field, "message": str(error)}]},
            ) from error
        except IdempotencyConflict as error:
            raise Problem(409, "Idempotency-Key reused", str(error)) from error
        except TooManyReports as error:
            metrics.limited.labels("reporting", error.window).inc()
            seconds = math.ceil(error.retry_after.total_seconds())
            raise Problem(
                429, "Too many reports", str(error), headers={"Retry-After": str(seconds)}
            ) from error
        if submission.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        elif submission.duplicate:
            response.status_code = 200
            response.headers["Duplicate-Of"] = submission.report.id
            metrics.duplicates.labels("reporting").inc()
        else:
            metrics.submitted.labels("reporting").inc()
        response.headers["Location"] = f"/v1/reports/{submission.report.id}"
        return ReportDetail.with_timeline(submission.report, submission.timeline)

    @router.get(
        "/reports/{report_id}",
        response_model=ReportDetail,
        summary="A report's status and every step of its work order",
    )
    async def get_report(report_id: str, principal: Caller) -> ReportDetail:
        found = await detail(report_id)
        if not may_see_report(
            viewer_of(principal), Referrer(found.reporter_id, found.district, found.grid_id)
        ):
            raise not_found("report", report_id)
        return found

    @router.get(
        "/reports",
        response_model=ReportList,
        summary="The caller's own reports, newest first",
        description="The rider's own reports (`?mine` may be given; the list is always the "
        "caller's), newest first, a page at a time; `status` (repeatable) keeps only reports "
        "in one of those statuses.",
    )
    async def list_reports(
        principal: Rider,
        page: Page,
        status: Annotated[
            list[ReportStatus] | None,
            Query(description="keep only reports in this status; repeat for several"),
        ] = None,
    ) -> ReportList:
        async with unit_of_work() as uow:
            fetched = await uow.reports.list_by_reporter(
                principal.subject, limit=page.fetch, after=page.after, statuses=status or ()
            )
        return ReportList.of(
            page, fetched, key=lambda r: SortKey(r.submitted_at, r.id), view=ReportView.of
        )

    async def ask(command: AskAboutReport, response: Response) -> RequestView:
        try:
            asked: Asked = await ask_about_report(
                command, unit_of_work(), reopen_window=reopen_window
            )
        except ReportNotFound as error:
            raise not_found("report", command.report_id) from error
        except RequestRefused as error:
            raise not_possible_now(error) from error
        except IdempotencyConflict as error:
            raise Problem(409, "Idempotency-Key reused", str(error)) from error
        if asked.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return RequestView.of(asked.request)

    @router.post(
        "/reports/{report_id}/rate",
        summary="Rate the closed work order of one's report (评价), once",
        **ASKING,
    )
    async def rate(
        report_id: str,
        body: RateRequest,
        response: Response,
        principal: Rider,
        idempotency_key: IdempotencyKey = None,
    ) -> RequestView:
        return await ask(body.command(report_id, principal.subject, idempotency_key), response)

    @router.post(
        "/reports/{report_id}/reopen",
        summary="Ask for the closed work order of one's report to be handled again (发回重办)",
        **ASKING,
    )
    async def reopen(
        report_id: str,
        body: ReopenRequest,
        response: Response,
        principal: Rider,
        idempotency_key: IdempotencyKey = None,
    ) -> RequestView:
        return await ask(body.command(report_id, principal.subject, idempotency_key), response)

    @router.get(
        "/categories",
        response_model=list[DistrictCatalogueView],
        summary="Each district's report categories (public)",
        description="The catalogue of `district`; without it, those of the districts the "
        "bearer token covers (home first) — or, without a token, every district's, each "
        "labelled by its district. The list needs no token.",
        responses={
            401: {"description": "A bearer token was sent but is invalid (none is needed)."},
            404: {"description": "No catalogue of that district is served here."},
        },
    )
    async def categories(
        principal: MaybeCaller,
        district: Annotated[
            str | None, Query(pattern=r"^\d{6}$", description="a 6-digit district code")
        ] = None,
    ) -> list[DistrictCatalogueView]:
        wanted: tuple[str, ...] | None = (
            (district,) if district else principal.all_districts if principal else None
        )
        async with unit_of_work() as uow:
            stored = await uow.catalogues.of_districts(wanted)
        if district and district not in stored:
            raise Problem(404, "Not Found", f"district {district} is not served here")
        order = wanted or sorted(stored)
        return [DistrictCatalogueView.of(stored[d]) for d in order if d in stored]

    return ReportsApi(router, submit)
