"""A district's reference data over HTTP: admins load its grids, categories, roster and
working calendar (each replaced whole, refused whole with every problem named); anyone may
read the districts served, their category catalogues and their grids (as the GeoJSON the
admins load, with an ETag and a short max-age: maps fetch them often)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Path
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from common.auth import Principal, Role, require_roles
from common.problems import Problem, not_found
from common.service.body_limit import allow_body_bytes
from dispatch.domain.grids import Grid, GridFileError, GridIndex
from dispatch.domain.reference import ReferenceDataError
from dispatch.service_layer import reference
from dispatch.service_layer.districts import CALENDAR, CATEGORIES, ROSTER, DistrictRegistry
from dispatch.service_layer.unit_of_work import AbstractDispatchUnitOfWork

Admin = Annotated[Principal, require_roles(Role.ADMIN)]
DistrictCode = Annotated[str, Path(pattern=r"^\d{6}$", description="6-digit district code")]
ReferenceBody = Annotated[
    dict[str, Any],
    Body(description="the category catalogue, roster or working calendar (docs/workflow.md)"),
]
"""Module-level: with postponed annotations FastAPI resolves them in the module's globals."""
IfNoneMatch = Annotated[
    str | None,
    Header(description="the ETag of the grids the caller holds: 304 if they are still current"),
]

GEOJSON_TYPE = "application/geo+json"
GRIDS_MAX_AGE_SECONDS = 300
"""How long a client may use the grids it fetched without asking again (an admin's new grids
reach every replica within ``DISPATCH_GRIDS_REFRESH_SECONDS``, then callers within this)."""
GRIDS_CACHE_CONTROL = f"public, max-age={GRIDS_MAX_AGE_SECONDS}"
CACHE_HEADERS: dict[str, Any] = {
    "ETag": {
        "description": "a hash of the body: send it back in If-None-Match",
        "required": True,
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": f"public, max-age={GRIDS_MAX_AGE_SECONDS}",
        "required": True,
        "schema": {"type": "string"},
    },
}


class GridLoadSummary(BaseModel):
    district_code: str
    grids: int
    streets: int
    communities: int


class GridProperties(BaseModel):
    grid_id: str = Field(description="the grid's identifier; work orders and rosters name it")
    name: str = Field(description="display name, e.g. 鼓楼街道第3社区第2网格")
    community: str = Field(description="the 社区 / 村 the grid belongs to")
    street: str = Field(description="the 街道 / 镇 the community belongs to")
    district_code: str = Field(description="the district's 6-digit code")


class GridGeometry(BaseModel):
    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any] = Field(description="GeoJSON positions, [longitude, latitude]")


class GridFeature(BaseModel):
    type: Literal["Feature"]
    id: str = Field(description="the grid_id again, as the Feature's id (maps key state by it)")
    properties: GridProperties
    geometry: GridGeometry


class GridFeatureCollection(BaseModel):
    """The district's grids in the format ``PUT /v1/districts/{district}/grids`` takes
    (docs/grids.md): what comes out can be loaded back unchanged."""

    type: Literal["FeatureCollection"]
    bbox: list[float] = Field(
        min_length=4, max_length=4, description="[west, south, east, north] of all grids"
    )
    features: list[GridFeature] = Field(description="one per grid, in the order of its file")


class GeoJSONResponse(JSONResponse):
    """``application/geo+json`` (RFC 7946); given bytes, sends them as they are."""

    media_type = GEOJSON_TYPE

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


class DocumentLoaded(BaseModel):
    district: str
    kind: str
    revision: int


class CategoryView(BaseModel):
    code: str
    name: str
    group_code: str
    group_name: str
    priority: str
    claim_limit: str
    handle_limit: str
    needs_review: bool
    active: bool
    photo_required: bool = Field(description="whether a report of it must carry a photo")


class DistrictView(BaseModel):
    code: str
    name: str
    grids: int
    categories: int
    roster: bool
    calendar: bool


