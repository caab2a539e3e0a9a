"""The people who work a district's orders — the roster's grid workers, departments and
supervisors — and development tokens that let a tool act as one of them.

Rosters are read from a folder laid out like ``DISPATCH_DISTRICTS_DIR`` (a folder per district
code holding ``roster.json`` and ``grids.geojson``); by default the synthetic demo districts
shipped with the dispatch package. Used by ``gridloop token --as …`` and by ``gridloop simulate
--play-staff``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from common.tokens import Role, issue_token
from dispatch.domain.reference import (
    Department,
    GridWorker,
    ReferenceDataError,
    Roster,
    Supervisor,
    SupervisorLevel,
    parse_roster,
)

__all__ = [
    "DEMO_PACKAGE",
    "StaffError",
    "StaffMember",
    "assignee_member",
    "district_codes",
    "districts_root",
    "find_member",
    "load_roster",
    "member_of",
    "read_district_file",
]

DEMO_PACKAGE = "dispatch.demo_data"
DAY = 24 * 3600


class StaffError(Exception):
    """A district, roster or member that is not there; the message says which."""


def districts_root(directory: Path | None = None) -> Traversable:
    """``directory``, or the demo districts shipped with the dispatch package."""
    if directory is not None:
        if not directory.is_dir():
            raise StaffError(f"districts folder not found: {directory}")
        return directory
    try:
        return resources.files(DEMO_PACKAGE)
    except ModuleNotFoundError as error:  # pragma: no cover - dispatch is a dependency
        raise StaffError(f"the demo districts ({DEMO_PACKAGE}) are not installed") from error


def district_codes(root: Traversable) -> list[str]:
    """The district codes with a folder under ``root``, in order."""
    return sorted(
        entry.name
        for entry in root.iterdir()
        if entry.is_dir() and entry.name.isdigit() and len(entry.name) == 6
    )


def read_district_file(root: Traversable, district: str, name: str) -> Any:
    source = root / district / name
    if not source.is_file():
        raise StaffError(f"district {district} has no {name} (looked in {root})")
    try:
        return json.loads(source.read_text(encoding="utf-8"))
    except ValueError as error:
        raise StaffError(f"{district}/{name} is not valid JSON: {error}") from error


def load_roster(root: Traversable, district: str) -> Roster:
    try:
        return parse_roster(district, read_district_file(root, district, "roster.json"))
    except ReferenceDataError as error:
        raise StaffError(f"the roster of district {district} is invalid: {error}") from error


@dataclass(frozen=True)
class StaffMember:
    """Someone a token can be minted for: their token subject, role and scope."""

    id: str
    """The token's subject: the person's id, or the department's for a department."""
    name: str
    role: Role
    district: str
    grids: tuple[str, ...] = ()
    street: str | None = None
    """A street supervisor's street."""
    acting_as: str | None = None
    """The roster id asked for, when it differs from ``id`` (a department's member)."""

    def token(
        self,
        secret: str,
        *,
        districts: Iterable[str] = (),
        grids: Iterable[str] = (),
        ttl_seconds: int = DAY // 2,
    ) -> str:
        """A signed token as this member, covering ``districts`` besides their own."""
        return issue_token(
            secret,
            role=self.role,
            subject=self.id,
            district=self.district,
            districts=[d for d in dict.fromkeys(districts) if d != self.district],
            grids=list(dict.fromkeys([*self.grids, *grids])),
            ttl_seconds=ttl_seconds,
        )

    def describe(self) -> str:
        who = f"{self.id} {self.name}"
        if self.acting_as:
            who = f"{self.acting_as} for {who}"
        scope = f"{self.role.value} in {self.district}"
        if self.street:
            scope += f", {self.street}"
        if self.grids:
            scope += f", grids {', '.join(self.grids)}"
        return f"{who}: {scope}"


def member_of(roster: Roster, member_id: str) -> StaffMember | None:
    """The roster's grid worker, supervisor or department (by its id or a member's) with
    ``member_id``; None if there is none."""
    found = roster.member(member_id)
    if isinstance(found, GridWorker):
        return StaffMember(
            found.id, found.name, Role.GRID_WORKER, roster.district, tuple(sorted(found.grid_ids))
        )
    if isinstance(found, Supervisor):
        street = found.street if found.level is SupervisorLevel.STREET else None
        return StaffMember(found.id, found.name, Role.SUPERVISOR, roster.district, street=street)
    if isinstance(found, Department):
        acting = member_id if member_id != found.id else None
        return StaffMember(found.id, found.name, Role.DEPARTMENT, roster.district, acting_as=acting)
    return None


def find_member(
    member_id: str, root: Traversable, districts: Sequence[str] | None = None
) -> StaffMember:
    """The member ``member_id`` of one of ``districts`` (default: every district under
    ``root``); :class:`StaffError` if no roster has them, or several do."""
    codes = list(districts) if districts else district_codes(root)
    if not codes:
        raise StaffError(f"no district folders in {root}")
    found = [
        member
        for code in codes
        if (root / code / "roster.json").is_file()
        and (member := member_of(load_roster(root, code), member_id)) is not None
    ]
    if not found:
        raise StaffError(
            f"unknown roster member '{member_id}': not in the roster of "
            f"{'district' if len(codes) == 1 else 'districts'} {', '.join(codes)}"
        )
    if len(found) > 1:
        where = ", ".join(member.district for member in found)
        raise StaffError(
            f"'{member_id}' is in the rosters of districts {where}: say which with --district"
        )
    return found[0]


def assignee_member(
    assignee: Mapping[str, Any], *, district: str, grid_id: str, roster: Roster | None
) -> StaffMember:
    """Who a work order's ``assignee`` (``{"kind", "id", "name"}`` as dispatch shows it) is:
    their roster entry when there is one, with the order's grid for a grid worker."""
    kind, member_id = str(assignee.get("kind", "")), str(assignee.get("id", ""))
    try:
        role = Role(kind)
    except ValueError as error:
        raise StaffError(f"unknown assignee kind '{kind}'") from error
    if role not in {Role.GRID_WORKER, Role.DEPARTMENT, Role.SUPERVISOR} or not member_id:
        raise StaffError(f"cannot act as assignee '{member_id}' ({kind})")
    known = member_of(roster, member_id) if roster is not None else None
    name = known.name if known else str(assignee.get("name", ""))
    grids: tuple[str, ...] = ()
    if role is Role.GRID_WORKER:
        grids = tuple(dict.fromkeys([*(known.grids if known else ()), grid_id]))
    street = known.street if known else None
    return StaffMember(member_id, name, role, district, grids, street=street)
