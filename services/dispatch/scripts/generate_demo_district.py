"""Generate the SYNTHETIC demo district: 317 grids for 兖州区 (district_code 370812).

    cd /work/main && uv run python services/dispatch/scripts/generate_demo_district.py

Writes ``services/dispatch/src/dispatch/demo_data/370812/grids.geojson``.

The geometry is invented, NOT the real boundaries of 兖州区 or of any of its streets,
communities or grids (合成演示数据，非真实边界). Only the grid count (317), the district code
and the street/town names are taken from public descriptions of the district; where the
streets lie, and every line, is made up. How it is built:

1. an irregular, star-shaped district outline of about 25 km x 26 km around 35.55°N 116.83°E;
2. 317 seed points, denser in the urban core and around each town seat (dart throwing with a
   density-dependent minimum distance), so urban grids are small and rural ones large;
3. the Voronoi diagram of the seeds, each cell clipped to the outline; a cell that the
   concave outline cuts in pieces keeps the piece with its seed and gives the rest to the
   neighbour it shares the longest border with, so each grid is a single Polygon;
4. each grid joins the street/town whose centre is nearest (urban streets weigh less, so
   their areas stay small), then grids of a street are grown into communities (社区/村) of
   3-5 neighbouring grids;
5. coordinates are rounded to 6 decimals (~0.1 m) and the result is checked: every polygon
   valid, no gaps, no overlaps, loadable by ``dispatch.domain.grids.GridIndex``.

Work happens in a local kilometre plane (equirectangular around the centre) so cells are
not stretched; kilometres are turned into degrees only at the end. The random seed is fixed,
so running the script again writes a byte-identical file (with the same shapely/GEOS).
"""

from __future__ import annotations

import json
import math
import random
from collections import deque
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPoint, Point, Polygon
from shapely.validation import explain_validity

SEED = 370812
DISTRICT_CODE = "370812"
N_GRIDS = 317
CENTRE_LAT = 35.55
CENTRE_LON = 116.83
WIDTH_KM = 25.0  # east-west extent of the outline
HEIGHT_KM = 26.0  # north-south extent
DECIMALS = 6

KM_PER_DEG_LAT = math.pi * 6371.0088 / 180.0
KM_PER_DEG_LON = KM_PER_DEG_LAT * math.cos(math.radians(CENTRE_LAT))

GENERATOR = "services/dispatch/scripts/generate_demo_district.py"
OUTPUT = (
    Path(__file__).resolve().parents[1]
    / "src"
    / "dispatch"
    / "demo_data"
    / "370812"
    / "grids.geojson"
)

# (number in grid_id, name, centre in km east/north of the district centre, weight, urban).
# Invented positions. A smaller weight shrinks the street's area (weighted nearest centre).
STREETS: list[tuple[int, str, tuple[float, float], float, bool]] = [
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
]


def main() -> None:
    rng = random.Random(SEED)
    outline = district_outline(rng)
    seeds = seed_points(rng, outline)
    cells = clip_cells(seeds, outline)
    grids = [to_lonlat(cell) for cell in cells]
    street_of = assign_streets(seeds)
    communities = grow_communities(grids, street_of, seeds)
    document = feature_collection(grids, communities)
    text = render(document)
    check(text, to_lonlat(outline))
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    (OUTPUT.parent / "__init__.py").touch()
    OUTPUT.write_text(text, encoding="utf-8")
    n_communities = len({c for c in communities})
    print(
        f"wrote {OUTPUT} ({len(text.encode())} bytes): {len(grids)} grids, "
        f"{len(STREETS)} streets, {n_communities} communities"
    )


# --- geometry in the local km plane -----------------------------------------------------


def district_outline(rng: random.Random) -> Polygon:
    """A simple, irregular, star-shaped polygon scaled to WIDTH_KM x HEIGHT_KM."""
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
    sx = WIDTH_KM / (max(xs) - min(xs))
    sy = HEIGHT_KM / (max(ys) - min(ys))
    cx = (max(xs) + min(xs)) / 2
    cy = (max(ys) + min(ys)) / 2
    outline = Polygon([((x - cx) * sx, (y - cy) * sy) for x, y in points])
    assert outline.is_valid, explain_validity(outline)
    return outline


def density(x: float, y: float) -> float:
    """Relative grid density: high in the urban core, bumps at town seats."""
    d = 0.35 + 3.0 * math.exp(-(x * x + y * y) / (2 * 2.6**2))
    for _, _, (sx, sy), _, urban in STREETS:
        if not urban:
            d += 0.45 * math.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * 1.2**2))
    return d


