"""Generate the SYNTHETIC demo districts' grids: 兖州区 (370812, 317 grids) and 任城区
(370811, 180 grids), both of 济宁市.

    uv run python services/dispatch/scripts/generate_demo_district.py          # every district
    uv run python services/dispatch/scripts/generate_demo_district.py 370811   # one of them

Writes ``services/dispatch/src/dispatch/demo_data/<code>/grids.geojson``; then
``generate_demo_reference.py <code> <name>`` writes the district's categories, roster and
calendar from those grids.

The geometry is invented, NOT the real boundaries of either district or of any of its streets,
communities or grids (合成演示数据，非真实边界). What is real and what is made up:

- real: the district codes and names (GB/T 2260); the street/town names. 兖州区's ten names
  come from public descriptions of the district. 任城区's seventeen are the 街道/镇 that the
  National Bureau of Statistics lists under 370811 in its 2023 statistical division codes
  (统计用区划代码, as of 2023-06-30, republished in github.com/modood/
  Administrative-divisions-of-China ``dist/streets.csv``; 370811002 许庄街道 … 370811111
  喻屯镇), numbered here in that code order. 许庄街道 and 石桥镇 are run by 太白湖新区,
  and parts of 唐口街道 and 长沟镇 by the 济宁经济技术开发区, but the code list still puts
  them under 任城区. 兖州区's 317 is the grid count the district publishes;
- roughly real: each district's centre (兖州 old town 35.55°N 116.83°E, 济宁 city centre
  about 35.41°N 116.60°E), and 任城区 lying west and south-west of 兖州区;
- made up: every outline, every line, the extents, where each street lies (the street
  centres only put the urban streets in the middle and the towns around), the communities
  (社区/村, ``…第N社区``), the grids and 任城区's grid count (180).

How a district is built:

1. an irregular, star-shaped outline of ``width_km`` x ``height_km`` around the centre; a
   district that must keep clear of others (``keep_clear_of``) loses whatever lies within
   ``CLEARANCE_KM`` of their grids, so no point is in two districts;
2. ``grids`` seed points, denser in the urban core and around each town seat (dart throwing
   with a density-dependent minimum distance), so urban grids are small and rural ones large;
3. the Voronoi diagram of the seeds, each cell clipped to the outline; a cell that the
   concave outline cuts in pieces keeps the piece with its seed and gives the rest to the
   neighbour it shares the longest border with, so each grid is a single Polygon;
4. each grid joins the street/town whose centre is nearest (urban streets weigh less, so
   their areas stay small), then grids of a street are grown into communities (社区/村) of
   3-6 neighbouring grids (mostly 4);
5. coordinates are rounded to 6 decimals (~0.1 m) and the result is checked: every polygon
   valid, no gaps, no overlaps, every street and community contiguous, no point shared with
   another demo district, loadable by ``dispatch.domain.grids.GridIndex``.

Work happens in a local kilometre plane (equirectangular around the district's centre) so
cells are not stretched; kilometres are turned into degrees only at the end. Each district's
random seed is fixed, so running the script again writes byte-identical files (with the same
shapely/GEOS).
"""

from __future__ import annotations

import json
import math
import random
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPoint, Point, Polygon, shape
from shapely.validation import explain_validity

DECIMALS = 6
KM_PER_DEG_LAT = math.pi * 6371.0088 / 180.0
CLEARANCE_KM = 0.3
"""How far a district keeps from the grids of the districts it must keep clear of."""

GENERATOR = "services/dispatch/scripts/generate_demo_district.py"
DEMO = Path(__file__).resolve().parents[1] / "src" / "dispatch" / "demo_data"


@dataclass(frozen=True)
class Street:
    """A 街道/镇: its number in grid ids, its (real) name, its (invented) centre in km
    east/north of the district centre, and its weight — a smaller weight shrinks its area
    (weighted nearest centre)."""

    number: int
    name: str
    centre: tuple[float, float]
    weight: float
    urban: bool


@dataclass(frozen=True)
class District:
    code: str
    name: str
    seed: int
    grids: int
    centre_lat: float
    centre_lon: float
    width_km: float
    """East-west extent of the outline."""
    height_km: float
    """North-south extent."""
    streets: tuple[Street, ...]
    keep_clear_of: tuple[str, ...] = ()
    """Demo districts generated before this one whose grids this one must not touch."""

    @property
    def km_per_deg_lon(self) -> float:
        return KM_PER_DEG_LAT * math.cos(math.radians(self.centre_lat))

    @property
    def output(self) -> Path:
        return DEMO / self.code / "grids.geojson"