def build_districts_router(
    unit_of_work: Callable[[], AbstractDispatchUnitOfWork],
    registry: DistrictRegistry,
    *,
    grids_max_body_bytes: int,
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["districts"])
    rendered: dict[str, tuple[GridIndex, bytes, str]] = {}
    """Per district: the grid index last served, as its body and ETag (rendered once per
    index: a refresh or a load replaces the index)."""

    def grids_body(index: GridIndex) -> tuple[bytes, str]:
        cached = rendered.get(index.district_code)
        if cached is None or cached[0] is not index:
            body = _grids_geojson(index)
            cached = (index, body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
            rendered[index.district_code] = cached
        return cached[1], cached[2]

    def admin_of(principal: Principal, district: str) -> None:
        if not principal.covers(district):
            raise Problem(403, "Forbidden", f"the admin token does not cover district {district}")

    async def load_grids(document: dict[str, Any], district: str | None) -> GridLoadSummary:
        try:
            index = await reference.load_grids(
                document, unit_of_work(), registry, district=district
            )
        except GridFileError as error:
            raise Problem(422, "Invalid grid file", str(error)) from error
        return _grid_summary(index)

    @router.get("/districts", response_model=list[DistrictView], summary="Districts served")
    async def districts() -> list[DistrictView]:
        return [
            DistrictView(
                code=code,
                name=registry.names.get(code, code),
                grids=len(registry.grids[code]) if code in registry.grids else 0,
                categories=len(registry.catalogues[code].categories)
                if code in registry.catalogues
                else 0,
                roster=code in registry.rosters,
                calendar=code in registry.calendars,
            )
            for code in registry.districts
        ]

    @router.get(
        "/districts/{district}/categories",
        response_model=list[CategoryView],
        summary="A district's category catalogue (public, like Open311 services)",
    )
    async def categories(district: DistrictCode) -> list[CategoryView]:
        catalogue = registry.catalogues.get(district)
        if catalogue is None:
            raise not_found("district", district)
        return [
            CategoryView(
                code=rule.code,
                name=rule.name,
                group_code=rule.group_code,
                group_name=rule.group_name,
                priority=rule.priority.value,
                claim_limit=rule.claim_limit.describe(),
                handle_limit=rule.handle_limit.describe(),
                needs_review=rule.needs_review,
                active=rule.active,
                photo_required=rule.photo_required,
            )
            for rule in sorted(catalogue.categories.values(), key=lambda r: r.code)
        ]

    @router.get(
        "/districts/{district}/grids",
        response_model=GridFeatureCollection,
        response_class=GeoJSONResponse,
        summary="A district's grids as a GeoJSON FeatureCollection (public, for maps)",
        description="The grids dispatch places reports in, as the FeatureCollection "
        "`PUT /v1/districts/{district}/grids` takes (the five properties it keeps, each "
        "Feature's `id` being its `grid_id`, and the `bbox` of all grids): what comes out can be "
        f"loaded back unchanged. Cacheable for {GRIDS_MAX_AGE_SECONDS} s; the ETag is a hash of "
        "the body, and `If-None-Match` with it answers 304 while the grids are unchanged. 404 "
        "for a district without grids.",
        responses={
            200: {"description": "The district's grids.", "headers": CACHE_HEADERS},
            304: {"description": "The grids are those the caller holds.", "headers": CACHE_HEADERS},
        },
    )
    async def get_district_grids(
        district: DistrictCode, if_none_match: IfNoneMatch = None
    ) -> Response:
        index = registry.grids.get(district)
        if index is None:
            raise Problem(404, "Not Found", f"no grids are loaded for district {district}")
        body, etag = grids_body(index)
        headers = {"ETag": etag, "Cache-Control": GRIDS_CACHE_CONTROL}
        if _matches(if_none_match, etag):
            return Response(status_code=304, headers=headers)
        return GeoJSONResponse(body, headers=headers)

    @router.put(
        "/districts/{district}/grids",
        response_model=GridLoadSummary,
        summary="Replace the district's grids with a GeoJSON FeatureCollection",
    )
    @allow_body_bytes(grids_max_body_bytes)
    async def put_district_grids(
        district: DistrictCode,
        principal: Admin,
        document: Annotated[dict[str, Any], Body(description="GeoJSON FeatureCollection")],
    ) -> GridLoadSummary:
        admin_of(principal, district)
        return await load_grids(document, district)

    @router.put(
        "/grids",
        response_model=GridLoadSummary,
        summary="Replace the grids of the district the FeatureCollection names",
    )
    @allow_body_bytes(grids_max_body_bytes)
    async def put_grids(
        principal: Admin,
        document: Annotated[dict[str, Any], Body(description="GeoJSON FeatureCollection")],
    ) -> GridLoadSummary:
        try:
            district = GridIndex.from_feature_collection(document).district_code
        except GridFileError as error:
            raise Problem(422, "Invalid grid file", str(error)) from error
        admin_of(principal, district)
        return await load_grids(document, district)

    for kind, what in (
        (CATEGORIES, "category catalogue"),
        (ROSTER, "roster"),
        (CALENDAR, "working calendar"),
    ):
        _document_route(router, unit_of_work, registry, kind, what, admin_of)

    return router


def _document_route(
    router: APIRouter,
    unit_of_work: Callable[[], AbstractDispatchUnitOfWork],
    registry: DistrictRegistry,
    kind: str,
    what: str,
    admin_of: Callable[[Principal, str], None],
) -> None:
    @router.put(
        f"/districts/{{district}}/{kind}",
        response_model=DocumentLoaded,
        summary=f"Replace the district's {what}",
        name=f"put_{kind}",
    )
    async def put_document(
        district: DistrictCode,
        principal: Admin,
        document: ReferenceBody,
    ) -> DocumentLoaded:
        admin_of(principal, district)
        try:
            revision = await reference.load_document(
                district, kind, document, unit_of_work(), registry
            )
        except ReferenceDataError as error:
            raise Problem(
                422, f"Invalid {what}", str(error), extra={"problems": error.problems}
            ) from error
        return DocumentLoaded(district=district, kind=kind, revision=revision)


def _grid_feature(grid: Grid) -> dict[str, Any]:
    feature = grid.to_feature()
    return {"type": "Feature", "id": grid.grid_id, **feature}


def _grids_geojson(index: GridIndex) -> bytes:
    document = {
        "type": "FeatureCollection",
        "bbox": list(index.bounds),
        "features": [_grid_feature(grid) for grid in index.grids],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks) or is
    ``*``."""
    if if_none_match is None:
        return False
    tags = (tag.strip() for tag in if_none_match.split(","))
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in tags)


def _grid_summary(index: GridIndex) -> GridLoadSummary:
    return GridLoadSummary(
        district_code=index.district_code,
        grids=len(index),
        streets=len({g.street for g in index.grids}),
        communities=len({(g.street, g.community) for g in index.grids}),
    )
