"""Test data for the dispatch grid registry: square GeoJSON grid features and a tiny district."""

from __future__ import annotations

from typing import Any

from gridloop_tools.testing.builders import DISTRICT


def grid_square(
    grid_id: str,
    lon: float,
    lat: float,
    *,
    size: float = 0.01,
    district: str = DISTRICT,
    community: str | None = None,
    street: str = "鼓楼街道",
) -> dict[str, Any]:
    """A grid feature covering ``[lon, lon + size] x [lat, lat + size]``, named ``<grid_id> 网格``
    in the community ``<grid_id> 社区`` unless ``community`` names another, in ``street``."""
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {
        "type": "Feature",
        "properties": {
            "grid_id": grid_id,
            "name": f"{grid_id} 网格",
            "community": community or f"{grid_id} 社区",
            "street": street,
            "district_code": district,
        },
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def two_grids(*, district: str = DISTRICT, community: str | None = None) -> dict[str, Any]:
    """West square g-west [116.80, 116.81] and east square g-east [116.81, 116.82], both over
    lat [35.50, 35.51]."""
    return {
        "type": "FeatureCollection",
        "features": [
            grid_square("g-west", 116.80, 35.50, district=district, community=community),
            grid_square("g-east", 116.81, 35.50, district=district, community=community),
        ],
    }
