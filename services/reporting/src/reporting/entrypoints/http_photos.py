"""HTTP API of photos (/v1/photos), and the multipart form of POST /v1/reports (a report with
its photos inline), which stores the photos and then takes the JSON form's own path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from prometheus_client import Counter
from pydantic import ValidationError
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.routing import Match
from starlette.types import Scope

from common.auth import Principal, Role, current_principal, require_roles
from common.problems import Problem, not_found
from common.service.body_limit import allow_body_bytes
from reporting.domain.photos import (
    MAX_PHOTOS_PER_REPORT,
    PhotoNotFound,
    PhotoRefused,
    RefusalReason,
)
from reporting.entrypoints.http import (
    IdempotencyKey,
    ReportDetail,
    SubmitReportRequest,
    viewer_of,
)
from reporting.entrypoints.photo_views import PhotoView, photo_url
from reporting.service_layer.photos import (
    PhotoService,
    Uploaded,
    UploadOutcome,
    photo_content,
    upload_photo,
)
from reporting.service_layer.unit_of_work import AbstractReportingUnitOfWork

Caller = Annotated[Principal, Depends(current_principal)]
Rider = Annotated[Principal, require_roles(Role.RIDER)]
SubmitEndpoint = Callable[..., Awaitable[ReportDetail]]

SERVICE = "reporting"
MULTIPART = "multipart/form-data"
MULTIPART_ALLOWANCE = 64 * 1024
"""Room in a multipart body for its boundaries, part headers and form fields."""
_REFUSAL_STATUS = {RefusalReason.TYPE: 415, RefusalReason.SIZE: 413, RefusalReason.PIXELS: 422}
_REFUSAL_TITLE = {
    RefusalReason.TYPE: "Unsupported image type",
    RefusalReason.SIZE: "Photo too large",
    RefusalReason.PIXELS: "Image too large",
}
_REPORT_FIELDS = ("category", "lat", "lon", "text", "captured_at")


@dataclass(frozen=True)
class PhotoMetrics:
    uploaded: Counter
    """``gridloop_photos_uploaded_total{service, outcome}``"""
    bytes_stored: Counter
    """``gridloop_photo_bytes_stored_total`` of this service (the labelled child)"""


class MultipartRoute(APIRoute):
    """A route taken only by ``multipart/form-data`` requests: placed before a JSON route of
    the same path and method, it leaves every other request to that one."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and _media_type(scope) != MULTIPART:
            return Match.NONE, {}
        return super().matches(scope)


