"""Grid registry: loading and validating GeoJSON grids, and locating points in them."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import random
import re
from collections import Counter
from importlib.resources import files
from typing import Any

import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon

from dispatch.domain.grids import Grid, GridFileError, GridIndex

DEMO_FILE = "370812/grids.geojson"
DEMO_DISTRICTS = ("370812", "370811")
KM2_PER_DEG2 = (math.pi * 6371.0088 / 180) ** 2 * math.cos(math.radians(35.55))
RENCHENG_STREETS = {
    # The 街道/镇 under 370811 in the National Bureau of Statistics' 2023 division codes.
    "许庄街道", "李营街道", "南张街道", "仙营街道", "金城街道", "廿里铺街道", "古槐街道",
    "济阳街道", "阜桥街道", "越河街道", "观音阁街道", "南苑街道", "安居街道", "唐口街道",
    "长沟镇", "石桥镇", "喻屯镇",
}  # fmt: skip


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_document() -> dict[str, Any]:
    text = files("dispatch.demo_data").joinpath(DEMO_FILE).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@pytest.fixture(scope="module")
def demo(demo_document: dict[str, Any]) -> GridIndex:
    return GridIndex.from_feature_collection(demo_document)


def read_demo(code: str, name: str) -> dict[str, Any]:
    text = files("dispatch.demo_data").joinpath(code, name).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@pytest.fixture(scope="module")
def rencheng() -> GridIndex:
    return GridIndex.from_feature_collection(read_demo("370811", "grids.geojson"))


def square(lon: float, lat: float, size: float = 0.01) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [
            [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
        ],
    }


def feature(grid_id: str, geometry: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    properties = {
        "grid_id": grid_id,
        "name": f"{grid_id} 网格",
        "community": "鼓楼街道第1社区",
        "street": "鼓楼街道",
        "district_code": "370812",
    }
    properties.update(extra)
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def two_grids() -> dict[str, Any]:
    """Two 0.01° squares side by side; their shared border is lon 116.81."""
    return {
        "type": "FeatureCollection",
        "features": [
            feature("370812-01-001-1", square(116.80, 35.50)),
            feature("370812-01-001-2", square(116.81, 35.50)),
        ],
    }


def rejected(document: Any) -> GridFileError:
    with pytest.raises(GridFileError) as info:
        GridIndex.from_feature_collection(document)
    return info.value


def second_feature_rejected(document: dict[str, Any]) -> GridFileError:
    """Expect feature #1 (grid_id 370812-01-001-2) to be named in the error."""
    error = rejected(document)
    assert str(error).startswith("feature #1 (grid_id '370812-01-001-2'): "), str(error)
    assert error.feature_index == 1
    assert error.grid_id == "370812-01-001-2"
    return error


# --- the synthetic demo district ---------------------------------------------------------


@pytest.mark.parametrize("code", DEMO_DISTRICTS)
def test_demo_files_say_they_are_synthetic(code: str) -> None:
    document = read_demo(code, "grids.geojson")
    for member in ("name", "description"):
        assert "SYNTHETIC" in document[member]
        assert "合成演示数据，非真实边界" in document[member]
    assert document["generator"] == "services/dispatch/scripts/generate_demo_district.py"
    assert all(f["properties"]["synthetic"] is True for f in document["features"])
    for kind in ("categories.json", "roster.json"):
        assert read_demo(code, kind)["synthetic"] is True


def test_demo_has_317_grids_of_yanzhou(demo: GridIndex) -> None:
    assert len(demo) == 317
    assert demo.district_code == "370812"
    assert len({grid.grid_id for grid in demo.grids}) == 317
    for grid in demo.grids:
        assert re.fullmatch(r"370812-\d{2}-\d{3}-\d", grid.grid_id), grid.grid_id
        assert grid.name.startswith(grid.community)
        assert grid.community.startswith(grid.street)


def test_demo_has_about_ten_streets_of_small_communities(demo: GridIndex) -> None:
    streets = Counter(grid.street for grid in demo.grids)
    assert 8 <= len(streets) <= 12, streets
    community_sizes = Counter(grid.community for grid in demo.grids)
    assert all(3 <= size <= 6 for size in community_sizes.values()), community_sizes
    assert len(community_sizes) >= 317 // 6
    for street in streets:
        region = shapely.union_all([g.geometry for g in demo.grids if g.street == street])
        assert isinstance(region, Polygon), f"{street} is not one contiguous region"


