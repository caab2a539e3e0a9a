"""Test data and an in-memory unit of work for dispatch.

Two districts served together, as 济宁市 runs them: 兖州区 370812 with three grids in two streets
(``g-west`` and ``g-east`` in 鼓楼街道, ``g-south`` in 酒仙桥街道) and 任城区 370811 with one
(``r-1`` in 济阳街道), each with its category catalogue, roster and working calendar as the
admin API takes them (docs/workflow.md).

:class:`FakeDispatchDatabase` keeps what the units of work committed; a
:class:`FakeDispatchUnitOfWork` works on a copy and makes it the database's state only when it
commits, so a handler that fails (or forgets to save) leaves nothing behind — as with SQL.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from common.contracts.base import EventData
from common.contracts.envelope import CloudEvent
from common.contracts.events import ReportSubmitted
from common.messaging.ports import EventMeta
from common.paging import SortKey
from common.tokens import issue_token
from dispatch.domain.geometry import EARTH_RADIUS_M
from dispatch.domain.grids import GridIndex
from dispatch.domain.triage import Rejected
from dispatch.domain.work_orders import CLOCKED_STATES, OPEN_STATES, WAITING_STATES, WorkOrder
from dispatch.service_layer import reference
from dispatch.service_layer.districts import CALENDAR, CATEGORIES, ROSTER, DistrictRegistry
from dispatch.service_layer.triage import on_report_submitted_handler
from dispatch.service_layer.unit_of_work import (
    MergeCandidate,
    ReferenceDocument,
    WorkOrderFilter,
)
from gridloop_tools.testing.builders import as_event, report_submitted
from gridloop_tools.testing.grids import grid_square
from gridloop_tools.testing.service_fixtures import (
    FakeOutbox,
    FakeUnitOfWorkBase,
    newest_first_page,
)

EventT = TypeVar("EventT", bound=EventData)

YANZHOU, RENCHENG = "370812", "370811"
NAMES = {YANZHOU: "兖州区", RENCHENG: "任城区"}
GULOU, JIUXIAN, JIYANG = "鼓楼街道", "酒仙桥街道", "济阳街道"

Point = tuple[float, float]
"""(lat, lon)."""
WEST: Point = (35.505, 116.805)
"""Inside g-west (鼓楼街道, 370812); 0.01° squares, so 111 m of latitude is 0.001°."""
EAST: Point = (35.505, 116.815)
"""Inside g-east (鼓楼街道, 370812)."""
SOUTH: Point = (35.485, 116.805)
"""Inside g-south (酒仙桥街道, 370812), where nobody works."""
RENCHENG_POINT: Point = (35.405, 116.605)
"""Inside r-1 (济阳街道, 370811)."""
NOWHERE: Point = (36.2, 117.9)
"""Outside every grid."""

DISTRICT_SUPERVISOR = {YANZHOU: "s-yanzhou", RENCHENG: "s-rencheng"}


def district_grids(district: str) -> dict[str, Any]:
    """The district's grids as a GeoJSON FeatureCollection."""
    if district == RENCHENG:
        features = [grid_square("r-1", 116.60, 35.40, district=RENCHENG, street=JIYANG)]
    else:
        features = [
            grid_square("g-west", 116.80, 35.50, street=GULOU),
            grid_square("g-east", 116.81, 35.50, street=GULOU),
            grid_square("g-south", 116.80, 35.48, street=JIUXIAN),
        ]
    return {"type": "FeatureCollection", "features": features}


def north_of(point: Point, metres: float) -> Point:
    """The point ``metres`` north of ``point``."""
    lat, lon = point
    return lat + math.degrees(metres / EARTH_RADIUS_M), lon


GROUP_NAMES = {
    "01": "楼道与公共空间堆物",
    "02": "宣传广告",
    "05": "消防与用电安全",
    "07": "矛盾纠纷",
    "08": "已停用",
}


def category(
    code: str,
    name: str,
    *,
    priority: str = "urgent",
    claim: tuple[float, str] = (30, "minutes"),
    handle: tuple[float, str] = (4, "working_hours"),
    radius_m: float = 50,
    window_days: float = 3,
    department: str | None = None,
    needs_review: bool = False,
    active: bool = True,
) -> dict[str, Any]:
    """One row of ``categories.json``: by default urgent, claimed within 30 minutes, handled
    within 4 working hours, merging reports within 50 m and 3 days, owned by grid workers."""
    return {
        "code": code,
        "name": name,
        "group_code": code[:2],
        "group_name": GROUP_NAMES[code[:2]],
        "priority": priority,
        "claim_limit": {"amount": claim[0], "unit": claim[1]},
        "handle_limit": {"amount": handle[0], "unit": handle[1]},
        "merge_radius_m": radius_m,
        "merge_window_days": window_days,
        "owner": (
            {"kind": "department", "department_id": department}
            if department
            else {"kind": "grid_worker"}
        ),
        "needs_review": needs_review,
        "active": active,
    }