def _streets(*rows: tuple[int, str, tuple[float, float], float, bool]) -> tuple[Street, ...]:
    return tuple(Street(*row) for row in rows)


YANZHOU = District(
    code="370812",
    name="兖州区",
    seed=370812,
    grids=317,
    centre_lat=35.55,
    centre_lon=116.83,
    width_km=25.0,
    height_km=26.0,
    streets=_streets(
        (1, "鼓楼街道", (0.2, 0.9), 0.55, True),
        (2, "龙桥街道", (1.6, -1.3), 0.55, True),
        (3, "酒仙桥街道", (-1.8, -1.0), 0.55, True),
        (4, "兴隆庄街道", (6.8, 5.6), 1.0, False),
        (5, "大安镇", (-7.5, -6.0), 1.0, False),
        (6, "新驿镇", (-7.8, 5.2), 1.0, False),
        (7, "颜店镇", (-0.8, 8.6), 1.0, False),
        (8, "漕河镇", (7.8, -2.6), 1.0, False),
        (9, "小孟镇", (-1.2, -8.8), 1.0, False),
        (10, "王因街道", (5.4, -7.6), 1.15, False),
    ),
)

RENCHENG = District(
    code="370811",
    name="任城区",
    seed=370811,
    grids=180,
    centre_lat=35.41,
    centre_lon=116.60,
    width_km=28.0,
    height_km=32.0,
    streets=_streets(
        (1, "许庄街道", (4.6, -6.4), 1.0, False),
        (2, "李营街道", (6.2, 6.4), 1.0, False),
        (3, "南张街道", (0.8, -4.6), 0.8, False),
        (4, "仙营街道", (1.9, 1.6), 0.55, True),
        (5, "金城街道", (-1.8, 1.4), 0.55, True),
        (6, "廿里铺街道", (0.6, 8.4), 1.0, False),
        (7, "古槐街道", (0.1, 0.5), 0.55, True),
        (8, "济阳街道", (-1.3, -0.8), 0.55, True),
        (9, "阜桥街道", (0.6, -0.9), 0.55, True),
        (10, "越河街道", (1.9, -0.3), 0.55, True),
        (11, "观音阁街道", (-0.3, 2.3), 0.55, True),
        (12, "南苑街道", (-0.4, -2.4), 0.55, True),
        (13, "安居街道", (-7.0, -5.6), 1.0, False),
        (14, "唐口街道", (-7.2, 2.2), 1.0, False),
        (15, "长沟镇", (-4.4, 10.0), 1.0, False),
        (16, "石桥镇", (5.4, -12.0), 1.0, False),
        (17, "喻屯镇", (-2.8, -11.4), 1.0, False),
    ),
    keep_clear_of=("370812",),
)

DISTRICTS: dict[str, District] = {d.code: d for d in (YANZHOU, RENCHENG)}
"""In generation order: a district comes after those it keeps clear of."""


def main(codes: list[str]) -> None:
    unknown = sorted(set(codes) - set(DISTRICTS))
    if unknown:
        sys.exit(f"unknown district {', '.join(unknown)}; known: {', '.join(DISTRICTS)}")
    for district in DISTRICTS.values():
        if not codes or district.code in codes:
            generate(district)


def generate(district: District) -> None:
    rng = random.Random(district.seed)
    outline = district_outline(district, rng)
    seeds = seed_points(district, rng, outline)
    cells = clip_cells(seeds, outline)
    grids = [to_lonlat(district, cell) for cell in cells]
    street_of = assign_streets(district, seeds)
    communities = grow_communities(district, grids, street_of, seeds)
    document = feature_collection(district, grids, communities)
    text = render(document)
    check(district, text, to_lonlat(district, outline))
    district.output.parent.mkdir(parents=True, exist_ok=True)
    district.output.write_text(text, encoding="utf-8")
    n_communities = len(set(communities))
    print(
        f"wrote {district.output} ({len(text.encode())} bytes): {len(grids)} grids, "
        f"{len(district.streets)} streets, {n_communities} communities"
    )


# --- geometry in the local km plane -----------------------------------------------------