def test_demo_grids_are_valid_polygons(demo: GridIndex) -> None:
    for grid in demo.grids:
        assert isinstance(grid.geometry, Polygon), grid.grid_id
        assert grid.geometry.is_valid, grid.grid_id
        assert not grid.geometry.is_empty, grid.grid_id


def tessellation(index: GridIndex) -> Polygon:
    """The union of the grids, once it is checked that they tessellate it."""
    geometries = [grid.geometry for grid in index.grids]
    assert all(isinstance(g, Polygon) and g.is_valid and not g.is_empty for g in geometries)
    assert shapely.coverage_is_valid(geometries)
    union = shapely.union_all(geometries)
    total = sum(g.area for g in geometries)
    # No overlaps: the areas add up to the area of the union.
    assert math.isclose(union.area, total, rel_tol=1e-9)
    # No gaps: the union is one polygon without holes, the district outline.
    assert isinstance(union, Polygon)
    assert not union.interiors
    return union


def test_demo_grids_tessellate_the_district(demo: GridIndex) -> None:
    union = tessellation(demo)
    # Roughly 25 km x 26 km around 35.55N 116.83E.
    min_lon, min_lat, max_lon, max_lat = demo.bounds
    assert 116.6 < min_lon < 116.83 < max_lon < 117.1
    assert 35.4 < min_lat < 35.55 < max_lat < 35.7
    assert 350 < union.area * KM2_PER_DEG2 < 650


def test_centre_of_the_district_is_located(demo: GridIndex) -> None:
    grid = demo.locate(35.55, 116.83)
    assert grid is not None
    assert grid.geometry.covers(Point(116.83, 35.55))


def test_points_outside_the_district_are_not_located(demo: GridIndex) -> None:
    assert demo.locate(39.9042, 116.4074) is None  # Beijing
    assert demo.locate(116.83, 35.55) is None  # lat/lon swapped
    assert demo.locate(35.55, 117.5) is None  # east of the district
    assert demo.locate(math.nan, 116.83) is None


def test_rencheng_has_180_grids_in_its_17_streets(rencheng: GridIndex) -> None:
    assert len(rencheng) == 180
    assert rencheng.district_code == "370811"
    for grid in rencheng.grids:
        assert re.fullmatch(r"370811-\d{2}-\d{3}-\d", grid.grid_id), grid.grid_id
        assert grid.name.startswith(grid.community)
        assert grid.community.startswith(grid.street)
    assert {grid.street for grid in rencheng.grids} == RENCHENG_STREETS
    community_sizes = Counter(grid.community for grid in rencheng.grids)
    assert all(3 <= size <= 6 for size in community_sizes.values()), community_sizes
    for street in RENCHENG_STREETS:
        region = shapely.union_all([g.geometry for g in rencheng.grids if g.street == street])
        assert isinstance(region, Polygon), f"{street} is not one contiguous region"


def test_rencheng_grids_are_valid_and_tessellate_the_district(rencheng: GridIndex) -> None:
    union = tessellation(rencheng)
    # Around 济宁's centre, 35.41N 116.60E, west and south-west of 兖州区.
    min_lon, min_lat, max_lon, max_lat = rencheng.bounds
    assert 116.3 < min_lon < 116.60 < max_lon < 116.8
    assert 35.2 < min_lat < 35.41 < max_lat < 35.6
    assert 500 < union.area * KM2_PER_DEG2 < 800
    assert rencheng.locate(35.41, 116.60) is not None


def test_the_demo_districts_share_no_point(demo: GridIndex, rencheng: GridIndex) -> None:
    yanzhou = shapely.union_all([grid.geometry for grid in demo.grids])
    ren = shapely.union_all([grid.geometry for grid in rencheng.grids])
    assert not yanzhou.intersects(ren)  # not even a border point
    assert yanzhou.distance(ren) < 0.01  # but neighbours, a few hundred metres apart
    rng = random.Random(370811)
    for index, other in ((demo, rencheng), (rencheng, demo)):
        for grid in rng.sample(index.grids, 40):
            assert isinstance(grid.geometry, Polygon)
            for lon, lat in grid.geometry.exterior.coords:
                assert other.locate(lat, lon) is None


