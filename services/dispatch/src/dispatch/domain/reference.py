"""A district's reference data, pure: its category catalogue (what may be reported, how fast it
must be handled, who owns it, when reports merge), its roster (grid workers, departments,
supervisors) and its working calendar — each parsed from a JSON document and refused whole,
with every problem named by row, if anything in it is wrong."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from enum import StrEnum
from typing import Any

from dispatch.domain.calendar import (
    CalendarError,
    LimitUnit,
    TimeLimit,
    WorkingCalendar,
)

DISTRICT_CODE = re.compile(r"^\d{6}$")
CATEGORY_CODE = re.compile(r"^\d{4}$")
MAX_ERRORS = 50


class ReferenceDataError(ValueError):
    """A reference document was refused; ``problems`` names each, by row."""

    def __init__(self, what: str, problems: Sequence[str]) -> None:
        self.what = what
        self.problems = list(problems)[:MAX_ERRORS]
        more = len(problems) - len(self.problems)
        listed = "; ".join(self.problems) + (f"; and {more} more" if more > 0 else "")
        super().__init__(f"invalid {what}: {listed}")


class Priority(StrEnum):
    URGENT = "urgent"  # 紧急
    NORMAL = "normal"  # 一般


class OwnerKind(StrEnum):
    GRID_WORKER = "grid_worker"
    DEPARTMENT = "department"


@dataclass(frozen=True)
class CategoryOwner:
    kind: OwnerKind
    department_id: str | None = None


@dataclass(frozen=True)
class CategoryRule:
    """One category (小类) as a district configures it."""

    code: str
    name: str
    group_code: str
    group_name: str
    priority: Priority
    claim_limit: TimeLimit
    handle_limit: TimeLimit
    merge_radius_m: float
    merge_window_days: float
    owner: CategoryOwner
    needs_review: bool = False
    active: bool = True
    photo_required: bool = False
    """Whether a report of this category must carry at least one photo (reporting checks)."""


@dataclass(frozen=True)
class Catalogue:
    district: str
    categories: Mapping[str, CategoryRule]

    def find(self, code: str) -> CategoryRule | None:
        return self.categories.get(code)


@dataclass(frozen=True)
class GridWorker:
    id: str
    name: str
    grid_ids: frozenset[str]
    on_duty: bool = True


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    members: frozenset[str]


class SupervisorLevel(StrEnum):
    STREET = "street"
    DISTRICT = "district"


@dataclass(frozen=True)
class Supervisor:
    id: str
    name: str
    level: SupervisorLevel
    street: str | None = None


@dataclass(frozen=True)
class Roster:
    district: str
    workers: tuple[GridWorker, ...] = ()
    departments: tuple[Department, ...] = ()
    supervisors: tuple[Supervisor, ...] = ()

    def workers_of(self, grid_id: str) -> list[GridWorker]:
        return [w for w in self.workers if grid_id in w.grid_ids]

    def department(self, department_id: str) -> Department | None:
        return next((d for d in self.departments if d.id == department_id), None)

    def street_supervisors(self, street: str) -> list[Supervisor]:
        return [
            s for s in self.supervisors if s.level is SupervisorLevel.STREET and s.street == street
        ]

    def district_supervisors(self) -> list[Supervisor]:
        return [s for s in self.supervisors if s.level is SupervisorLevel.DISTRICT]

    def supervising(self, street: str | None) -> list[Supervisor]:
        """Who supervises orders in ``street``: its street supervisors or, in a street without
        one, the district's (as the assignment ladder falls back to them), so somebody is told."""
        return (self.street_supervisors(street) if street else []) or self.district_supervisors()

    def member(self, person_id: str) -> GridWorker | Department | Supervisor | None:
        for worker in self.workers:
            if worker.id == person_id:
                return worker
        for supervisor in self.supervisors:
            if supervisor.id == person_id:
                return supervisor
        for department in self.departments:
            if person_id in department.members or department.id == person_id:
                return department
        return None


@dataclass
class _Problems:
    what: str
    found: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.found.append(f"{where}: {message}")

    def raise_if_any(self) -> None:
        if self.found:
            raise ReferenceDataError(self.what, self.found)


def parse_catalogue(district: str, document: Any) -> Catalogue:
    problems = _Problems("category catalogue")
    rows = _rows(document, "categories", problems)
    categories: dict[str, CategoryRule] = {}
    for index, row in enumerate(rows):
        where = f"categories[{index}]" + (f" ({row.get('code')})" if isinstance(row, dict) else "")
        if not isinstance(row, dict):
            problems.add(where, "must be an object")
            continue
        try:
            rule = _category(row)
        except (KeyError, TypeError, ValueError, CalendarError) as error:
            problems.add(where, _reason(error))
            continue
        if rule.code in categories:
            problems.add(where, f"code {rule.code} appears twice")
        categories[rule.code] = rule
    if not categories and not problems.found:
        problems.add("categories", "a district needs at least one category")
    problems.raise_if_any()
    return Catalogue(_district(district), categories)


