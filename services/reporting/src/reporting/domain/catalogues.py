"""Each district's category catalogue as dispatch last published it, and which of them a
report's category is checked against: the districts the rider's token covers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from reporting.domain.errors import DistrictNotServed, InactiveCategory, UnknownCategory


@dataclass(frozen=True)
class CatalogueEntry:
    code: str
    name: str
    group_code: str
    group_name: str
    priority: str
    handle_limit: str
    active: bool = True
    photo_required: bool = False

    @classmethod
    def of(cls, values: Mapping[str, object]) -> CatalogueEntry:
        """An entry from its published or stored fields (others are passed over)."""
        known: dict[str, Any] = {f.name: values[f.name] for f in fields(cls) if f.name in values}
        return cls(**known)


@dataclass(frozen=True)
class Catalogue:
    """One district's catalogue at one revision (the newest revision wins)."""

    district: str
    district_name: str
    revision: int
    published_at: datetime
    entries: tuple[CatalogueEntry, ...]

    def find(self, code: str) -> CatalogueEntry | None:
        return next((entry for entry in self.entries if entry.code == code), None)

    def supersedes(self, current: Catalogue | None) -> bool:
        """Whether this catalogue replaces ``current`` (an older revision, or none)."""
        return current is None or self.revision > current.revision


def _districts_phrase(catalogues: Sequence[Catalogue]) -> str:
    codes = [c.district for c in catalogues]
    return f"district {codes[0]}" if len(codes) == 1 else f"districts {', '.join(codes)}"


def choose_category(
    code: str, districts: Sequence[str], catalogues: Mapping[str, Catalogue]
) -> CatalogueEntry:
    """The category ``code`` of the first of ``districts`` (the token's, home first) whose
    catalogue lists it as active. Raises :class:`DistrictNotServed` when none of the
    districts has a catalogue, :class:`InactiveCategory` when the code is listed but nowhere
    active, :class:`UnknownCategory` when no catalogue lists it."""
    served = [catalogues[d] for d in dict.fromkeys(districts) if d in catalogues]
    if not served:
        raise DistrictNotServed(tuple(dict.fromkeys(districts)))
    listed = [entry for catalogue in served if (entry := catalogue.find(code)) is not None]
    active = next((entry for entry in listed if entry.active), None)
    if active is not None:
        return active
    where = _districts_phrase(served)
    first = served[0].district
    if listed:
        raise InactiveCategory(
            f"category '{code}' ({listed[0].name}) is no longer reported in {where}; "
            f"GET /v1/categories?district={first} lists the active codes"
        )
    raise UnknownCategory(
        f"unknown category '{code}' in {where}; "
        f"GET /v1/categories?district={first} lists the valid codes"
    )