@pytest.mark.parametrize("code", DEMO_DISTRICTS)
def test_demo_reference_data_fits_the_grids(code: str) -> None:
    grid_ids = {f["properties"]["grid_id"] for f in read_demo(code, "grids.geojson")["features"]}
    roster = read_demo(code, "roster.json")
    assert roster["district"] == code
    covered = {grid for worker in roster["grid_workers"] for grid in worker["grid_ids"]}
    assert covered == grid_ids  # every grid has a worker, and no worker a stray grid
    streets = {f["properties"]["street"] for f in read_demo(code, "grids.geojson")["features"]}
    assert {s["street"] for s in roster["supervisors"] if s["level"] == "street"} == streets
    assert read_demo(code, "categories.json")["district"] == code
    assert read_demo(code, "calendar.json")["periods"]


def test_a_shared_vertex_resolves_to_the_smallest_grid_id(demo: GridIndex) -> None:
    owners: dict[tuple[float, float], set[str]] = {}
    for grid in demo.grids:
        assert isinstance(grid.geometry, Polygon)
        for lon, lat in grid.geometry.exterior.coords:
            owners.setdefault((lon, lat), set()).add(grid.grid_id)
    (lon, lat), ids = min(
        ((xy, ids) for xy, ids in owners.items() if len(ids) >= 3), key=lambda item: item[0]
    )
    assert demo.locate(lat, lon) is demo.get(min(ids))
    # Independent of file order.
    reversed_index = GridIndex(reversed(demo.grids))
    located = reversed_index.locate(lat, lon)
    assert located is not None
    assert located.grid_id == min(ids)


def test_strtree_lookup_agrees_with_brute_force(demo: GridIndex) -> None:
    rng = random.Random(20240601)
    min_lon, min_lat, max_lon, max_lat = demo.bounds
    found = 0
    for _ in range(500):
        lon = rng.uniform(min_lon - 0.02, max_lon + 0.02)
        lat = rng.uniform(min_lat - 0.02, max_lat + 0.02)
        covering = sorted(g.grid_id for g in demo.grids if g.geometry.covers(Point(lon, lat)))
        located = demo.locate(lat, lon)
        assert (located.grid_id if located else None) == (covering[0] if covering else None)
        found += located is not None
    assert 200 < found < 500  # both inside and outside points were tried


def test_feature_collection_round_trip(demo: GridIndex) -> None:
    document = json.loads(json.dumps(demo.to_feature_collection()))
    again = GridIndex.from_feature_collection(document)
    assert [g.grid_id for g in again.grids] == [g.grid_id for g in demo.grids]
    for before, after in zip(demo.grids, again.grids, strict=True):
        assert before.name == after.name and before.street == after.street
        assert before.geometry.equals(after.geometry)
    assert again.bounds == demo.bounds


def test_get_and_grid_feature(demo: GridIndex) -> None:
    grid = demo.grids[0]
    assert demo.get(grid.grid_id) is grid
    assert demo.get("no-such-grid") is None
    out = grid.to_feature()
    assert out["type"] == "Feature"
    assert out["properties"]["grid_id"] == grid.grid_id
    assert out["geometry"]["type"] == "Polygon"
    assert list(iter(demo)) == list(demo.grids)


# --- loading small collections -----------------------------------------------------------


def test_small_collection_loads_and_locates() -> None:
    index = GridIndex.from_feature_collection(two_grids())
    assert len(index) == 2
    assert index.bounds == pytest.approx((116.80, 35.50, 116.82, 35.51))
    west = index.locate(35.505, 116.805)
    east = index.locate(35.505, 116.815)
    assert west is not None and west.grid_id == "370812-01-001-1"
    assert east is not None and east.grid_id == "370812-01-001-2"
    assert index.locate(35.505, 116.83) is None


def test_point_on_shared_border_resolves_deterministically() -> None:
    document = two_grids()
    forward = GridIndex.from_feature_collection(document)
    document["features"].reverse()
    backward = GridIndex.from_feature_collection(document)
    for index in (forward, backward):
        grid = index.locate(35.505, 116.81)  # on the shared edge
        assert grid is not None and grid.grid_id == "370812-01-001-1"


def test_optional_properties_are_allowed_and_ignored() -> None:
    document = two_grids()
    document["features"][0]["properties"].update(
        {"synthetic": True, "area_m2": 123, "worker": {"name": "张三"}}
    )
    document["features"][0]["id"] = 7
    index = GridIndex.from_feature_collection(document)
    assert set(index.grids[0].to_feature()["properties"]) == {
        "grid_id",
        "name",
        "community",
        "street",
        "district_code",
    }