def categories_document(district: str) -> dict[str, Any]:
    """370812 handles 0501 and 0502 (group 05), 0101 (group 01), 0202 (its 城管 department),
    0701 (reviewed first) and has 0801 switched off; 370811 handles only 0501 and 0101."""
    rows = [
        category("0501", "私拉电线/飞线充电"),
        category("0101", "楼道杂物堆放", priority="normal", handle=(1, "working_days")),
    ]
    if district == YANZHOU:
        rows += [
            category("0502", "电动车楼道充电"),
            category("0202", "街头散发广告", priority="normal", department=f"{district}-chengguan"),
            category("0701", "邻里纠纷", priority="normal", handle=(7, "days"), needs_review=True),
            category("0801", "已停用类别", priority="normal", active=False),
        ]
    return {"district_name": NAMES[district], "categories": rows}


def worker(worker_id: str, *grid_ids: str, on_duty: bool = True) -> dict[str, Any]:
    return {
        "id": worker_id,
        "name": f"网格员{worker_id}",
        "grid_ids": list(grid_ids),
        "on_duty": on_duty,
    }


def roster_document(district: str) -> dict[str, Any]:
    """370812: two on-duty workers and one off duty in g-west, only an off-duty one in g-east,
    nobody in g-south; its 城管 department; a street supervisor of 鼓楼街道 (none for 酒仙桥街道)
    and a district supervisor. 370811: one worker in r-1 and a district supervisor."""
    if district == RENCHENG:
        return {
            "grid_workers": [worker("r-w-1", "r-1")],
            "departments": [{"id": f"{district}-chengguan", "name": "城管", "members": []}],
            "supervisors": [{"id": "s-rencheng", "name": "任城督查", "level": "district"}],
        }
    return {
        "grid_workers": [
            worker("w-west-1", "g-west"),
            worker("w-west-2", "g-west"),
            worker("w-west-off", "g-west", on_duty=False),
            worker("w-east-off", "g-east", on_duty=False),
        ],
        "departments": [
            {"id": f"{district}-chengguan", "name": "综合行政执法局", "members": ["cg-1"]}
        ],
        "supervisors": [
            {"id": "s-gulou", "name": "鼓楼街道督查", "level": "street", "street": GULOU},
            {"id": "s-yanzhou", "name": "兖州区督查", "level": "district"},
        ],
    }


def demo_calendar() -> dict[str, Any]:
    """The 2026 working calendar shipped with the demo district (holidays and adjusted days)."""
    source = resources.files("dispatch.demo_data") / YANZHOU / "calendar.json"
    document: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    return document


def calendar_document(district: str) -> dict[str, Any]:
    """370812 works the demo 2026 calendar; 370811 works 09:00–12:00 and 14:00–18:00."""
    if district == YANZHOU:
        return demo_calendar()
    return {"periods": [["09:00", "12:00"], ["14:00", "18:00"]], "weekend": [5, 6]}


DOCUMENTS = {CATEGORIES: categories_document, ROSTER: roster_document, CALENDAR: calendar_document}


# --- the fake database ------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRejection:
    report_id: str
    reporter_id: str
    district: str | None
    category: str
    decision: Rejected
    at: datetime


@dataclass
class FakeDispatchState:
    grids: dict[str, GridIndex] = field(default_factory=dict)
    grid_revisions: dict[str, tuple[int, datetime | None]] = field(default_factory=dict)
    documents: dict[tuple[str, str], ReferenceDocument] = field(default_factory=dict)
    orders: dict[str, WorkOrder] = field(default_factory=dict)
    rejections: dict[str, RecordedRejection] = field(default_factory=dict)

    def copy(self) -> FakeDispatchState:
        """A working copy (grid indexes are immutable and shared)."""
        return FakeDispatchState(
            grids=dict(self.grids),
            grid_revisions=dict(self.grid_revisions),
            documents=copy.deepcopy(self.documents),
            orders=copy.deepcopy(self.orders),
            rejections=dict(self.rejections),
        )