def seed_points(rng: random.Random, outline: Polygon) -> list[Point]:
    """N_GRIDS points inside the outline, spaced according to density().

    Mitchell's best-candidate sampling: each new point is the best of a few random
    candidates (drawn in proportion to density()), the one farthest from the points so far
    in density-scaled distance. Gives evenly spread seeds without clumps.
    """
    minx, miny, maxx, maxy = outline.bounds
    inner = outline.buffer(-0.25)  # no seed right on the outline, so no sliver cells
    shapely.prepare(inner)
    peak = max(density(0.0, 0.0), *(density(*street[2]) for street in STREETS))

    def candidate() -> tuple[float, float]:
        while True:
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if shapely.contains_xy(inner, x, y) and rng.random() * peak < density(x, y):
                return x, y

    points = [candidate()]
    while len(points) < N_GRIDS:
        best, best_score = (0.0, 0.0), -1.0
        for _ in range(12):
            x, y = candidate()
            nearest = min((x - px) ** 2 + (y - py) ** 2 for px, py in points)
            score = nearest * density(x, y)
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


def to_lonlat(polygon: Polygon) -> Polygon:
    """Km plane to lon/lat, rounded; drops vertices that rounding made repeat."""

    def ring(coords: Any) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for x, y in coords:
            lonlat = (
                round(CENTRE_LON + x / KM_PER_DEG_LON, DECIMALS),
                round(CENTRE_LAT + y / KM_PER_DEG_LAT, DECIMALS),
            )
            if not out or out[-1] != lonlat:
                out.append(lonlat)
        return out

    return Polygon(ring(polygon.exterior.coords), [ring(r.coords) for r in polygon.interiors])


# --- hierarchy ---------------------------------------------------------------------------


def assign_streets(seeds: list[Point]) -> list[int]:
    """Index into STREETS of each grid: weighted nearest street centre to its seed."""
    out = []
    for seed in seeds:
        distances = [
            math.hypot(seed.x - cx, seed.y - cy) / weight for _, _, (cx, cy), weight, _ in STREETS
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
    grids: list[Polygon], street_of: list[int], seeds: list[Point]
) -> list[tuple[int, int]]:
    """(street index, community number) of each grid; communities of 3-5 adjacent grids."""
    neighbours = adjacency(grids)
    community_of: list[tuple[int, int] | None] = [None] * len(grids)
    members: dict[tuple[int, int], list[int]] = {}
    for street in range(len(STREETS)):
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


def feature_collection(grids: list[Polygon], communities: list[tuple[int, int]]) -> dict[str, Any]:
    rows = []
    members: dict[tuple[int, int], list[int]] = {}
    for i, key in enumerate(communities):
        members.setdefault(key, []).append(i)
    for (street, number), indices in members.items():
        code, street_name, _, _, _ = STREETS[street]
        kind = "村" if street_name.endswith("镇") else "社区"
        community = f"{street_name}第{number}{kind}"
        # Grids numbered north-west first inside their community.
        indices.sort(key=lambda i: (-grids[i].centroid.y, grids[i].centroid.x))
        for k, i in enumerate(indices, start=1):
            grid_id = f"{DISTRICT_CODE}-{code:02d}-{number:03d}-{k}"
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
                "district_code": DISTRICT_CODE,
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
            "兖州区 (370812) demo grids - SYNTHETIC, not real boundaries / 合成演示数据，非真实边界"
        ),
        "description": (
            "SYNTHETIC demo data: 317 invented grid polygons for 兖州区 (district_code "
            "370812), for demos and tests only. The geometry is NOT the real boundary of the "
            "district or of any street, community or grid; do not use it for real dispatch. "
            "合成演示数据，非真实边界，仅供演示与测试。"
        ),
        "synthetic": True,
        "generator": GENERATOR,
        "seed": SEED,
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


def check(text: str, outline: Polygon) -> None:
    """Fail loudly unless the rendered file is a clean tessellation the loader accepts."""
    from dispatch.domain.grids import GridIndex

    index = GridIndex.from_feature_collection(json.loads(text))
    geometries = [grid.geometry for grid in index.grids]
    assert len(index) == N_GRIDS, len(index)
    assert all(isinstance(g, Polygon) and g.is_valid for g in geometries)
    assert bool(shapely.coverage_is_valid(geometries)), "grids overlap or edges do not match"
    union = shapely.union_all(geometries)
    total = sum(g.area for g in geometries)
    assert abs(union.area - total) <= 1e-12 * total, (union.area, total)
    assert isinstance(union, Polygon) and not union.interiors, "the grids leave a gap"
    assert abs(union.area - outline.area) <= 1e-6 * outline.area, (union.area, outline.area)
    for street in {grid.street for grid in index.grids}:
        area = shapely.union_all([g.geometry for g in index.grids if g.street == street])
        assert isinstance(area, Polygon), f"{street} is not contiguous"
    for community in {grid.community for grid in index.grids}:
        area = shapely.union_all([g.geometry for g in index.grids if g.community == community])
        assert isinstance(area, Polygon), f"{community} is not contiguous"


if __name__ == "__main__":
    main()