def _media_type(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return ""


def _refused(error: PhotoRefused, field: str) -> Problem:
    status = _REFUSAL_STATUS[error.reason]
    extra: dict[str, Any] = {"reason": error.reason.value}
    if status == 422:
        extra["errors"] = [{"field": field, "message": str(error)}]
    return Problem(status, _REFUSAL_TITLE[error.reason], str(error), extra=extra)


@dataclass(frozen=True)
class PhotoUploads:
    """Stores an uploaded file part as a photo of the caller, counting the outcome."""

    unit_of_work: Callable[[], AbstractReportingUnitOfWork]
    service: PhotoService
    metrics: PhotoMetrics

    @property
    def max_bytes(self) -> int:
        return self.service.limits.max_bytes

    async def store(
        self, upload: StarletteUploadFile, principal: Principal, field: str
    ) -> Uploaded:
        """The photo, or a problem naming ``field`` (the form part it came in)."""
        data = await upload.read(self.max_bytes + 1)
        try:
            uploaded = await upload_photo(
                data,
                uploader_id=principal.subject,
                district=principal.district,
                service=self.service,
                unit_of_work=self.unit_of_work,
            )
        except PhotoRefused as error:
            self.metrics.uploaded.labels(SERVICE, error.reason.value).inc()
            raise _refused(error, field) from error
        self.metrics.uploaded.labels(SERVICE, uploaded.outcome.value).inc()
        if uploaded.outcome is UploadOutcome.STORED:
            self.metrics.bytes_stored.inc(uploaded.photo.size)
        return uploaded


def build_photo_router(uploads: PhotoUploads) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["photos"])
    max_upload = uploads.max_bytes

    @router.post(
        "/photos",
        status_code=201,
        response_model=PhotoView,
        summary="Upload a photo for a report (JPEG, PNG or WebP)",
        description="The image is checked by its content (never its name or Content-Type), "
        "turned upright, re-encoded without any metadata (EXIF, GPS, XMP) and stored by its "
        "SHA-256. The same picture sent again by the same caller answers 200 with the same "
        "photo. Riders then name it in `photo_ids` of POST /v1/reports.",
        responses={
            200: {"description": "The caller had uploaded the same picture already: that photo."},
            413: {"description": f"The photo is larger than {max_upload} bytes."},
            415: {"description": "The file is not a readable JPEG, PNG or WebP image."},
            422: {"description": "The image declares more pixels than allowed, or no file."},
        },
    )
    @allow_body_bytes(max_upload + MULTIPART_ALLOWANCE)
    async def upload(
        file: Annotated[UploadFile, File(description="one JPEG, PNG or WebP image")],
        response: Response,
        principal: Caller,
    ) -> PhotoView:
        uploaded = await uploads.store(file, principal, "file")
        response.headers["Location"] = photo_url(uploaded.photo.id)
        if not uploaded.created:
            response.status_code = 200
        return PhotoView.of_photo(uploaded.photo)

    async def serve(
        photo_id: str, principal: Principal, request: Request, *, thumbnail: bool
    ) -> Response:
        viewer = viewer_of(principal)
        try:
            content = await photo_content(
                photo_id,
                viewer,
                thumbnail=thumbnail,
                service=uploads.service,
                unit_of_work=uploads.unit_of_work,
            )
        except PhotoNotFound as error:
            raise not_found("photo", photo_id) from error
        etag = f'"{content.etag}"'
        headers = {"ETag": etag, "Cache-Control": "private, max-age=86400"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(content.data, media_type=content.media_type, headers=headers)

    image_answer: dict[int | str, dict[str, Any]] = {
        200: {
            "description": "The image bytes",
            "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}},
        },
        304: {"description": "Not modified (If-None-Match named the current ETag)."},
        404: {"description": "No such photo, or none the caller may see."},
    }

    @router.get(
        "/photos/{photo_id}",
        response_class=Response,
        summary="A photo's bytes (to its uploader, its report's reporter and district staff)",
        responses=image_answer,
    )
    async def get_photo(photo_id: str, principal: Caller, request: Request) -> Response:
        return await serve(photo_id, principal, request, thumbnail=False)

    @router.get(
        "/photos/{photo_id}/thumbnail",
        response_class=Response,
        summary="A photo's thumbnail (WebP, at most 320 px a side)",
        responses=image_answer,
    )
    async def get_thumbnail(photo_id: str, principal: Caller, request: Request) -> Response:
        return await serve(photo_id, principal, request, thumbnail=True)

    return router


def build_multipart_report_router(submit: SubmitEndpoint, uploads: PhotoUploads) -> APIRouter:
    """POST /v1/reports in ``multipart/form-data``: form fields ``category``, ``lat``, ``lon``,
    ``text``, ``captured_at`` and 1–3 image parts ``photo``. The photos are checked and stored
    as uploads are; then ``submit`` (the JSON route's endpoint) files the report with their ids.
    Include it before the JSON route; it is documented in that route's OpenAPI."""
    router = APIRouter(prefix="/v1", tags=["reports"], route_class=MultipartRoute)

    @router.post("/reports", status_code=201, response_model=ReportDetail, include_in_schema=False)
    @allow_body_bytes(
        MAX_PHOTOS_PER_REPORT * uploads.max_bytes + MULTIPART_ALLOWANCE, media_type=MULTIPART
    )
    async def submit_with_photos(
        request: Request,
        response: Response,
        principal: Rider,
        idempotency_key: IdempotencyKey = None,
    ) -> ReportDetail:
        async with request.form(
            max_files=MAX_PHOTOS_PER_REPORT, max_fields=len(_REPORT_FIELDS) + 5
        ) as form:
            fields = {
                name: value for name in _REPORT_FIELDS if isinstance(value := form.get(name), str)
            }
            photos = [part for part in form.getlist("photo") if not isinstance(part, str)]
            unknown = sorted(set(form.keys()) - {*_REPORT_FIELDS, "photo"})
            if unknown:
                raise _invalid(unknown[0], "not a field of a report")
            if not photos:
                raise _invalid("photo", "a report sent as multipart/form-data carries 1–3 photos")
            try:
                body = SubmitReportRequest.model_validate(fields, strict=False)
            except ValidationError as error:
                raise RequestValidationError(error.errors(), body=fields) from error
            stored = [await uploads.store(part, principal, "photo") for part in photos]
        photo_ids = list(dict.fromkeys(uploaded.photo.id for uploaded in stored))
        body = body.model_copy(update={"photo_ids": photo_ids})
        return await submit(
            body=body, response=response, principal=principal, idempotency_key=idempotency_key
        )

    return router


def _invalid(field: str, message: str) -> Problem:
    return Problem(
        422,
        "Invalid request",
        f"{field}: {message}",
        extra={"errors": [{"field": field, "message": message}]},
    )
