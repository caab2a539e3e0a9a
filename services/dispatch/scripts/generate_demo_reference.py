"""Generate the SYNTHETIC reference data of a demo district from its grids:
``categories.json``, ``roster.json`` and ``calendar.json`` beside ``grids.geojson``.

    uv run python services/dispatch/scripts/generate_demo_reference.py 370812 兖州区
    uv run python services/dispatch/scripts/generate_demo_reference.py 370811 任城区

合成演示数据: the people are invented (names drawn from common family and given names, ids
``<district>-w-…``); departments and supervisors are placeholders. The categories follow the
project's two-level taxonomy with the default time limits proposed in docs/workflow.md (after
the 数字城管 standard and 12345 practice); the calendar is the State Council's 2026 holiday
schedule (国务院办公厅关于2026年部分节假日安排的通知, 2025-11-04). The output is deterministic.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

DEMO = Path(__file__).resolve().parents[1] / "src" / "dispatch" / "demo_data"

GROUPS = {
    "01": "楼道与公共空间堆物",
    "02": "宣传广告",
    "03": "环境卫生/垃圾倾倒",
    "04": "停车与通行秩序",
    "05": "消防与用电安全",
    "06": "公共安全隐患/设施损坏",
    "07": "矛盾纠纷",
    "99": "其他",
}

WH, WD, H, D, MIN = "working_hours", "working_days", "hours", "days", "minutes"
# code, name, priority, claim (amount, unit), handle (amount, unit), owner department or None
CATEGORIES: list[tuple[str, str, str, tuple[float, str], tuple[float, str], str | None]] = [
    ("0101", "楼道杂物堆放", "normal", (2, H), (1, WD), None),
    ("0102", "消防/疏散通道堵占", "urgent", (30, MIN), (4, WH), None),
    ("0103", "公共区域乱堆物堆料", "normal", (2, H), (1, WD), None),
    ("0104", "废弃家具/大件垃圾", "normal", (2, H), (2, WD), None),
    ("0201", "非法小广告", "normal", (4, H), (1, WD), None),
    ("0202", "街头散发广告", "normal", (4, H), (1, WD), "chengguan"),
    ("0203", "违规户外广告/条幅", "normal", (4, H), (3, WD), "chengguan"),
    ("0301", "暴露垃圾", "normal", (1, H), (4, WH), None),
    ("0302", "建筑/装修垃圾、渣土乱倒", "normal", (1, H), (2, WD), "chengguan"),
    ("0303", "垃圾桶(箱)满溢", "normal", (1, H), (4, WH), None),
    ("0304", "道路不洁/遗撒", "normal", (1, H), (2, WH), None),
    ("0401", "机动车乱停放", "normal", (30, MIN), (2, WH), "traffic"),
    ("0402", "非机动车乱停放", "normal", (1, H), (4, WH), None),
    ("0403", "私设地锁/占用公共车位", "normal", (4, H), (3, WD), None),
    ("0404", "废弃车辆(僵尸车)", "normal", (1, WD), (5, WD), "traffic"),
    ("0501", "私拉电线/飞线充电", "urgent", (30, MIN), (4, WH), None),
    ("0502", "电动车楼道/入户停放充电", "urgent", (30, MIN), (4, WH), None),
    ("0503", "消防设施损坏/缺失", "urgent", (30, MIN), (1, WD), "fire"),
    ("0504", "易燃物堆放", "urgent", (30, MIN), (4, WH), None),
    ("0601", "井盖缺失/破损", "urgent", (30, MIN), (4, WH), "chengguan"),
    ("0602", "道路破损/塌陷", "urgent", (30, MIN), (1, WD), "chengguan"),
    ("0603", "公共设施损坏", "normal", (2, H), (3, WD), "chengguan"),
    ("0604", "高空坠物/外立面隐患", "urgent", (30, MIN), (1, WD), "chengguan"),
    ("0605", "危树/倒伏树木", "urgent", (30, MIN), (1, WD), "chengguan"),
    ("0701", "邻里纠纷", "normal", (1, WD), (7, D), None),
    ("0702", "物业纠纷", "normal", (1, WD), (7, D), None),
    ("0703", "噪音扰民", "normal", (2, H), (1, WD), None),
    ("0704", "劳资/消费纠纷", "normal", (1, WD), (7, D), "market"),
    ("9901", "其他问题", "normal", (4, H), (3, WD), None),
]
NEEDS_REVIEW = {"0701", "0702", "0704", "9901"}
"""Disputes and "other" wait for a street supervisor's review before they are filed."""