class FakeDispatchDatabase:
    """What fake units of work share: the committed state and the committed events, in the
    order they were committed (``(data, subject, sequence)``)."""

    def __init__(self) -> None:
        self.state = FakeDispatchState()
        self.events: list[tuple[EventData, str, int]] = []

    def unit_of_work(self) -> FakeDispatchUnitOfWork:
        return FakeDispatchUnitOfWork(self)

    def order(self, work_order_id: str) -> WorkOrder:
        return copy.deepcopy(self.state.orders[work_order_id])

    def only_order(self) -> WorkOrder:
        (order,) = self.state.orders.values()
        return copy.deepcopy(order)

    def event_types(self, subject: str | None = None) -> list[str]:
        """The committed events' types (of ``subject`` only, if given), short: ``filed``…"""
        return [
            short(data.event_type)
            for data, about, _ in self.events
            if subject is None or about == subject
        ]

    def events_of(self, kind: type[EventT]) -> list[EventT]:
        """The committed events of one type, in order."""
        return [data for data, _, _ in self.events if isinstance(data, kind)]


class FakeGrids:
    def __init__(self, state: FakeDispatchState) -> None:
        self._state = state

    async def replace_district(self, index: GridIndex) -> None:
        self._state.grids[index.district_code] = index
        self._state.grid_revisions[index.district_code] = (len(index), datetime.now(UTC))

    async def revisions(self) -> dict[str, tuple[int, datetime | None]]:
        return dict(self._state.grid_revisions)

    async def load(self, district_code: str) -> GridIndex | None:
        return self._state.grids.get(district_code)


class FakeReference:
    def __init__(self, state: FakeDispatchState) -> None:
        self._state = state

    async def put(self, district: str, kind: str, body: object) -> int:
        stored = self._state.documents.get((district, kind))
        revision = stored.revision + 1 if stored else 1
        self._state.documents[(district, kind)] = ReferenceDocument(
            district, kind, copy.deepcopy(body), revision
        )
        return revision

    async def all(self) -> list[ReferenceDocument]:
        return copy.deepcopy(list(self._state.documents.values()))

    async def revisions(self) -> dict[tuple[str, str], int]:
        return {key: document.revision for key, document in self._state.documents.items()}