def parse_roster(district: str, document: Any, *, grid_ids: Iterable[str] = ()) -> Roster:
    """``grid_ids``: the district's grids, so a worker of an unknown grid is refused (when the
    grids are loaded)."""
    problems = _Problems("roster")
    known_grids = set(grid_ids)
    workers: list[GridWorker] = []
    seen: set[str] = set()
    for index, row in enumerate(_rows(document, "grid_workers", problems, required=False)):
        where = f"grid_workers[{index}]"
        try:
            worker = GridWorker(
                id=_text(row, "id"),
                name=_text(row, "name"),
                grid_ids=frozenset(_texts(row, "grid_ids")),
                on_duty=_flag(row, "on_duty", default=True),
            )
        except (KeyError, TypeError, ValueError) as error:
            problems.add(where, _reason(error))
            continue
        if known_grids and not worker.grid_ids <= known_grids:
            unknown = ", ".join(sorted(worker.grid_ids - known_grids))
            problems.add(f"{where} ({worker.id})", f"unknown grid {unknown}")
        _unique(worker.id, seen, f"{where}", problems)
        workers.append(worker)
    departments: list[Department] = []
    for index, row in enumerate(_rows(document, "departments", problems, required=False)):
        where = f"departments[{index}]"
        try:
            department = Department(
                id=_text(row, "id"),
                name=_text(row, "name"),
                members=frozenset(_texts(row, "members", required=False)),
            )
        except (KeyError, TypeError, ValueError) as error:
            problems.add(where, _reason(error))
            continue
        _unique(department.id, seen, where, problems)
        departments.append(department)
    supervisors: list[Supervisor] = []
    for index, row in enumerate(_rows(document, "supervisors", problems, required=False)):
        where = f"supervisors[{index}]"
        try:
            level = SupervisorLevel(_text(row, "level"))
            street = row.get("street")
            if level is SupervisorLevel.STREET and not (isinstance(street, str) and street):
                raise ValueError("a street supervisor names their street")
            supervisor = Supervisor(
                id=_text(row, "id"),
                name=_text(row, "name"),
                level=level,
                street=street if level is SupervisorLevel.STREET else None,
            )
        except (KeyError, TypeError, ValueError) as error:
            problems.add(where, _reason(error))
            continue
        _unique(supervisor.id, seen, where, problems)
        supervisors.append(supervisor)
    if not any(s.level is SupervisorLevel.DISTRICT for s in supervisors) and not problems.found:
        problems.add("supervisors", "a district needs at least one district-level supervisor")
    problems.raise_if_any()
    return Roster(_district(district), tuple(workers), tuple(departments), tuple(supervisors))


def parse_calendar(document: Any) -> WorkingCalendar:
    problems = _Problems("working calendar")
    if not isinstance(document, dict):
        raise ReferenceDataError("working calendar", ["the document must be a JSON object"])
    periods: list[tuple[time, time]] = []
    raw_periods = document.get("periods", [])
    if not isinstance(raw_periods, list):
        problems.add("periods", 'must be a list of ["HH:MM", "HH:MM"]')
        raw_periods = []
    for index, period in enumerate(raw_periods):
        try:
            start, end = period
            periods.append((time.fromisoformat(start), time.fromisoformat(end)))
        except (TypeError, ValueError):
            problems.add(f"periods[{index}]", 'must be ["HH:MM", "HH:MM"]')
    holidays = _dates(document.get("holidays", []), "holidays", problems)
    workdays = _dates(document.get("workdays", []), "workdays", problems)
    weekend_raw = document.get("weekend", [5, 6])
    if not isinstance(weekend_raw, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in weekend_raw
    ):
        problems.add("weekend", "must list days of the week, 0 (Monday) to 6 (Sunday)")
        weekend_raw = [5, 6]
    elif len(set(weekend_raw)) == 7:  # no deadline could ever be met
        problems.add("weekend", "leaves no working day in the week")
    problems.raise_if_any()
    try:
        return WorkingCalendar(
            periods=tuple(periods) if periods else WorkingCalendar().periods,
            weekend=frozenset(weekend_raw),
            holidays=frozenset(holidays),
            workdays=frozenset(workdays),
        )
    except CalendarError as error:
        raise ReferenceDataError("working calendar", [str(error)]) from error


# --- helpers ----------------------------------------------------------------------------------


