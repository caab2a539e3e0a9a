"""Grid registry: the district's community grids (网格) and point-in-grid lookup.

Pure domain code: no I/O and no framework. The registry is built from a GeoJSON
FeatureCollection (RFC 7946), one Feature per grid, and answers "which grid is this
point in?" through an STR-tree over the grid polygons. The accepted file format and every
validation error are documented in ``docs/grids.md``.

Coordinates inside GeoJSON are ``[lon, lat]``; :meth:`GridIndex.locate` takes ``lat`` first,
like the rest of the API (reports carry ``lat``/``lon``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape
from shapely.validation import explain_validity

__all__ = ["REQUIRED_PROPERTIES", "Grid", "GridFileError", "GridIndex"]

#: Properties every grid feature must carry, as non-empty strings.
REQUIRED_PROPERTIES: tuple[str, ...] = ("grid_id", "name", "community", "street", "district_code")

_DISTRICT_CODE = re.compile(r"[0-9]{6}")
_GEOMETRY_TYPES = ("Polygon", "MultiPolygon")


class GridFileError(ValueError):
    """A grid FeatureCollection was rejected.

    ``feature_index`` (position in ``features``) and ``grid_id`` are set when the problem
    belongs to one feature; ``reason`` is the bare explanation without that prefix.
    """

    def __init__(
        self, reason: str, *, feature_index: int | None = None, grid_id: str | None = None
    ) -> None:
        self.reason = reason
        self.feature_index = feature_index
        self.grid_id = grid_id
        if feature_index is None:
            message = reason
        elif grid_id is None:
            message = f"feature #{feature_index}: {reason}"
        else:
            message = f"feature #{feature_index} (grid_id {grid_id!r}): {reason}"
        super().__init__(message)


@dataclass(frozen=True)
class Grid:
    """One community grid (网格): identity, place in the hierarchy and its area."""

    grid_id: str
    name: str
    community: str
    street: str
    district_code: str
    geometry: Polygon | MultiPolygon

    def to_feature(self) -> dict[str, Any]:
        """This grid as a GeoJSON Feature (required properties only)."""
        return {
            "type": "Feature",
            "properties": {
                "grid_id": self.grid_id,
                "name": self.name,
                "community": self.community,
                "street": self.street,
                "district_code": self.district_code,
            },
            "geometry": mapping(self.geometry),
        }


class GridIndex:
    """All grids of one district, with point lookup.

    Build it with :meth:`from_feature_collection`, which validates the document; the
    constructor only re-checks the invariants (non-empty, unique ids, one district).
    """

    def __init__(self, grids: Iterable[Grid]) -> None:
        self._grids: tuple[Grid, ...] = tuple(grids)
        if not self._grids:
            raise ValueError("a grid index needs at least one grid")
        self._by_id: dict[str, Grid] = {}
        for grid in self._grids:
            if grid.grid_id in self._by_id:
                raise ValueError(f"duplicate grid_id {grid.grid_id!r}")
            self._by_id[grid.grid_id] = grid
        codes = {grid.district_code for grid in self._grids}
        if len(codes) != 1:
            raise ValueError(f"grids of more than one district: {sorted(codes)}")
        self._district_code = codes.pop()
        geometries = [grid.geometry for grid in self._grids]
        # Cache the prepared form so the exact `covers` test in locate() is fast.
        shapely.prepare(geometries)
        self._tree = shapely.STRtree(geometries)
        minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(geometries))
        self._bounds = (minx, miny, maxx, maxy)

    @classmethod
    def from_feature_collection(cls, document: Mapping[str, Any]) -> GridIndex:
        """Validate a GeoJSON FeatureCollection of grids and index it.

        Raises :class:`GridFileError` naming the first offending feature and the problem.
        """
        if not isinstance(document, Mapping):
            raise GridFileError(
                f"expected a GeoJSON FeatureCollection object, got {type(document).__name__}"
            )
        if document.get("type") != "FeatureCollection":
            raise GridFileError(f"expected type 'FeatureCollection', got {document.get('type')!r}")
        features = document.get("features")
        if not isinstance(features, Sequence) or isinstance(features, str | bytes):
            raise GridFileError("'features' must be an array of Feature objects")
        if not features:
            raise GridFileError("the FeatureCollection has no features")

        grids: list[Grid] = []
        first_index_of: dict[str, int] = {}
        district: tuple[str, int] | None = None  # (district_code, index of first feature)
        for index, feature in enumerate(features):
            grid = _parse_feature(index, feature)
            if district is None:
                district = (grid.district_code, index)
            elif grid.district_code != district[0]:
                raise GridFileError(
                    f"district_code {grid.district_code!r} differs from {district[0]!r} "
                    f"(feature #{district[1]}); one file holds the grids of one district",
                    feature_index=index,
                    grid_id=grid.grid_id,
                )
            if grid.grid_id in first_index_of:
                raise GridFileError(
                    f"duplicate grid_id, already used by feature #{first_index_of[grid.grid_id]}",
                    feature_index=index,
                    grid_id=grid.grid_id,
                )
            first_index_of[grid.grid_id] = index
            grids.append(grid)
        return cls(grids)

    def locate(self, lat: float, lon: float) -> Grid | None:
        """The grid covering the point, or None if it lies outside every grid.

        A point on a border shared by several grids resolves to the smallest ``grid_id``.
        """
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return None
        point = Point(lon, lat)
        best: Grid | None = None
        for i in self._tree.query(point):
            grid = self._grids[int(i)]
            if grid.geometry.covers(point) and (best is None or grid.grid_id < best.grid_id):
                best = grid
        return best

    def get(self, grid_id: str) -> Grid | None:
        return self._by_id.get(grid_id)

    @property
    def grids(self) -> tuple[Grid, ...]:
        """All grids, in file order."""
        return self._grids

    @property
    def district_code(self) -> str:
        return self._district_code

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Bounding box of all grids as ``(min_lon, min_lat, max_lon, max_lat)``."""
        return self._bounds

    def to_feature_collection(self) -> dict[str, Any]:
        """The registry as a GeoJSON FeatureCollection that this class loads back."""
        return {
            "type": "FeatureCollection",
            "features": [grid.to_feature() for grid in self._grids],
        }

    def __len__(self) -> int:
        return len(self._grids)

    def __iter__(self) -> Iterator[Grid]:
        return iter(self._grids)

    def __repr__(self) -> str:
        return f"GridIndex(district_code={self._district_code!r}, grids={len(self._grids)})"


