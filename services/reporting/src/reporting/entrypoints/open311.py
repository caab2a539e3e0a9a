"""Open311 GeoReport v2 (JSON) under ``/open311/v2`` — other city systems (a 12345 hotline
platform, an app) list the services, file requests with a partner API key and follow them —
and the admin routes that issue, list and revoke those keys (``/v1/admin/open311/keys``).

Every error on ``/open311/v2`` is the spec's array ``[{"code": 400, "description": "…"}]``
with the same HTTP status (400, 403, 404; 405 and 413 too), never a problem document: the
routes' own :class:`Open311Route` turns each refusal, validation error and HTTP error into
one, and a catch-all route answers every other path below the prefix. The Open311 routes are
left out of the service's OpenAPI document (whose errors are all problem documents): the
GeoReport v2 spec and docs/open311.md describe them.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import Counter
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from common.auth import Principal, Role, require_roles
from common.problems import Problem, not_found
from common.service.request_model import RequestModel
from reporting.domain.catalogues import Catalogue
from reporting.domain.open311 import (
    ApiKey,
    Refusal,
    ServiceRequest,
    bad_request,
    forbidden,
    new_request,
    open311_status,
    request_query,
    served_jurisdiction,
)
from reporting.domain.open311 import not_found as open311_not_found
from reporting.domain.reports import ReportStatus
from reporting.service_layer import partners
from reporting.service_layer.partners import Open311UnitOfWork

PREFIX = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-30T00:00:00Z"
"""When this endpoint last changed in a way a client would notice (discovery's changeset)."""
JSON_ONLY = "only JSON is supported here: use the .json form of this URL"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_OUTCOMES = {200: "ok", 400: "bad_request", 403: "forbidden", 404: "not_found"}

UnitOfWork = Callable[[], Open311UnitOfWork]
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


SERVICE = "reporting"


def error_response(
    status: int, description: str, headers: dict[str, str] | None = None
) -> Response:
    """The spec's error format: an array of code and description, with the same status."""
    return JSONResponse(
        [{"code": status, "description": description}], status_code=status, headers=headers
    )


def _validation_description(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part not in {"query", "path"})
        parts.append(f"{where or 'request'}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def open311_route_class(requests_total: Counter) -> type[APIRoute]:
    """Routes that answer every error in the spec's format and count each request by
    operation and outcome."""

    class Open311Route(APIRoute):
        def get_route_handler(self) -> Handler:
            handle: Handler = super().get_route_handler()
            operation = self.name

            async def answer(request: Request) -> Response:
                try:
                    response = await handle(request)
                except Refusal as refusal:
                    response = error_response(refusal.status, refusal.description)
                except RequestValidationError as error:
                    response = error_response(400, _validation_description(error))
                except Problem as problem:
                    response = error_response(problem.status, problem.detail, problem.headers)
                except StarletteHTTPException as error:
                    response = error_response(error.status_code, str(error.detail))
                except Exception:
                    requests_total.labels(SERVICE, operation, "error").inc()
                    raise
                outcome = _OUTCOMES.get(response.status_code, str(response.status_code))
                requests_total.labels(SERVICE, operation, outcome).inc()
                return response

            return answer

    return Open311Route


# --- what the routes answer ----------------------------------------------------------------


class ServiceView(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool = Field(description="false: no service has extra attributes")
    type: str
    keywords: str
    group: str


class ServiceDefinitionView(BaseModel):
    service_code: str
    attributes: list[dict[str, Any]]


class CreatedView(BaseModel):
    service_request_id: str
    service_notice: str | None
    account_id: str | None


class ServiceRequestView(BaseModel):
    """A request as GeoReport v2 shows it: never who reported it."""

    service_request_id: str
    status: str = Field(description="open or closed")
    status_notes: str | None
    service_name: str | None
    service_code: str
    description: str
    agency_responsible: str | None = Field(description="the grid (网格) the work order is in")
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None = Field(description="the work order's deadline")
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float
    long: float
    media_url: str | None

    @classmethod
    def of(cls, found: ServiceRequest) -> ServiceRequestView:
        report, details = found.report, found.details
        notes = report.status_label
        if report.status is ReportStatus.REJECTED and report.rejection_reason:
            notes = f"{notes}：{report.rejection_reason}"
        return cls(
            service_request_id=report.id,
            status=open311_status(report.status).value,
            status_notes=notes,
            service_name=report.category_name,
            service_code=report.category,
            description=report.text,
            agency_responsible=report.grid_name,
            service_notice=None,
            requested_datetime=report.submitted_at,
            updated_datetime=report.updated_at,
            expected_datetime=report.deadline,
            address=details.address if details else None,
            address_id=None,
            zipcode=None,
            lat=report.lat,
            long=report.lon,
            media_url=details.media_url if details else None,
        )


def _service(catalogue: Catalogue) -> list[ServiceView]:
    return [
        ServiceView(
            service_code=entry.code,
            service_name=entry.name,
            description=f"{entry.group_name} · {entry.name}（处置时限 {entry.handle_limit}）",
            metadata=False,
            type="realtime",
            keywords="",
            group=entry.group_name,
        )
        for entry in catalogue.entries
        if entry.active
    ]


def _parameters(request: Request) -> dict[str, str]:
    return dict(request.query_params)


async def _form(request: Request) -> dict[str, str]:
    """The request's parameters: its query string, then its form-encoded body over it."""
    values = _parameters(request)
    body = await request.body()
    if not body:
        return values
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM_CONTENT_TYPE:
        raise bad_request(
            f"send the request as {FORM_CONTENT_TYPE} (media uploads are not supported: "
            "send media_url)"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("the form is not UTF-8") from None
    values.update(parse_qsl(text, keep_blank_values=True))
    return values


def build_open311_router(unit_of_work: UnitOfWork, requests_total: Counter) -> APIRouter:
    router = APIRouter(
        prefix=PREFIX,
        tags=["open311"],
        route_class=open311_route_class(requests_total),
        include_in_schema=False,
    )

    async def catalogue_for(request: Request) -> Catalogue:
        served = await partners.served_catalogues(unit_of_work())
        requested = _parameters(request).get("jurisdiction_id", "").strip() or None
        district = served_jurisdiction(requested, served)
        return served[district]

    @router.get("/discovery.json", name="discovery")
    async def discovery(request: Request) -> dict[str, Any]:
        return {
            "changeset": CHANGESET,
            "contact": "the district administrator (区网格化服务管理中心) issues API keys",
            "key_service": "API keys are issued per partner system by the district "
            "administrator (POST /v1/admin/open311/keys)",
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": str(request.base_url).rstrip("/") + PREFIX,
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["application/json"],
                }
            ],
        }

    @router.get("/services.json", name="services", response_model=list[ServiceView])
    async def services(request: Request) -> list[ServiceView]:
        return _service(await catalogue_for(request))

    @router.get(
        "/services/{service_code}.json",
        name="service_definition",
        response_model=ServiceDefinitionView,
    )
    async def service_definition(service_code: str, request: Request) -> ServiceDefinitionView:
        catalogue = await catalogue_for(request)
        entry = catalogue.find(service_code)
        if entry is None or not entry.active:
            raise open311_not_found(
                f"service_code '{service_code[:20]}' is not a service of jurisdiction "
                f"{catalogue.district}"
            )
        return ServiceDefinitionView(service_code=entry.code, attributes=[])

    @router.post("/requests.json", name="create", response_model=list[CreatedView])
    async def create_request(request: Request) -> list[CreatedView]:
        values = await _form(request)
        key = await partners.authenticate(values.get("api_key"), unit_of_work())
        served = await partners.served_catalogues(unit_of_work())
        requested = values.get("jurisdiction_id", "").strip() or None
        catalogue = served.get(_district_of(key, requested, served))
        if catalogue is None:
            raise open311_not_found(f"jurisdiction {key.district} is not served here yet")
        report = await partners.file_request(key, new_request(values), catalogue, unit_of_work())
        notice = f"已上报，待受理：{catalogue.district_name}将立案并派遣到网格"
        return [CreatedView(service_request_id=report.id, service_notice=notice, account_id=None)]

    @router.get("/requests.json", name="list", response_model=list[ServiceRequestView])
    async def list_requests(request: Request) -> list[ServiceRequestView]:
        catalogue = await catalogue_for(request)
        query = request_query(catalogue.district, _parameters(request), now=datetime.now(UTC))
        found = await partners.find_requests(query, unit_of_work())
        return [ServiceRequestView.of(item) for item in found]

    @router.get(
        "/requests/{service_request_id}.json",
        name="get",
        response_model=list[ServiceRequestView],
    )
    async def get_request(service_request_id: str, request: Request) -> list[ServiceRequestView]:
        catalogue = await catalogue_for(request)
        query = request_query(
            catalogue.district, {"service_request_id": service_request_id}, now=datetime.now(UTC)
        )
        found = await partners.find_requests(query, unit_of_work())
        if not found:
            raise open311_not_found(f"service request '{service_request_id[:64]}' was not found")
        return [ServiceRequestView.of(found[0])]

    served_routes = list(router.routes)

    @router.api_route("/{path:path}", methods=list(_METHODS), name="unsupported")
    async def unsupported(path: str, request: Request) -> Response:
        if path.endswith(".xml"):
            raise bad_request(JSON_ONLY)
        allowed = _other_methods(request, served_routes)
        if allowed:
            return error_response(
                405, f"{request.method} is not allowed here", {"Allow": ", ".join(allowed)}
            )
        raise open311_not_found(f"no Open311 resource at {PREFIX}/{path[:100]}")

    return router


def _district_of(key: ApiKey, requested: str | None, served: dict[str, Catalogue]) -> str:
    """The district the key files in: its own; a ``jurisdiction_id`` must name it (404 if it
    names no served district, 403 if another one)."""
    if requested is None or requested == key.district:
        return key.district
    if requested not in served:
        raise open311_not_found(f"jurisdiction_id '{requested[:20]}' is not served here")
    raise forbidden(
        f"this api_key files requests in jurisdiction {key.district} only, not {requested}"
    )


def _other_methods(request: Request, routes: list[BaseRoute]) -> list[str]:
    """The methods ``routes`` (the other Open311 routes) serve at the request's path, for a
    405."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


# --- the admin routes of the keys ----------------------------------------------------------

Admin = Annotated[Principal, require_roles(Role.ADMIN)]


class IssueKeyRequest(RequestModel):
    partner: str = Field(
        min_length=1,
        max_length=100,
        description="the partner system the key is for, e.g. 12345热线平台",
        examples=["12345热线平台"],
    )
    district: str | None = Field(
        default=None,
        pattern=r"^\d{6}$",
        description="the 6-digit district the key files requests in (default: the admin's home "
        "district); the admin's token must cover it",
    )


class ApiKeyView(BaseModel):
    id: str
    partner: str
    district: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    reporter_id: str = Field(description="the reporter its requests are filed as")

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyView:
        return cls(
            id=key.id,
            partner=key.partner,
            district=key.district,
            created_at=key.created_at,
            created_by=key.created_by,
            revoked_at=key.revoked_at,
            reporter_id=key.reporter_id,
        )


class IssuedKeyView(ApiKeyView):
    api_key: str = Field(description="the key itself: shown this once, never again")


def build_open311_admin_router(unit_of_work: UnitOfWork) -> APIRouter:
    router = APIRouter(prefix="/v1/admin/open311", tags=["open311 admin"])

    @router.post(
        "/keys",
        status_code=201,
        response_model=IssuedKeyView,
        summary="Issue an Open311 API key to a partner system (shown once)",
    )
    async def issue(body: IssueKeyRequest, principal: Admin) -> IssuedKeyView:
        district = body.district or principal.district
        if not principal.covers(district):
            raise Problem(403, "Forbidden", f"the token does not cover district {district}")
        issued = await partners.issue_key(body.partner, district, principal.subject, unit_of_work())
        return IssuedKeyView(**ApiKeyView.of(issued.key).model_dump(), api_key=issued.secret)

    @router.get(
        "/keys",
        response_model=list[ApiKeyView],
        summary="The Open311 API keys of the districts the token covers (never the keys)",
    )
    async def list_keys(principal: Admin) -> list[ApiKeyView]:
        keys = await partners.list_keys(principal.all_districts, unit_of_work())
        return [ApiKeyView.of(key) for key in keys]

    @router.delete(
        "/keys/{key_id}",
        status_code=204,
        summary="Revoke an Open311 API key (revoking it again changes nothing)",
    )
    async def revoke(key_id: str, principal: Admin) -> Response:
        try:
            await partners.revoke_key(key_id, principal.all_districts, unit_of_work())
        except LookupError as error:
            raise not_found("API key", key_id) from error
        return Response(status_code=204)

    return router


__all__ = [
    "PREFIX",
    "build_open311_admin_router",
    "build_open311_router",
    "error_response",
    "open311_route_class",
]