class FakeWorkOrders:
    """The work-order store, answering each question as the SQL repository does."""

    def __init__(self, state: FakeDispatchState) -> None:
        self._state = state

    @property
    def _orders(self) -> list[WorkOrder]:
        return sorted(self._state.orders.values(), key=lambda o: (o.filed_at, o.id))

    async def add(self, order: WorkOrder) -> None:
        assert order.id not in self._state.orders, f"{order.id} is stored already"
        assert all(o.report_id != order.report_id for o in self._orders), "one order per report"
        self._state.orders[order.id] = copy.deepcopy(order)

    async def save(self, order: WorkOrder, *, history_before: int) -> None:
        stored = self._state.orders[order.id]
        # The SQL repository writes the history rows from ``history_before`` on: a wrong count
        # would write rows twice or lose them.
        assert history_before == len(stored.history), (history_before, len(stored.history))
        self._state.orders[order.id] = copy.deepcopy(order)

    async def get(self, work_order_id: str, *, for_update: bool = False) -> WorkOrder | None:
        return copy.deepcopy(self._state.orders.get(work_order_id))

    async def by_report(self, report_id: str) -> WorkOrder | None:
        found = next((o for o in self._orders if report_id in o.report_ids), None)
        return copy.deepcopy(found)

    async def already_triaged(self, report_id: str) -> bool:
        filed = any(report_id in order.report_ids for order in self._orders)
        return filed or report_id in self._state.rejections

    async def merge_candidates(
        self,
        *,
        district: str,
        category_group: str,
        since: datetime,
        lat_range: tuple[float, float],
        lon_range: tuple[float, float],
    ) -> list[MergeCandidate]:
        return [
            MergeCandidate(order.id, order.lat, order.lon, order.filed_at)
            for order in self._orders
            if order.district == district
            and order.category_group == category_group
            and order.state in OPEN_STATES
            and order.filed_at >= since
            and lat_range[0] <= order.lat <= lat_range[1]
            and lon_range[0] <= order.lon <= lon_range[1]
        ]

    async def open_counts(self, assignee_ids: Sequence[str]) -> dict[str, int]:
        return dict(
            Counter(
                order.assignee.id
                for order in self._orders
                if order.state in OPEN_STATES
                and order.assignee is not None
                and order.assignee.id in assignee_ids
            )
        )

    async def due_for_scan(
        self,
        now: datetime,
        *,
        street_after: timedelta,
        district_after: timedelta,
        after: str | None,
        limit: int,
    ) -> list[str]:
        def due(order: WorkOrder) -> bool:
            if order.state in WAITING_STATES:
                return True
            troubled = max(order.rework_count, order.return_count, order.reopen_count)
            if order.state in OPEN_STATES and order.escalation_level < 2 and troubled >= 3:
                return True
            clock = order.deadlines
            if order.state not in CLOCKED_STATES or clock is None:
                return False
            return (
                (not order.warned and clock.warning_at <= now < clock.handle_due)
                or (not order.overdue and clock.handle_due <= now)
                or (order.escalation_level < 1 and clock.handle_due <= now - street_after)
                or (order.escalation_level < 2 and clock.handle_due <= now - district_after)
            )

        ids = sorted(o.id for o in self._orders if due(o) and (after is None or o.id > after))
        return ids[:limit]

    async def listing(
        self, where: WorkOrderFilter, *, after: SortKey | None, limit: int
    ) -> list[WorkOrder]:
        def shown(order: WorkOrder) -> bool:
            assignee = order.assignee.id if order.assignee else None
            return (
                order.district in where.districts
                and where.street in (None, order.street)
                and (
                    where.grid_ids is None
                    or order.grid_id in where.grid_ids
                    or (assignee is not None and assignee == where.or_assigned_to)
                )
                and where.grid_id in (None, order.grid_id)
                and (not where.states or order.state.value in where.states)
                and where.category in (None, order.category)
                and where.assignee_id in (None, assignee)
                and where.overdue in (None, order.overdue)
            )

        found = [order for order in self._orders if shown(order)]
        page = newest_first_page(
            found, lambda o: SortKey(o.filed_at, o.id), after=after, limit=limit
        )
        return copy.deepcopy(page)

    async def record_rejection(
        self,
        *,
        report_id: str,
        reporter_id: str,
        district: str | None,
        category: str,
        lat: float,
        lon: float,
        decision: Rejected,
        at: datetime,
    ) -> None:
        assert report_id not in self._state.rejections, f"{report_id} was rejected already"
        self._state.rejections[report_id] = RecordedRejection(
            report_id, reporter_id, district, category, decision, at
        )


class FakeDispatchUnitOfWork(FakeUnitOfWorkBase):
    """One transaction on a :class:`FakeDispatchDatabase`: its changes and events become the
    database's when it commits, and are forgotten otherwise."""

    def __init__(self, database: FakeDispatchDatabase) -> None:
        super().__init__()
        self.database = database
        self._begin()

    def _begin(self) -> None:
        self._state = self.database.state.copy()
        self.outbox = FakeOutbox()
        self.grids = FakeGrids(self._state)
        self.reference = FakeReference(self._state)
        self.work_orders = FakeWorkOrders(self._state)

    async def __aenter__(self) -> FakeDispatchUnitOfWork:
        self._begin()
        return self

    async def commit(self) -> None:
        self.database.state = self._state
        self.database.events += self.outbox.events
        self._begin()
        await super().commit()


async def load_district(
    database: FakeDispatchDatabase,
    registry: DistrictRegistry,
    district: str,
    *,
    kinds: Sequence[str] = (CATEGORIES, ROSTER, CALENDAR),
) -> None:
    """Load the district's grids and its ``kinds`` of reference documents, as an admin would."""
    await reference.load_grids(district_grids(district), database.unit_of_work(), registry)
    for kind in kinds:
        document = DOCUMENTS[kind](district)
        await reference.load_document(district, kind, document, database.unit_of_work(), registry)


def report(
    report_id: str = "rep-1",
    *,
    at: Point = WEST,
    category: str = "0501",
    reporter: str = "rider-1",
    districts: Sequence[str] = (YANZHOU,),
) -> ReportSubmitted:
    """A report of ``reporter`` (whose token covers ``districts``) at ``at``."""
    data = report_submitted(
        report_id=report_id, reporter_id=reporter, category=category, lat=at[0], lon=at[1]
    )
    return data.model_copy(update={"reporter_districts": list(districts)})


