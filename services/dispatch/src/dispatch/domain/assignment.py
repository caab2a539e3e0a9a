"""Who gets a work order (派遣), pure: the grid's on-duty worker with the fewest open orders,
else the category's department, else the street supervisor — never someone who returned it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from dispatch.domain.calendar import WorkingCalendar
from dispatch.domain.reference import CategoryRule, OwnerKind, Roster
from dispatch.domain.work_orders import Assignee, AssigneeKind, Deadlines

WARNING_SHARE = 0.8
"""The 预警 comes when this share of the handling time limit has run."""


class NobodyToAssign(Exception):
    """The roster has nobody who may take the order (e.g. everyone returned it)."""


def choose_assignee(
    *,
    roster: Roster,
    category: CategoryRule,
    grid_id: str,
    street: str,
    open_orders: Mapping[str, int],
    excluded: Collection[str] = (),
) -> Assignee:
    """``open_orders``: how many open orders each person or department holds now."""
    if category.owner.kind is OwnerKind.GRID_WORKER:
        candidates = [
            worker
            for worker in roster.workers_of(grid_id)
            if worker.on_duty and worker.id not in excluded
        ]
        if candidates:
            chosen = min(candidates, key=lambda w: (open_orders.get(w.id, 0), w.id))
            return Assignee(AssigneeKind.GRID_WORKER, chosen.id, chosen.name)
    department_id = category.owner.department_id
    if department_id is not None and department_id not in excluded:
        department = roster.department(department_id)
        if department is not None:
            return Assignee(AssigneeKind.DEPARTMENT, department.id, department.name)
    for supervisor in sorted(roster.street_supervisors(street), key=lambda s: s.id):
        if supervisor.id not in excluded:
            return Assignee(AssigneeKind.SUPERVISOR, supervisor.id, supervisor.name)
    for supervisor in sorted(roster.district_supervisors(), key=lambda s: s.id):
        if supervisor.id not in excluded:
            return Assignee(AssigneeKind.SUPERVISOR, supervisor.id, supervisor.name)
    raise NobodyToAssign(f"nobody in the roster may take an order in grid {grid_id}")


def deadlines_for(category: CategoryRule, calendar: WorkingCalendar, start: datetime) -> Deadlines:
    """The clock of an assignment that starts at ``start``: claim and handling deadlines and
    the warning point, counted as the category's limits count (natural or working time)."""
    return Deadlines(
        started_at=start,
        claim_due=calendar.deadline(start, category.claim_limit),
        warning_at=calendar.point_in(start, category.handle_limit, WARNING_SHARE),
        handle_due=calendar.deadline(start, category.handle_limit),
    )