DEPARTMENTS = {
    "chengguan": "综合行政执法局(城管)",
    "fire": "消防救援大队",
    "traffic": "公安交警大队",
    "market": "市场监督管理局",
}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀兰霞平刚桂英华玉萍红娟建国志红海燕"

HOLIDAYS_2026 = (
    [f"2026-01-0{d}" for d in (1, 2, 3)]
    + [f"2026-02-{d}" for d in range(15, 24)]
    + [f"2026-04-0{d}" for d in (4, 5, 6)]
    + [f"2026-05-0{d}" for d in range(1, 6)]
    + [f"2026-06-{d}" for d in (19, 20, 21)]
    + [f"2026-09-{d}" for d in (25, 26, 27)]
    + [f"2026-10-0{d}" for d in range(1, 8)]
)
WORKDAYS_2026 = ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]


def categories(district: str, name: str) -> dict[str, Any]:
    rows = []
    for code, title, priority, claim, handle, owner in CATEGORIES:
        rows.append(
            {
                "code": code,
                "name": title,
                "group_code": code[:2],
                "group_name": GROUPS[code[:2]],
                "priority": priority,
                "claim_limit": {"amount": claim[0], "unit": claim[1]},
                "handle_limit": {"amount": handle[0], "unit": handle[1]},
                "merge_radius_m": 30 if code.startswith("04") else 50,
                "merge_window_days": 3 if priority == "urgent" else 7,
                "owner": {"kind": "department", "department_id": f"{district}-{owner}"}
                if owner
                else {"kind": "grid_worker"},
                "needs_review": code in NEEDS_REVIEW,
                "active": True,
            }
        )
    return {"district": district, "district_name": name, "synthetic": True, "categories": rows}


def roster(district: str, grids: dict[str, Any]) -> dict[str, Any]:
    rng = random.Random(int(district))
    used: set[str] = set()

    def person() -> str:
        while True:
            candidate = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", *GIVEN])
            if candidate not in used:
                used.add(candidate)
                return candidate

    workers = []
    streets: dict[str, list[str]] = {}
    for number, feature in enumerate(grids["features"], start=1):
        props = feature["properties"]
        streets.setdefault(props["street"], []).append(props["grid_id"])
        workers.append(
            {
                "id": f"{district}-w-{number:03d}",
                "name": person(),
                "grid_ids": [props["grid_id"]],
                "on_duty": True,
            }
        )
        if number % 5 == 0:  # a second worker in every fifth grid, off duty this week
            workers.append(
                {
                    "id": f"{district}-w-{number:03d}b",
                    "name": person(),
                    "grid_ids": [props["grid_id"]],
                    "on_duty": False,
                }
            )
    supervisors = [
        {"id": f"{district}-s-{n:02d}", "name": person(), "level": "street", "street": street}
        for n, street in enumerate(sorted(streets), start=1)
    ]
    supervisors += [
        {"id": f"{district}-d-01", "name": person(), "level": "district"},
        {"id": f"{district}-d-02", "name": person(), "level": "district"},
    ]
    departments = [
        {"id": f"{district}-{key}", "name": title, "members": [f"{district}-{key}-01"]}
        for key, title in DEPARTMENTS.items()
    ]
    return {
        "district": district,
        "synthetic": True,
        "grid_workers": workers,
        "departments": departments,
        "supervisors": supervisors,
    }


def calendar() -> dict[str, Any]:
    return {
        "year": 2026,
        "periods": [["08:30", "12:00"], ["13:30", "17:30"]],
        "weekend": [5, 6],
        "holidays": HOLIDAYS_2026,
        "workdays": WORKDAYS_2026,
        "source": "国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04)",
    }


def write(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main(district: str, name: str) -> None:
    folder = DEMO / district
    grids = json.loads((folder / "grids.geojson").read_text(encoding="utf-8"))
    write(folder / "categories.json", categories(district, name))
    write(folder / "roster.json", roster(district, grids))
    write(folder / "calendar.json", calendar())
    print(f"wrote {folder}/categories.json, roster.json, calendar.json")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