def _parse_feature(index: int, feature: Any) -> Grid:
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        got = feature.get("type") if isinstance(feature, Mapping) else type(feature).__name__
        raise GridFileError(f"not a GeoJSON Feature (got {got!r})", feature_index=index)
    properties = feature.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, Mapping):
        raise GridFileError("'properties' must be an object", feature_index=index)

    raw_id = properties.get("grid_id")
    grid_id = raw_id if isinstance(raw_id, str) and raw_id.strip() else None

    def fail(reason: str) -> GridFileError:
        return GridFileError(reason, feature_index=index, grid_id=grid_id)

    missing = [key for key in REQUIRED_PROPERTIES if properties.get(key) in (None, "")]
    if missing:
        raise fail(f"missing or empty required properties: {', '.join(missing)}")
    values: dict[str, str] = {}
    for key in REQUIRED_PROPERTIES:
        value = properties[key]
        if not isinstance(value, str):
            raise fail(f"property {key!r} must be a string, got {type(value).__name__}")
        if not value.strip():
            raise fail(f"property {key!r} is blank")
        values[key] = value
    if not _DISTRICT_CODE.fullmatch(values["district_code"]):
        raise fail(
            f"district_code must be 6 digits (e.g. '370812'), got {values['district_code']!r}"
        )

    geometry = _parse_geometry(feature.get("geometry"), fail)
    return Grid(
        grid_id=values["grid_id"],
        name=values["name"],
        community=values["community"],
        street=values["street"],
        district_code=values["district_code"],
        geometry=geometry,
    )


def _parse_geometry(raw: Any, fail: Callable[[str], GridFileError]) -> Polygon | MultiPolygon:
    """Check a GeoJSON geometry object and build it; ``fail(reason)`` makes the error."""
    if raw is None:
        raise fail("geometry is missing")
    if not isinstance(raw, Mapping):
        raise fail("geometry must be a GeoJSON geometry object")
    kind = raw.get("type")
    if kind not in _GEOMETRY_TYPES:
        raise fail(f"geometry type must be Polygon or MultiPolygon, got {kind!r}")
    coordinates = raw.get("coordinates")
    depth = 3 if kind == "Polygon" else 4  # polygon: rings > positions > numbers
    try:
        positions = list(_positions(coordinates, depth))
    except _MalformedCoordinates as exc:
        raise fail(f"{kind} coordinates are malformed: {exc}") from None
    for lon, lat in positions:
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise fail(
                f"coordinate [{lon}, {lat}] is outside lon [-180, 180] / lat [-90, 90] "
                "(GeoJSON order is [lon, lat])"
            )
    try:
        geometry = shapely.force_2d(shape({"type": kind, "coordinates": coordinates}))
    except Exception as exc:  # shapely/GEOS raise several types for bad rings
        raise fail(f"cannot build the {kind.lower()}: {exc}") from None
    if not isinstance(geometry, Polygon | MultiPolygon):  # pragma: no cover - guarded above
        raise fail(f"geometry type must be Polygon or MultiPolygon, got {geometry.geom_type}")
    if geometry.is_empty:
        raise fail(f"{kind.lower()} is empty")
    if not geometry.is_valid:
        raise fail(f"{kind.lower()} is invalid: {explain_validity(geometry)}")
    return geometry


class _MalformedCoordinates(Exception):
    pass


def _positions(value: Any, depth: int) -> Iterator[tuple[float, float]]:
    """Yield ``(lon, lat)`` of every position in a nested coordinate array of ``depth``."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise _MalformedCoordinates(f"expected an array, got {type(value).__name__}")
    if depth == 1:
        if len(value) < 2:
            raise _MalformedCoordinates(f"a position needs [lon, lat], got {list(value)!r}")
        numbers = value[:2]
        if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
            raise _MalformedCoordinates(f"a position must hold numbers, got {list(value)!r}")
        yield float(numbers[0]), float(numbers[1])
        return
    for item in value:
        yield from _positions(item, depth - 1)
