"""Loading a district's reference data: grids, category catalogue, roster, working calendar.
Each document is validated whole before anything changes, stored, and made current; a new
catalogue is published for the other services (``gridloop.district.catalogue_published``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog

from common.contracts.district_events import DistrictCataloguePublished, PublishedCategory
from dispatch.domain.grids import GridFileError, GridIndex
from dispatch.domain.reference import (
    Catalogue,
    ReferenceDataError,
    parse_calendar,
    parse_catalogue,
    parse_roster,
)
from dispatch.service_layer.districts import CALENDAR, CATEGORIES, ROSTER, DistrictRegistry
from dispatch.service_layer.unit_of_work import AbstractDispatchUnitOfWork

_log = structlog.get_logger("gridloop.dispatch")


async def load_grids(
    document: Any,
    uow: AbstractDispatchUnitOfWork,
    registry: DistrictRegistry,
    *,
    district: str | None = None,
) -> GridIndex:
    """Validate a GeoJSON FeatureCollection and make it the district's grid registry.

    Raises ``GridFileError`` naming the offending feature; nothing changes then.
    """
    index = GridIndex.from_feature_collection(document)
    if district is not None and index.district_code != district:
        raise GridFileError(
            f"the grids belong to district {index.district_code}, not to district {district}"
        )
    async with uow:
        await uow.grids.replace_district(index)
        await uow.commit()
    registry.replace_grids(index)
    _log.info("grids.loaded", grids=len(index), district=index.district_code)
    return index


async def load_document(
    district: str,
    kind: str,
    document: Any,
    uow: AbstractDispatchUnitOfWork,
    registry: DistrictRegistry,
) -> int:
    """Validate and store the district's ``kind`` document; returns its revision.

    Raises :class:`ReferenceDataError` naming every problem; nothing changes then.
    """
    catalogue: Catalogue | None = None
    if kind == CATEGORIES:
        catalogue = parse_catalogue(district, document)
    elif kind == ROSTER:
        grids = registry.grids.get(district)
        parse_roster(district, document, grid_ids=[g.grid_id for g in grids] if grids else ())
    elif kind == CALENDAR:
        parse_calendar(document)
    else:
        raise ReferenceDataError("reference data", [f"unknown kind {kind!r}"])
    async with uow:
        revision = await uow.reference.put(district, kind, document)
        if catalogue is not None:
            await uow.outbox.add(
                published(district, _name(document, district), revision, catalogue),
                subject=district,
                sequence=revision,
                district=district,
            )
        await uow.commit()
    registry.apply(district, kind, document, revision)
    _log.info("reference.loaded", district=district, kind=kind, revision=revision)
    return revision


def published(
    district: str, name: str, revision: int, catalogue: Catalogue
) -> DistrictCataloguePublished:
    return DistrictCataloguePublished(
        district=district,
        district_name=name,
        revision=revision,
        categories=[
            PublishedCategory(
                code=rule.code,
                name=rule.name,
                group_code=rule.group_code,
                group_name=rule.group_name,
                priority=rule.priority.value,
                handle_limit=rule.handle_limit.describe(),
                active=rule.active,
                photo_required=rule.photo_required,
            )
            for rule in sorted(catalogue.categories.values(), key=lambda r: r.code)
        ],
        published_at=datetime.now(UTC),
    )


def _name(document: Any, district: str) -> str:
    if isinstance(document, dict) and isinstance(document.get("district_name"), str):
        return str(document["district_name"])
    return district