def _district(code: str) -> str:
    if not DISTRICT_CODE.match(code):
        raise ReferenceDataError("district", [f"{code!r} is not a 6-digit district code"])
    return code


def _rows(document: Any, key: str, problems: _Problems, *, required: bool = True) -> list[Any]:
    if not isinstance(document, dict):
        problems.add("document", "must be a JSON object")
        return []
    rows = document.get(key)
    if rows is None and not required:
        return []
    if not isinstance(rows, list):
        problems.add(key, "must be a list")
        return []
    return rows


def _category(row: dict[str, Any]) -> CategoryRule:
    code = _text(row, "code")
    if not CATEGORY_CODE.match(code):
        raise ValueError(f"code {code!r} is not four digits")
    group = _text(row, "group_code")
    if not code.startswith(group):
        raise ValueError(f"code {code} is not in group {group}")
    owner_raw = row.get("owner", {"kind": "grid_worker"})
    if not isinstance(owner_raw, dict):
        raise TypeError("owner must be an object")
    owner = CategoryOwner(OwnerKind(str(owner_raw.get("kind"))), owner_raw.get("department_id"))
    if owner.kind is OwnerKind.DEPARTMENT and not owner.department_id:
        raise ValueError("a department owner names its department_id")
    radius = _number(row, "merge_radius_m", default=50.0)
    window = _number(row, "merge_window_days", default=7.0)
    if radius < 0 or window < 0:
        raise ValueError("merge_radius_m and merge_window_days must not be negative")
    return CategoryRule(
        code=code,
        name=_text(row, "name"),
        group_code=group,
        group_name=_text(row, "group_name"),
        priority=Priority(row.get("priority", "normal")),
        claim_limit=_limit(row, "claim_limit"),
        handle_limit=_limit(row, "handle_limit"),
        merge_radius_m=radius,
        merge_window_days=window,
        owner=owner,
        needs_review=_flag(row, "needs_review", default=False),
        active=_flag(row, "active", default=True),
        photo_required=_flag(row, "photo_required", default=False),
    )


def _limit(row: dict[str, Any], key: str) -> TimeLimit:
    raw = row.get(key)
    if not isinstance(raw, dict):
        raise TypeError(f'{key} must be like {{"amount": 4, "unit": "working_hours"}}')
    amount = raw.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise TypeError(f"{key}.amount must be a number")
    try:
        unit = LimitUnit(str(raw.get("unit")))
    except ValueError as error:
        units = ", ".join(u.value for u in LimitUnit)
        raise ValueError(f"{key}.unit must be one of {units}") from error
    if not amount / _PER_DAY[unit] <= MAX_LIMIT_DAYS:  # also NaN and infinity
        raise ValueError(f"{key} must not be longer than {MAX_LIMIT_DAYS} days")
    return TimeLimit(float(amount), unit)


MAX_LIMIT_DAYS = 365
"""The longest time limit, a year's worth of its unit (a working hour counted as an hour, a
working day as a day): on a calendar of five working days a week its deadline stays well
within the ten years the calendar searches, and within what a moment can hold."""
_PER_DAY = {
    LimitUnit.MINUTES: 24 * 60,
    LimitUnit.HOURS: 24,
    LimitUnit.DAYS: 1,
    LimitUnit.WORKING_HOURS: 24,
    LimitUnit.WORKING_DAYS: 1,
}


def _text(row: Any, key: str) -> str:
    if not isinstance(row, dict):
        raise TypeError("must be an object")
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be a non-empty string")
    return value.strip()


def _texts(row: dict[str, Any], key: str, *, required: bool = True) -> list[str]:
    value = row.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{key} must be a list of ids")
    if required and not value:
        raise ValueError(f"{key} must not be empty")
    return value


def _flag(row: dict[str, Any], key: str, *, default: bool) -> bool:
    value = row.get(key, default)
    if not isinstance(value, bool):
        raise TypeError(f"{key} must be true or false")
    return value


def _number(row: dict[str, Any], key: str, *, default: float) -> float:
    value = row.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{key} must be a number")
    return float(value)


def _dates(values: Any, key: str, problems: _Problems) -> list[date]:
    if not isinstance(values, list):
        problems.add(key, "must be a list of dates (YYYY-MM-DD)")
        return []
    found = []
    for index, value in enumerate(values):
        try:
            found.append(date.fromisoformat(value))
        except (TypeError, ValueError):
            problems.add(f"{key}[{index}]", f"{value!r} is not a date (YYYY-MM-DD)")
    return found


def _unique(identifier: str, seen: set[str], where: str, problems: _Problems) -> None:
    if identifier in seen:
        problems.add(where, f"id {identifier} is used twice in the roster")
    seen.add(identifier)


def _reason(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"{error.args[0]} is missing"
    return str(error)
