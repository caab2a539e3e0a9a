"""A district's reference data over HTTP: admins load its grids, categories, roster and
working calendar (each replaced whole, refused whole with every problem named); anyone may
read the districts served and their category catalogues."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, Field

from common.auth import Principal, Role, require_roles
from common.problems import Problem, not_found
from common.service.body_limit import allow_body_bytes
from dispatch.domain.grids import GridFileError, GridIndex
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


class GridLoadSummary(BaseModel):
    district_code: str
    grids: int
    streets: int
    communities: int


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


def _grid_summary(index: GridIndex) -> GridLoadSummary:
    return GridLoadSummary(
        district_code=index.district_code,
        grids=len(index),
        streets=len({g.street for g in index.grids}),
        communities=len({(g.street, g.community) for g in index.grids}),
    )
