"""Who the web front end's development sign-in offers: every member of the demo districts'
rosters, an administrator and a few riders per district. ``gridloop run`` writes them to a
file the gateway reads (``GATEWAY_DEV_SIGN_IN_FILE``); nothing of this exists in production."""

from __future__ import annotations

import json
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from common.tokens import Role
from gridloop_tools.staff import district_codes, load_roster, member_of

DEMO_RIDERS_PER_DISTRICT = 3


def dev_people(root: Traversable) -> dict[str, list[dict[str, Any]]]:
    riders: list[dict[str, Any]] = []
    staff: list[dict[str, Any]] = []
    for district in district_codes(root):
        riders += [
            {
                "subject": f"rider-{district}-{n:02d}",
                "district": district,
                "label": f"演示骑手 {n:02d}（{district}）",
            }
            for n in range(1, DEMO_RIDERS_PER_DISTRICT + 1)
        ]
        roster = load_roster(root, district)
        ids = [p.id for p in roster.workers] + [p.id for p in roster.departments]
        for person_id in ids + [p.id for p in roster.supervisors]:
            member = member_of(roster, person_id)
            if member is None:
                continue
            where = f"，{member.street}" if member.street else ""
            grids = f"，网格 {'、'.join(member.grids)}" if member.grids else ""
            staff.append(
                {
                    "subject": member.id,
                    "role": member.role.value,
                    "district": district,
                    "grids": list(member.grids),
                    "name": member.name,
                    "label": f"{member.name}（{_ROLE_WORDS[member.role]}{where}{grids}）",
                }
            )
        staff.append(
            {
                "subject": f"admin-{district}",
                "role": Role.ADMIN.value,
                "district": district,
                "grids": [],
                "name": f"{district} 管理员",
                "label": f"{district} 管理员（演示）",
            }
        )
    return {"riders": riders, "staff": staff}


def write_dev_people(root: Traversable, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dev_people(root), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


_ROLE_WORDS = {
    Role.GRID_WORKER: "网格员",
    Role.DEPARTMENT: "职能部门",
    Role.SUPERVISOR: "督办",
    Role.ADMIN: "管理员",
    Role.RIDER: "骑手",
    Role.SERVICE: "系统",
}