def district_outline(district: District, rng: random.Random) -> Polygon:
    """A simple, irregular, star-shaped polygon scaled to width_km x height_km, minus the
    surroundings of the districts it keeps clear of."""
    n = 240
    harmonics = [
        (k, rng.uniform(0.03, 0.09) / k**0.5, rng.uniform(0, 2 * math.pi)) for k in range(2, 9)
    ]
    # A smoothed random walk gives the "follows a river / a road" look of real boundaries.
    noise = [0.0] * n
    walk = 0.0
    for i in range(n):
        walk = 0.85 * walk + rng.gauss(0.0, 0.018)
        noise[i] = walk
    drift = noise[-1] - noise[0]
    points = []
    for i in range(n):
        theta = 2 * math.pi * i / n
        r = 1.0 + sum(a * math.cos(k * theta + phase) for k, a, phase in harmonics)
        r += noise[i] - drift * i / n  # close the walk smoothly
        points.append((r * math.cos(theta), r * math.sin(theta)))
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    sx = district.width_km / (max(xs) - min(xs))
    sy = district.height_km / (max(ys) - min(ys))
    cx = (max(xs) + min(xs)) / 2
    cy = (max(ys) + min(ys)) / 2
    outline = Polygon([((x - cx) * sx, (y - cy) * sy) for x, y in points])
    for other in district.keep_clear_of:
        taken = to_km(district, neighbour_area(other)).buffer(CLEARANCE_KM, quad_segs=4)
        rest = outline.difference(taken)
        # The largest piece; a sliver cut off behind the neighbour is dropped.
        outline = max(shapely.get_parts(rest), key=lambda part: part.area)
    assert isinstance(outline, Polygon) and not outline.interiors, outline.geom_type
    assert outline.is_valid, explain_validity(outline)
    return outline


def density(district: District, x: float, y: float) -> float:
    """Relative grid density: high in the urban core, bumps at town seats."""
    d = 0.35 + 3.0 * math.exp(-(x * x + y * y) / (2 * 2.6**2))
    for street in district.streets:
        if not street.urban:
            sx, sy = street.centre
            d += 0.45 * math.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * 1.2**2))
    return d


def seed_points(district: District, rng: random.Random, outline: Polygon) -> list[Point]:
    """``district.grids`` points inside the outline, spaced according to density().

    Mitchell's best-candidate sampling: each new point is the best of a few random
    candidates (drawn in proportion to density()), the one farthest from the points so far
    in density-scaled distance. Gives evenly spread seeds without clumps.
    """
    minx, miny, maxx, maxy = outline.bounds
    inner = outline.buffer(-0.25)  # no seed right on the outline, so no sliver cells
    shapely.prepare(inner)
    peak = max(
        density(district, 0.0, 0.0), *(density(district, *s.centre) for s in district.streets)
    )

    def candidate() -> tuple[float, float]:
        while True:
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if shapely.contains_xy(inner, x, y) and rng.random() * peak < density(district, x, y):
                return x, y

    points = [candidate()]
    while len(points) < district.grids:
        best, best_score = (0.0, 0.0), -1.0
        for _ in range(12):
            x, y = candidate()
            nearest = min((x - px) ** 2 + (y - py) ** 2 for px, py in points)
            score = nearest * density(district, x, y)
            if score > best_score:
                best, best_score = (x, y), score
        points.append(best)
    return [Point(p) for p in points]


def clip_cells(seeds: list[Point], outline: Polygon) -> list[Polygon]:
    """The Voronoi cell of each seed clipped to the outline, one Polygon per seed."""
    diagram = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=outline.buffer(5.0))
    raw = list(diagram.geoms)
    tree = shapely.STRtree(raw)
    cells: list[Any] = []
    for seed in seeds:
        (index,) = tree.query(seed, predicate="within")
        cells.append(raw[int(index)].intersection(outline))
    # Split cells: keep the seed's piece, queue the others for a neighbour.
    pieces: list[Polygon] = []
    polygons: list[Polygon] = []
    for seed, cell in zip(seeds, cells, strict=True):
        parts = [p for p in shapely.get_parts(cell) if isinstance(p, Polygon) and p.area > 0]
        (own,) = [p for p in parts if p.covers(seed)]
        polygons.append(own)
        pieces.extend(p for p in parts if p is not own)
    for piece in pieces:
        best, shared = -1, 0.0
        for i, poly in enumerate(polygons):
            length = poly.boundary.intersection(piece.boundary).length
            if length > shared:
                best, shared = i, length
        merged = polygons[best].union(piece)
        assert isinstance(merged, Polygon), merged.geom_type
        polygons[best] = merged
    return polygons


