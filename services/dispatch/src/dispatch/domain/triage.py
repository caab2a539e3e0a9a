"""Triage of a submitted report (立案 or 不予立案), pure: which district and grid the point
falls in, whether the reporter may report there (their token covers the district), and
whether the category is one the district handles. Merging into an open order (并单) comes
after, with the open orders at hand."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from dispatch.domain.grids import Grid, GridIndex
from dispatch.domain.reference import Catalogue, CategoryRule


class RejectionCode(StrEnum):
    """Why a report is not filed (不予立案); published as the event's ``reason_code``."""

    OUTSIDE_SERVICE_AREA = "outside_service_area"
    UNKNOWN_CATEGORY = "unknown_category"
    INACTIVE_CATEGORY = "inactive_category"
    DISTRICT_MISMATCH = "district_mismatch"
    REJECTED_ON_REVIEW = "rejected_on_review"


@dataclass(frozen=True)
class Accepted:
    grid: Grid
    category: CategoryRule


@dataclass(frozen=True)
class Rejected:
    code: RejectionCode
    reason: str
    district: str | None = None
    """The district the point fell in, when it fell in one."""


REASON_TEXT = {
    RejectionCode.OUTSIDE_SERVICE_AREA: (
        "上报位置不在服务范围内（{district}），请确认定位后重新上报"
    ),
    RejectionCode.UNKNOWN_CATEGORY: "问题类别代码 {category} 无效，请选择正确的问题类别后重新上报",
    RejectionCode.INACTIVE_CATEGORY: "{district} 暂不受理「{category}」类问题",
    RejectionCode.DISTRICT_MISMATCH: (
        "上报位置属于 {district}，不在您所属的 {reporter_district} 范围内，请联系所在区域"
    ),
    RejectionCode.REJECTED_ON_REVIEW: "经核实不予立案：{reason}",
}


def locate(lat: float, lon: float, grids: Mapping[str, GridIndex]) -> Grid | None:
    """The grid the point falls in, whichever district it belongs to."""
    for index in grids.values():
        minx, miny, maxx, maxy = index.bounds
        if minx <= lon <= maxx and miny <= lat <= maxy:
            grid = index.locate(lat, lon)
            if grid is not None:
                return grid
    return None


def triage(
    *,
    report_districts: Collection[str],
    category_code: str,
    lat: float,
    lon: float,
    grids: Mapping[str, GridIndex],
    catalogues: Mapping[str, Catalogue],
) -> Accepted | Rejected:
    grid = locate(lat, lon, grids)
    if grid is None:
        areas = "、".join(sorted(grids)) or "、".join(sorted(report_districts))
        return Rejected(
            RejectionCode.OUTSIDE_SERVICE_AREA,
            REASON_TEXT[RejectionCode.OUTSIDE_SERVICE_AREA].format(district=areas),
        )
    district = grid.district_code
    if district not in report_districts:
        return Rejected(
            RejectionCode.DISTRICT_MISMATCH,
            REASON_TEXT[RejectionCode.DISTRICT_MISMATCH].format(
                district=district, reporter_district="、".join(sorted(report_districts))
            ),
            district,
        )
    catalogue = catalogues.get(district)
    category = catalogue.find(category_code) if catalogue else None
    if category is None:
        return Rejected(
            RejectionCode.UNKNOWN_CATEGORY,
            REASON_TEXT[RejectionCode.UNKNOWN_CATEGORY].format(category=category_code),
            district,
        )
    if not category.active:
        return Rejected(
            RejectionCode.INACTIVE_CATEGORY,
            REASON_TEXT[RejectionCode.INACTIVE_CATEGORY].format(
                district=district, category=category.name
            ),
            district,
        )
    return Accepted(grid, category)
