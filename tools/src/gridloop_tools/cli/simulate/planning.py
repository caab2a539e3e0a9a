"""Deciding every report of a run up front: which rider sends what, and where."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gridloop_tools.cli.simulate.geometry import (
    GridGeometry,
    combined_bounds,
    random_point_in,
    random_point_outside,
)

__all__ = [
    "CATEGORY_CODES",
    "CATEGORY_TEXTS",
    "PlannedReport",
    "plan_reports",
    "rider_districts",
    "rider_ids",
]

#: Category codes the simulator reports in, with short descriptions a rider might type.
CATEGORY_TEXTS: dict[str, tuple[str, ...]] = {
    "0101": ("楼道杂物堆放，影响通行", "单元楼道堆满纸箱和旧家具"),
    "0102": ("消防通道被车辆堵占", "疏散通道堆放杂物，无法通行"),
    "0201": ("墙面张贴非法小广告", "电线杆上喷涂小广告"),
    "0301": ("路边暴露垃圾无人清理", "小区门口垃圾堆积，气味很大"),
    "0401": ("机动车占用人行道停放", "路口机动车乱停放，影响通行"),
    "0402": ("共享单车乱停放，堵塞盲道", "非机动车乱停放，占用人行道"),
    "0403": ("私设地锁占用公共车位", "小区公共车位被私装地锁"),
    "0501": ("楼上私拉电线给电动车充电", "飞线充电，存在火灾隐患"),
    "0502": ("电动车停放在楼道内充电", "电动车推进楼道入户充电"),
    "0601": ("路面井盖缺失，存在安全隐患", "井盖破损松动，行人容易绊倒"),
    "0602": ("道路破损出现坑洼", "路面塌陷，车辆通行危险"),
    "0701": ("邻里因占用公共空间发生纠纷", "楼上漏水引发邻里矛盾"),
    "9901": ("其他问题，请网格员核实", "路灯不亮，夜间通行不便"),
}
CATEGORY_CODES: tuple[str, ...] = tuple(CATEGORY_TEXTS)


@dataclass(frozen=True)
class PlannedReport:
    index: int
    rider_id: str
    category: str
    lat: float
    lon: float
    text: str
    outside: bool
    #: The district of the rider's token (None: the run has a single, unnamed pool of grids).
    district: str | None = None

    def body(self) -> dict[str, Any]:
        return {"category": self.category, "lat": self.lat, "lon": self.lon, "text": self.text}


def rider_ids(count: int) -> list[str]:
    return [f"sim-rider-{number:04d}" for number in range(1, count + 1)]


def rider_districts(riders: Sequence[str], districts: Sequence[str]) -> dict[str, str]:
    """Each rider's home district: the districts in turn, so riders spread evenly."""
    if not districts:
        raise ValueError("at least one district is needed")
    return {rider: districts[index % len(districts)] for index, rider in enumerate(riders)}


def plan_reports(
    *,
    count: int,
    riders: Sequence[str],
    outside_ratio: float,
    grids: Sequence[GridGeometry],
    rng: random.Random,
    home: Mapping[str, Sequence[GridGeometry]] | None = None,
    district_of: Mapping[str, str] | None = None,
    repeat_ratio: float = 0.0,
) -> list[PlannedReport]:
    """Decide every report up front: who sends it, what, and where.

    Exactly ``round(count * outside_ratio)`` reports lie 20–60 km outside every grid of
    ``grids``; the others lie inside a randomly chosen grid — of the rider's district when
    ``home`` (district → its grids) and ``district_of`` (rider → district) are given, else of
    ``grids``. About ``repeat_ratio`` of the inside reports tell again of the same problem at
    the same place as another rider's earlier one of the same district (what dispatch merges,
    并单; the same rider's would be answered with their earlier report). Reports go to riders
    round-robin.
    """
    if not riders:
        raise ValueError("at least one rider is needed")
    outside_count = min(count, max(0, round(count * outside_ratio)))
    flags = [True] * outside_count + [False] * (count - outside_count)
    rng.shuffle(flags)
    bounds = combined_bounds(grids)
    plan: list[PlannedReport] = []
    inside_by_district: dict[str | None, list[PlannedReport]] = {}
    # The problems each rider has told of: a rider never repeats their own.
    told_by: dict[str, set[tuple[str, float, float]]] = {}
    for index, outside in enumerate(flags):
        rider = riders[index % len(riders)]
        district = district_of.get(rider) if district_of is not None else None
        pool = home[district] if home is not None and district is not None else grids
        earlier = inside_by_district.setdefault(district, [])
        told = told_by.setdefault(rider, set())
        others = [r for r in earlier if (r.category, r.lat, r.lon) not in told]
        if not outside and others and rng.random() < repeat_ratio:
            seen = rng.choice(others)
            category, lat, lon = seen.category, seen.lat, seen.lon
        else:
            if outside:
                lon, lat = random_point_outside(bounds, rng)
            else:
                lon, lat = random_point_in(rng.choice(pool), rng)
            category = rng.choice(CATEGORY_CODES)
        plan.append(
            PlannedReport(
                index=index,
                rider_id=rider,
                category=category,
                lat=round(lat, 6),
                lon=round(lon, 6),
                text=rng.choice(CATEGORY_TEXTS[category]),
                outside=outside,
                district=district,
            )
        )
        if not outside:
            earlier.append(plan[-1])
            told.add((plan[-1].category, plan[-1].lat, plan[-1].lon))
    return plan
