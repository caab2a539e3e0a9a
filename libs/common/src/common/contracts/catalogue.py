"""The default report category catalogue (two levels, after the 数字城管 event taxonomy).

Reporting validates incoming codes against it; dispatch triages against it. A district's own
catalogue will later be owned by dispatch and published as events; until then both services
read this shared default, which is part of the public contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Priority(StrEnum):
    URGENT = "urgent"  # 紧急
    NORMAL = "normal"  # 一般


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    group_code: str
    group_name: str
    priority: Priority


_GROUPS = {
    "01": "楼道与公共空间堆物",
    "02": "宣传广告",
    "03": "环境卫生/垃圾倾倒",
    "04": "停车与通行秩序",
    "05": "消防与用电安全",
    "06": "公共安全隐患/设施损坏",
    "07": "矛盾纠纷",
    "99": "其他",
}

_U, _N = Priority.URGENT, Priority.NORMAL
_ROWS: tuple[tuple[str, str, Priority], ...] = (
    ("0101", "楼道杂物堆放", _N),
    ("0102", "消防/疏散通道堵占", _U),
    ("0103", "公共区域乱堆物堆料", _N),
    ("0104", "废弃家具/大件垃圾", _N),
    ("0201", "非法小广告", _N),
    ("0202", "街头散发广告", _N),
    ("0203", "违规户外广告/条幅", _N),
    ("0301", "暴露垃圾", _N),
    ("0302", "建筑/装修垃圾、渣土乱倒", _N),
    ("0303", "垃圾桶(箱)满溢", _N),
    ("0304", "道路不洁/遗撒", _N),
    ("0401", "机动车乱停放", _N),
    ("0402", "非机动车乱停放", _N),
    ("0403", "私设地锁/占用公共车位", _N),
    ("0404", "废弃车辆(僵尸车)", _N),
    ("0501", "私拉电线/飞线充电", _U),
    ("0502", "电动车楼道/入户停放充电", _U),
    ("0503", "消防设施损坏/缺失", _U),
    ("0504", "易燃物堆放", _U),
    ("0601", "井盖缺失/破损", _U),
    ("0602", "道路破损/塌陷", _U),
    ("0603", "公共设施损坏", _N),
    ("0604", "高空坠物/外立面隐患", _U),
    ("0605", "危树/倒伏树木", _U),
    ("0701", "邻里纠纷", _N),
    ("0702", "物业纠纷", _N),
    ("0703", "噪音扰民", _N),
    ("0704", "劳资/消费纠纷", _N),
    ("9901", "其他问题", _N),
)

CATEGORIES: dict[str, Category] = {
    code: Category(code, name, code[:2], _GROUPS[code[:2]], priority)
    for code, name, priority in _ROWS
}


def find_category(code: str) -> Category | None:
    return CATEGORIES.get(code)
