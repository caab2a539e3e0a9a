"""Grid polygons: reading them, random points inside or outside, bounds and distances."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from shapely.geometry import MultiPolygon, Point, Polygon, shape

from gridloop_tools.cli.simulate.config import DEFAULT_DISTRICT, SimulationError
from gridloop_tools.staff import DEMO_PACKAGE, StaffError, district_codes, districts_root

__all__ = [
    "DEMO_GRIDS_FILE",
    "DEMO_GRIDS_PACKAGE",
    "KM_PER_DEGREE_LAT",
    "Bounds",
    "GridGeometry",
    "combined_bounds",
    "distance_outside_km",
    "load_grids",
    "random_point_in",
    "random_point_outside",
    "read_district_grids",
    "read_grids",
]

DEMO_GRIDS_PACKAGE = DEMO_PACKAGE
DEMO_GRIDS_FILE = f"{DEFAULT_DISTRICT}/grids.geojson"
GRIDS_FILE = "grids.geojson"
KM_PER_DEGREE_LAT = 111.32

GridGeometry = Polygon | MultiPolygon
Bounds = tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat


def read_grids(path: Path | None, district: str | None = None) -> tuple[list[GridGeometry], str]:
    """Load the grid polygons from ``path``, or from the demo file of the dispatch package.

    Returns the polygons and a label naming where they came from.
    """
    if path is not None:
        text = _read_file(path)
        return load_grids(text, source=str(path), district=district), str(path)
    name = f"{district}/{GRIDS_FILE}" if district else DEMO_GRIDS_FILE
    label = f"{DEMO_GRIDS_PACKAGE}/{name}"
    text = _read_demo(None, name, label)
    return load_grids(text, source=label, district=district), label


def read_district_grids(
    path: Path | None, districts_dir: Path | None = None
) -> dict[str, list[GridGeometry]]:
    """Every district's grid polygons, by district code: from the GeoJSON file ``path``
    (features grouped by ``district_code``; without one they count as the default district),
    else from ``<code>/grids.geojson`` under ``districts_dir`` (default: the demo districts)."""
    if path is not None:
        text = _read_file(path)
        codes = sorted({code for code in _district_codes_in(text, str(path))})
        return {
            code: load_grids(text, source=str(path), district=code)
            for code in codes or [DEFAULT_DISTRICT]
        }
    try:
        root = districts_root(districts_dir)
    except StaffError as error:
        raise SimulationError(str(error)) from error
    found: dict[str, list[GridGeometry]] = {}
    for code in district_codes(root):
        if (root / code / GRIDS_FILE).is_file():
            label = f"{districts_dir or DEMO_GRIDS_PACKAGE}/{code}/{GRIDS_FILE}"
            text = _read_demo(root, f"{code}/{GRIDS_FILE}", label)
            found[code] = load_grids(text, source=label, district=code)
    if not found:
        raise SimulationError(
            f"no district grids under {districts_dir or DEMO_GRIDS_PACKAGE} (a folder per "
            "district code with grids.geojson); pass --districts-dir or --grids-file"
        )
    return found


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise SimulationError(f"grids file not found: {path}") from error
    except OSError as error:
        raise SimulationError(f"cannot read grids file {path}: {error.strerror}") from error


def _read_demo(root: Traversable | None, name: str, label: str) -> str:
    try:
        base = root if root is not None else resources.files(DEMO_GRIDS_PACKAGE)
        return (base / name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError, OSError) as error:
        raise SimulationError(
            f"the grids file {label} was not found (is the dispatch package installed "
            "with its demo data?); pass --grids-file PATH to a GeoJSON FeatureCollection"
        ) from error


def _district_codes_in(text: str, source: str) -> list[str]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise SimulationError(f"{source} is not valid JSON: {error}") from error
    features = document.get("features") if isinstance(document, dict) else None
    codes = []
    for feature in features if isinstance(features, list) else []:
        properties = feature.get("properties") if isinstance(feature, dict) else None
        if isinstance(properties, dict) and properties.get("district_code") is not None:
            codes.append(str(properties["district_code"]))
    return codes


def load_grids(text: str, *, source: str, district: str | None = None) -> list[GridGeometry]:
    """Parse a GeoJSON FeatureCollection into grid polygons (lon/lat order).

    Features carrying a ``district_code`` property other than ``district`` are skipped.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise SimulationError(f"{source} is not valid JSON: {error}") from error
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise SimulationError(f"{source} is not a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list):
        raise SimulationError(f"{source} has no 'features' list")
    grids: list[GridGeometry] = []
    for index, feature in enumerate(features):
        if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
            raise SimulationError(f"{source}: feature #{index} has no geometry")
        properties = feature.get("properties") or {}
        code = properties.get("district_code") if isinstance(properties, dict) else None
        if district is not None and code is not None and str(code) != district:
            continue
        try:
            geometry = shape(feature["geometry"])
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise SimulationError(f"{source}: feature #{index} has a bad geometry") from error
        if isinstance(geometry, Polygon | MultiPolygon) and not geometry.is_empty:
            grids.append(geometry)
    if not grids:
        where = f" for district {district}" if district else ""
        raise SimulationError(f"{source} contains no grid polygons{where}")
    return grids


def combined_bounds(grids: Iterable[GridGeometry]) -> Bounds:
    boxes = [grid.bounds for grid in grids]
    if not boxes:
        raise ValueError("no grids")
    return (
        min(box[0] for box in boxes),
        min(box[1] for box in boxes),
        max(box[2] for box in boxes),
        max(box[3] for box in boxes),
    )


def random_point_in(
    geometry: GridGeometry, rng: random.Random, *, max_tries: int = 10_000
) -> tuple[float, float]:
    """A uniformly random point inside ``geometry``, as ``(lon, lat)``."""
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    for _ in range(max_tries):
        lon = rng.uniform(min_lon, max_lon)
        lat = rng.uniform(min_lat, max_lat)
        if geometry.contains(Point(lon, lat)):
            return lon, lat
    fallback = geometry.representative_point()  # a sliver: any interior point will do
    return fallback.x, fallback.y


def _km_per_degree_lon(lat: float) -> float:
    return KM_PER_DEGREE_LAT * max(math.cos(math.radians(lat)), 1e-6)


def distance_outside_km(bounds: Bounds, lon: float, lat: float) -> float:
    """Approximate distance in km from ``(lon, lat)`` to the box ``bounds`` (0 inside)."""
    min_lon, min_lat, max_lon, max_lat = bounds
    d_lon = max(min_lon - lon, 0.0, lon - max_lon)
    d_lat = max(min_lat - lat, 0.0, lat - max_lat)
    return math.hypot(d_lon * _km_per_degree_lon(lat), d_lat * KM_PER_DEGREE_LAT)


def random_point_outside(
    bounds: Bounds, rng: random.Random, *, min_km: float = 20.0, max_km: float = 60.0
) -> tuple[float, float]:
    """A random point ``min_km``–``max_km`` beyond one side of ``bounds``, as ``(lon, lat)``."""
    min_lon, min_lat, max_lon, max_lat = bounds
    distance = rng.uniform(min_km, max_km)
    side = rng.choice(("north", "south", "east", "west"))
    if side in ("north", "south"):
        lon = rng.uniform(min_lon, max_lon)
        offset = distance / KM_PER_DEGREE_LAT
        lat = max_lat + offset if side == "north" else min_lat - offset
    else:
        lat = rng.uniform(min_lat, max_lat)
        offset = distance / _km_per_degree_lon(lat)
        lon = max_lon + offset if side == "east" else min_lon - offset
    return lon, lat
