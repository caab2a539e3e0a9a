"""The districts this deployment serves, in memory: each district's grid index, category
catalogue, roster and working calendar, rebuilt whenever any replica loads new reference data
(the database holds the truth; revisions tell a replica it is behind)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import structlog

from dispatch.domain.calendar import WorkingCalendar
from dispatch.domain.grids import GridIndex
from dispatch.domain.reference import (
    Catalogue,
    ReferenceDataError,
    Roster,
    parse_calendar,
    parse_catalogue,
    parse_roster,
)
from dispatch.service_layer.unit_of_work import AbstractDispatchUnitOfWork

_log = structlog.get_logger("gridloop.dispatch")

CATEGORIES, ROSTER, CALENDAR = "categories", "roster", "calendar"
KINDS = (CATEGORIES, ROSTER, CALENDAR)


class DistrictUnknown(LookupError):
    """No reference data of that kind is loaded for the district."""


@dataclass
class DistrictRegistry:
    grids: dict[str, GridIndex] = field(default_factory=dict)
    catalogues: dict[str, Catalogue] = field(default_factory=dict)
    rosters: dict[str, Roster] = field(default_factory=dict)
    calendars: dict[str, WorkingCalendar] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    catalogue_revisions: dict[str, int] = field(default_factory=dict)
    _grid_revisions: dict[str, tuple[int, datetime | None]] = field(default_factory=dict)
    _document_revisions: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def loaded(self) -> bool:
        return bool(self.grids)

    @property
    def districts(self) -> list[str]:
        return sorted(set(self.grids) | set(self.catalogues))

    def catalogue(self, district: str) -> Catalogue:
        if district not in self.catalogues:
            raise DistrictUnknown(f"no category catalogue is loaded for district {district}")
        return self.catalogues[district]

    def roster(self, district: str) -> Roster | None:
        return self.rosters.get(district)

    def calendar(self, district: str) -> WorkingCalendar:
        """The district's working calendar (weekdays 08:30–12:00, 13:30–17:30 until one is
        loaded)."""
        return self.calendars.get(district) or WorkingCalendar()

    def grid_name(self, district: str, grid_id: str) -> str:
        index = self.grids.get(district)
        grid = index.get(grid_id) if index else None
        return grid.name if grid else grid_id

    def category_name(self, district: str, code: str) -> str:
        catalogue = self.catalogues.get(district)
        rule = catalogue.find(code) if catalogue else None
        return rule.name if rule else code

    def has(self, district: str, kind: str) -> bool:
        """Whether the district's ``kind`` document (categories, roster, calendar) is loaded."""
        return (district, kind) in self._document_revisions

    def replace_grids(self, index: GridIndex) -> None:
        self.grids[index.district_code] = index

    def apply(self, district: str, kind: str, body: object, revision: int) -> None:
        """Make a stored document current (it was validated before it was stored)."""
        if kind == CATEGORIES:
            self.catalogues[district] = parse_catalogue(district, body)
            self.catalogue_revisions[district] = revision
            if isinstance(body, dict) and isinstance(body.get("district_name"), str):
                self.names[district] = body["district_name"]
        elif kind == ROSTER:
            self.rosters[district] = parse_roster(district, body)
        elif kind == CALENDAR:
            self.calendars[district] = parse_calendar(body)
        self._document_revisions[(district, kind)] = revision

    async def refresh(self, uow: AbstractDispatchUnitOfWork) -> bool:
        """Reload whatever another replica (or an earlier run) changed; True if anything
        was."""
        async with uow:
            grid_revisions = await uow.grids.revisions()
            document_revisions = await uow.reference.revisions()
            stale_grids = [d for d, r in grid_revisions.items() if self._grid_revisions.get(d) != r]
            indexes = {d: await uow.grids.load(d) for d in stale_grids}
            documents = (
                await uow.reference.all() if document_revisions != self._document_revisions else []
            )
        for district, index in indexes.items():
            if index is not None:
                self.grids[district] = index
            self._grid_revisions[district] = grid_revisions[district]
        for document in documents:
            if (
                self._document_revisions.get((document.district, document.kind))
                == document.revision
            ):
                continue
            try:
                self.apply(document.district, document.kind, document.body, document.revision)
            except ReferenceDataError as error:  # stored before a rule tightened: keep the old
                _log.error("reference.unreadable", district=document.district, error=str(error))
        changed = bool(indexes or documents)
        if changed:
            _log.info("districts.refreshed", districts=self.districts)
        return changed