def test_multipolygon_grid_is_accepted() -> None:
    document = two_grids()
    document["features"][1]["geometry"] = {
        "type": "MultiPolygon",
        "coordinates": [
            square(116.81, 35.50)["coordinates"],
            square(116.90, 35.60)["coordinates"],
        ],
    }
    index = GridIndex.from_feature_collection(document)
    assert isinstance(index.grids[1].geometry, MultiPolygon)
    grid = index.locate(35.605, 116.905)
    assert grid is not None and grid.grid_id == "370812-01-001-2"


def test_three_dimensional_coordinates_are_flattened() -> None:
    document = two_grids()
    ring = document["features"][0]["geometry"]["coordinates"][0]
    document["features"][0]["geometry"]["coordinates"][0] = [[*xy, 42.0] for xy in ring]
    index = GridIndex.from_feature_collection(document)
    assert not index.grids[0].geometry.has_z


def test_grid_is_frozen() -> None:
    grid = GridIndex.from_feature_collection(two_grids()).grids[0]
    assert isinstance(grid, Grid)
    with pytest.raises(dataclasses.FrozenInstanceError):
        grid.name = "other"  # type: ignore[misc, unused-ignore]


# --- validation errors -------------------------------------------------------------------


def test_error_is_a_value_error() -> None:
    assert issubclass(GridFileError, ValueError)


def test_rejects_a_document_that_is_not_an_object() -> None:
    error = rejected([feature("370812-01-001-1", square(116.8, 35.5))])
    assert "FeatureCollection" in str(error) and "list" in str(error)
    assert error.feature_index is None


def test_rejects_a_document_that_is_not_a_feature_collection() -> None:
    error = rejected(feature("370812-01-001-1", square(116.8, 35.5)))
    assert "expected type 'FeatureCollection', got 'Feature'" in str(error)


def test_rejects_a_collection_without_features() -> None:
    assert "no features" in str(rejected({"type": "FeatureCollection", "features": []}))
    assert "'features' must be an array" in str(rejected({"type": "FeatureCollection"}))


def test_rejects_a_member_that_is_not_a_feature() -> None:
    document = two_grids()
    document["features"][1] = square(116.81, 35.50)
    error = rejected(document)
    assert str(error) == "feature #1: not a GeoJSON Feature (got 'Polygon')"
    document["features"][1] = "370812-01-001-2"
    assert str(rejected(document)) == "feature #1: not a GeoJSON Feature (got 'str')"


@pytest.mark.parametrize("key", ["name", "community", "street", "district_code"])
def test_rejects_a_missing_required_property(key: str) -> None:
    document = two_grids()
    del document["features"][1]["properties"][key]
    error = second_feature_rejected(document)
    assert f"missing or empty required properties: {key}" in str(error)


def test_rejects_a_missing_grid_id_naming_the_feature_index() -> None:
    document = two_grids()
    del document["features"][1]["properties"]["grid_id"]
    error = rejected(document)
    assert str(error) == "feature #1: missing or empty required properties: grid_id"
    assert error.feature_index == 1 and error.grid_id is None


def test_rejects_a_feature_without_properties() -> None:
    document = two_grids()
    document["features"][1]["properties"] = None
    assert str(rejected(document)) == (
        "feature #1: missing or empty required properties: "
        "grid_id, name, community, street, district_code"
    )


@pytest.mark.parametrize("value", ["", "   "])
def test_rejects_an_empty_required_property(value: str) -> None:
    document = two_grids()
    document["features"][1]["properties"]["street"] = value
    error = second_feature_rejected(document)
    assert "street" in str(error)


def test_rejects_a_required_property_that_is_not_a_string() -> None:
    document = two_grids()
    document["features"][1]["properties"]["name"] = 12
    error = second_feature_rejected(document)
    assert "property 'name' must be a string, got int" in str(error)


@pytest.mark.parametrize("code", ["37081", "3708120", "37081a", "３７０８１２", 370812])
def test_rejects_a_district_code_that_is_not_six_digits(code: Any) -> None:
    document = two_grids()
    document["features"][1]["properties"]["district_code"] = code
    error = second_feature_rejected(document)
    assert "district_code" in str(error)


def test_rejects_grids_of_more_than_one_district() -> None:
    document = two_grids()
    document["features"][1]["properties"]["district_code"] = "370811"
    error = second_feature_rejected(document)
    assert "district_code '370811' differs from '370812' (feature #0)" in str(error)