def report_event(
    report_id: str = "rep-1",
    *,
    envelope_district: str = YANZHOU,
    id_: str | None = None,
    **fields: Any,
) -> CloudEvent:
    """:func:`report` as reporting publishes it, from a reporter whose home district is
    ``envelope_district``."""
    event = as_event(report(report_id, **fields), id_=id_)
    return event.model_copy(update={"district": envelope_district})


class Triage:
    """The triage handler of one dispatch process, fed reports one transaction each; the work
    orders it files are ``wo-1``, ``wo-2``…; ``counted`` holds the triage metric's labels."""

    def __init__(self, database: FakeDispatchDatabase, registry: DistrictRegistry) -> None:
        self.database = database
        self.counted: list[tuple[str, str, str]] = []
        ids = (f"wo-{n}" for n in itertools.count(1))
        self.handler = on_report_submitted_handler(
            registry, lambda *labels: self.counted.append(labels), lambda: next(ids)
        )

    async def __call__(
        self, report_id: str = "rep-1", *, commit: bool = True, **fields: Any
    ) -> str | None:
        """Triage :func:`report_event` (same arguments); the outcome."""
        event = report_event(report_id, **fields)
        data = ReportSubmitted.model_validate(event.data)
        uow = self.database.unit_of_work()
        async with uow:
            outcome = await self.handler(data, EventMeta.of(event), uow)
            if commit:
                await uow.commit()
        return outcome


async def served_districts(database: FakeDispatchDatabase) -> DistrictRegistry:
    """A registry with both districts loaded whole (the catalogues' events left out)."""
    registry = DistrictRegistry()
    for district in (YANZHOU, RENCHENG):
        await load_district(database, registry, district)
    database.events.clear()
    return registry


# --- the real app -----------------------------------------------------------------------------


def bearer(
    app: FastAPI,
    *,
    role: str,
    subject: str,
    district: str = YANZHOU,
    districts: Sequence[str] = (),
    grids: Sequence[str] = (),
) -> dict[str, str]:
    """The Authorization header of a token for ``app`` (``districts``: further districts)."""
    token = issue_token(
        app.state.jwt_secret,
        role=role,
        subject=subject,
        district=district,
        districts=tuple(districts),
        grids=tuple(grids),
    )
    return {"Authorization": f"Bearer {token}"}


async def load_over_http(
    client: httpx.AsyncClient,
    app: FastAPI,
    district: str,
    *,
    kinds: Sequence[str] = (CATEGORIES, ROSTER, CALENDAR),
) -> None:
    """Load the district's grids and its ``kinds`` of documents through the admin API."""
    admin = bearer(app, role="admin", subject=f"admin-{district}", district=district)
    documents = [("grids", district_grids(district))]
    documents += [(kind, DOCUMENTS[kind](district)) for kind in kinds]
    for kind, document in documents:
        response = await client.put(
            f"/v1/districts/{district}/{kind}", json=document, headers=admin
        )
        assert response.status_code == 200, response.text


async def outbox(app: FastAPI) -> list[CloudEvent]:
    """The events the app's outbox holds, in the order the relay publishes them."""
    found = await rows(app, "SELECT payload FROM outbox ORDER BY position")
    return [CloudEvent.from_bytes(payload) for (payload,) in found]


async def rows(app: FastAPI, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    async with app.state.runtime.engine.connect() as connection:
        result = await connection.execute(sa.text(statement), params)
        return [tuple(row) for row in result]


def short(event_type: str) -> str:
    """``gridloop.workorder.filed`` → ``filed``."""
    return event_type.rsplit(".", 1)[1]


__all__ = [
    "CALENDAR",
    "CATEGORIES",
    "DISTRICT_SUPERVISOR",
    "DOCUMENTS",
    "EAST",
    "GULOU",
    "JIUXIAN",
    "JIYANG",
    "NAMES",
    "NOWHERE",
    "RENCHENG",
    "RENCHENG_POINT",
    "ROSTER",
    "SOUTH",
    "WEST",
    "YANZHOU",
    "FakeDispatchDatabase",
    "FakeDispatchUnitOfWork",
    "Point",
    "RecordedRejection",
    "Triage",
    "bearer",
    "calendar_document",
    "categories_document",
    "category",
    "demo_calendar",
    "district_grids",
    "load_district",
    "load_over_http",
    "north_of",
    "outbox",
    "report",
    "report_event",
    "roster_document",
    "rows",
    "served_districts",
    "short",
    "worker",
]