def to_lonlat(district: District, polygon: Polygon) -> Polygon:
    """Km plane to lon/lat, rounded; drops vertices that rounding made repeat."""

    def ring(coords: Any) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for x, y in coords:
            lonlat = (
                round(district.centre_lon + x / district.km_per_deg_lon, DECIMALS),
                round(district.centre_lat + y / KM_PER_DEG_LAT, DECIMALS),
            )
            if not out or out[-1] != lonlat:
                out.append(lonlat)
        return out

    return Polygon(ring(polygon.exterior.coords), [ring(r.coords) for r in polygon.interiors])


def to_km(district: District, geometry: Any) -> Any:
    """Lon/lat to the district's km plane (the inverse of to_lonlat, without rounding)."""

    def project(coords: Any) -> Any:
        out = coords.copy()
        out[:, 0] = (coords[:, 0] - district.centre_lon) * district.km_per_deg_lon
        out[:, 1] = (coords[:, 1] - district.centre_lat) * KM_PER_DEG_LAT
        return out

    return shapely.transform(geometry, project)


def neighbour_area(code: str) -> Any:
    """The union of another demo district's grids, in lon/lat, read from its file."""
    path = DEMO / code / "grids.geojson"
    if not path.is_file():
        sys.exit(f"{path} is missing: generate district {code} first")
    document = json.loads(path.read_text(encoding="utf-8"))
    return shapely.union_all([shape(f["geometry"]) for f in document["features"]])


# --- hierarchy ---------------------------------------------------------------------------


def assign_streets(district: District, seeds: list[Point]) -> list[int]:
    """Index into district.streets of each grid: weighted nearest street centre to its seed."""
    out = []
    for seed in seeds:
        distances = [
            math.hypot(seed.x - s.centre[0], seed.y - s.centre[1]) / s.weight
            for s in district.streets
        ]
        out.append(distances.index(min(distances)))
    return out


def adjacency(grids: list[Polygon]) -> list[set[int]]:
    """Grids sharing a border of positive length."""
    tree = shapely.STRtree(grids)
    neighbours: list[set[int]] = [set() for _ in grids]
    for i, grid in enumerate(grids):
        for j in tree.query(grid, predicate="intersects"):
            j = int(j)
            if j != i and grid.intersection(grids[j]).length > 0:
                neighbours[i].add(j)
    return neighbours


def grow_communities(
    district: District, grids: list[Polygon], street_of: list[int], seeds: list[Point]
) -> list[tuple[int, int]]:
    """(street index, community number) of each grid; communities of 3-5 adjacent grids."""
    neighbours = adjacency(grids)
    community_of: list[tuple[int, int] | None] = [None] * len(grids)
    members: dict[tuple[int, int], list[int]] = {}
    for street in range(len(district.streets)):
        todo = sorted(
            (i for i in range(len(grids)) if street_of[i] == street),
            key=lambda i: (-round(seeds[i].y, 6), round(seeds[i].x, 6)),  # north-west first
        )
        number = 0
        for start in todo:
            if community_of[start] is not None:
                continue
            # Breadth-first from the north-western-most free grid, nearest first.
            group = [start]
            frontier = deque([start])
            while frontier and len(group) < 4:
                current = frontier.popleft()
                free = sorted(
                    (
                        j
                        for j in neighbours[current]
                        if street_of[j] == street and community_of[j] is None and j not in group
                    ),
                    key=lambda j: seeds[j].distance(seeds[start]),
                )
                for j in free:
                    if len(group) < 4:
                        group.append(j)
                        frontier.append(j)
            if len(group) < 3 and absorb(
                group, street, neighbours, street_of, community_of, members
            ):
                continue
            number += 1
            key = (street, number)
            for i in group:
                community_of[i] = key
            members[key] = group
    assert all(c is not None for c in community_of)
    return [c for c in community_of if c is not None]


def absorb(
    group: list[int],
    street: int,
    neighbours: list[set[int]],
    street_of: list[int],
    community_of: list[tuple[int, int] | None],
    members: dict[tuple[int, int], list[int]],
) -> bool:
    """Hand a too-small group's grids, one by one, to the smallest adjacent community of the
    same street. False (nothing changed) if the group touches no such community."""
    left = list(group)
    while left:
        options = sorted(
            (len(members[key]), key, i)
            for i in left
            for j in neighbours[i]
            if street_of[j] == street and (key := community_of[j]) is not None
        )
        if not options:
            # Untouched group: it may form its own community. (A group is connected, so once
            # one grid is absorbed every other one has an absorbed neighbour.)
            assert len(left) == len(group)
            return False
        _, key, i = options[0]
        community_of[i] = key
        members[key].append(i)
        left.remove(i)
    return True


