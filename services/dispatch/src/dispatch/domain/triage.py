"""Triage of a submitted report (立案 or 不予立案), pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from common.contracts.catalogue import Category, find_category
from dispatch.domain.grids import Grid, GridIndex


class RejectionCode(StrEnum):
    """Why a report is not filed (不予立案); published as the event's ``reason_code``."""

    OUTSIDE_SERVICE_AREA = "outside_service_area"
    UNKNOWN_CATEGORY = "unknown_category"


@dataclass(frozen=True)
class Accepted:
    grid: Grid
    category: Category


@dataclass(frozen=True)
class Rejected:
    code: RejectionCode
    reason: str


REASON_TEXT = {
    RejectionCode.OUTSIDE_SERVICE_AREA: (
        "上报位置不在本区服务范围内（{district}），请确认定位后重新上报"
    ),
    RejectionCode.UNKNOWN_CATEGORY: (
        "问题类别代码 {category} 无效，请选择正确的问题类别后重新上报"
    ),
}


def triage(*, category_code: str, lat: float, lon: float, grids: GridIndex) -> Accepted | Rejected:
    category = find_category(category_code)
    if category is None:
        return Rejected(
            RejectionCode.UNKNOWN_CATEGORY,
            REASON_TEXT[RejectionCode.UNKNOWN_CATEGORY].format(category=category_code),
        )
    grid = grids.locate(lat, lon)
    if grid is None:
        return Rejected(
            RejectionCode.OUTSIDE_SERVICE_AREA,
            REASON_TEXT[RejectionCode.OUTSIDE_SERVICE_AREA].format(district=grids.district_code),
        )
    return Accepted(grid, category)