def test_rejects_a_feature_without_geometry() -> None:
    document = two_grids()
    document["features"][1]["geometry"] = None
    assert "geometry is missing" in str(second_feature_rejected(document))
    del document["features"][1]["geometry"]
    assert "geometry is missing" in str(second_feature_rejected(document))


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [116.81, 35.5]},
        {"type": "LineString", "coordinates": [[116.81, 35.5], [116.82, 35.5]]},
        {"type": "GeometryCollection", "geometries": []},
    ],
)
def test_rejects_a_geometry_that_is_not_a_polygon(geometry: dict[str, Any]) -> None:
    document = two_grids()
    document["features"][1]["geometry"] = geometry
    error = second_feature_rejected(document)
    assert f"geometry type must be Polygon or MultiPolygon, got '{geometry['type']}'" in str(error)


@pytest.mark.parametrize(
    ("lon", "lat"), [(200.0, 35.5), (-181.0, 35.5), (116.8, 91.0), (116.8, math.nan)]
)
def test_rejects_coordinates_out_of_range(lon: float, lat: float) -> None:
    document = two_grids()
    document["features"][1]["geometry"]["coordinates"][0][2] = [lon, lat]
    error = second_feature_rejected(document)
    assert "is outside lon [-180, 180] / lat [-90, 90]" in str(error)


def test_rejects_coordinates_in_lat_lon_order() -> None:
    document = two_grids()
    ring = document["features"][1]["geometry"]["coordinates"][0]
    document["features"][1]["geometry"]["coordinates"][0] = [[lat, lon] for lon, lat in ring]
    error = second_feature_rejected(document)
    assert "coordinate [35.5, 116.81] is outside" in str(error)
    assert "GeoJSON order is [lon, lat]" in str(error)


def test_rejects_malformed_coordinates() -> None:
    document = two_grids()
    document["features"][1]["geometry"]["coordinates"][0][1] = [116.82, "35.5"]
    error = second_feature_rejected(document)
    assert "Polygon coordinates are malformed" in str(error)


def test_rejects_a_geometry_shapely_cannot_build() -> None:
    document = two_grids()
    document["features"][1]["geometry"]["coordinates"] = [[[116.81, 35.5], [116.82, 35.5]]]
    error = second_feature_rejected(document)
    assert "cannot build the polygon" in str(error)
    assert "at least 4 coordinates" in str(error)


def test_rejects_an_invalid_polygon() -> None:
    document = two_grids()
    # A bow tie: the ring crosses itself at (116.815, 35.505).
    document["features"][1]["geometry"]["coordinates"] = [
        [[116.81, 35.50], [116.82, 35.51], [116.82, 35.50], [116.81, 35.51], [116.81, 35.50]]
    ]
    error = second_feature_rejected(document)
    assert "polygon is invalid: Self-intersection[116.815 35.505]" in str(error)


def test_rejects_overlapping_parts_of_a_multipolygon() -> None:
    document = two_grids()
    document["features"][1]["geometry"] = {
        "type": "MultiPolygon",
        "coordinates": [
            square(116.81, 35.50)["coordinates"],
            square(116.815, 35.50)["coordinates"],
        ],
    }
    error = second_feature_rejected(document)
    assert "multipolygon is invalid" in str(error)


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Polygon", "coordinates": []},
        {"type": "MultiPolygon", "coordinates": []},
    ],
)
def test_rejects_an_empty_geometry(geometry: dict[str, Any]) -> None:
    document = two_grids()
    document["features"][1]["geometry"] = geometry
    error = second_feature_rejected(document)
    assert str(error).endswith("is empty")


def test_rejects_a_duplicate_grid_id() -> None:
    document = two_grids()
    duplicate = copy.deepcopy(document["features"][0])
    duplicate["geometry"] = square(116.82, 35.50)
    document["features"].append(duplicate)
    error = rejected(document)
    assert str(error) == (
        "feature #2 (grid_id '370812-01-001-1'): duplicate grid_id, already used by feature #0"
    )


def test_constructor_checks_its_invariants() -> None:
    grids = GridIndex.from_feature_collection(two_grids()).grids
    with pytest.raises(ValueError, match="at least one grid"):
        GridIndex([])
    with pytest.raises(ValueError, match="duplicate grid_id"):
        GridIndex([grids[0], grids[0]])