# --- output ------------------------------------------------------------------------------


def feature_collection(
    district: District, grids: list[Polygon], communities: list[tuple[int, int]]
) -> dict[str, Any]:
    rows = []
    members: dict[tuple[int, int], list[int]] = {}
    for i, key in enumerate(communities):
        members.setdefault(key, []).append(i)
    for (street, number), indices in members.items():
        code, street_name = district.streets[street].number, district.streets[street].name
        kind = "村" if street_name.endswith("镇") else "社区"
        community = f"{street_name}第{number}{kind}"
        # Grids numbered north-west first inside their community.
        indices.sort(key=lambda i: (-grids[i].centroid.y, grids[i].centroid.x))
        for k, i in enumerate(indices, start=1):
            grid_id = f"{district.code}-{code:02d}-{number:03d}-{k}"
            rows.append((grid_id, community, street_name, f"{community}第{k}网格", grids[i]))
    rows.sort()
    features = [
        {
            "type": "Feature",
            "properties": {
                "grid_id": grid_id,
                "name": name,
                "community": community,
                "street": street_name,
                "district_code": district.code,
                "synthetic": True,
            },
            "geometry": {
                "type": "Polygon",
                "coordinates": [[list(xy) for xy in polygon.exterior.coords]]
                + [[list(xy) for xy in r.coords] for r in polygon.interiors],
            },
        }
        for grid_id, community, street_name, name, polygon in rows
    ]
    return {
        "type": "FeatureCollection",
        "name": (
            f"{district.name} ({district.code}) demo grids - SYNTHETIC, not real boundaries / "
            "合成演示数据，非真实边界"
        ),
        "description": (
            f"SYNTHETIC demo data: {district.grids} invented grid polygons for {district.name} "
            f"(district_code {district.code}), for demos and tests only. The geometry is NOT "
            "the real boundary of the district or of any street, community or grid; do not "
            "use it for real dispatch. 合成演示数据，非真实边界，仅供演示与测试。"
        ),
        "synthetic": True,
        "generator": GENERATOR,
        "seed": district.seed,
        "features": features,
    }


def render(document: dict[str, Any]) -> str:
    """JSON with one feature per line: small, and diffs stay readable."""
    head = {k: v for k, v in document.items() if k != "features"}
    lines = ["{"]
    for key, value in head.items():
        lines.append(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},")
    lines.append('"features": [')
    features = document["features"]
    for i, feature in enumerate(features):
        comma = "," if i < len(features) - 1 else ""
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")) + comma)
    lines.append("]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def check(district: District, text: str, outline: Polygon) -> None:
    """Fail loudly unless the rendered file is a clean tessellation the loader accepts, with
    every street present, and touches no other demo district."""
    from dispatch.domain.grids import GridIndex

    index = GridIndex.from_feature_collection(json.loads(text))
    geometries = [grid.geometry for grid in index.grids]
    assert len(index) == district.grids, len(index)
    assert index.district_code == district.code
    assert all(isinstance(g, Polygon) and g.is_valid for g in geometries)
    assert bool(shapely.coverage_is_valid(geometries)), "grids overlap or edges do not match"
    union = shapely.union_all(geometries)
    total = sum(g.area for g in geometries)
    assert abs(union.area - total) <= 1e-12 * total, (union.area, total)
    assert isinstance(union, Polygon) and not union.interiors, "the grids leave a gap"
    assert abs(union.area - outline.area) <= 1e-6 * outline.area, (union.area, outline.area)
    streets = {grid.street for grid in index.grids}
    assert streets == {s.name for s in district.streets}, "a street got no grid"
    for street in streets:
        area = shapely.union_all([g.geometry for g in index.grids if g.street == street])
        assert isinstance(area, Polygon), f"{street} is not contiguous"
    for community in {grid.community for grid in index.grids}:
        members = [g.geometry for g in index.grids if g.community == community]
        assert 3 <= len(members) <= 6, f"{community} has {len(members)} grids"
        area = shapely.union_all(members)
        assert isinstance(area, Polygon), f"{community} is not contiguous"
    for other in DISTRICTS:
        if other != district.code and (DEMO / other / "grids.geojson").is_file():
            assert not union.intersects(neighbour_area(other)), f"overlaps district {other}"


if __name__ == "__main__":
    main(sys.argv[1:])
