"""Dispatch use cases driven with an in-memory unit of work (no I/O)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError

from common.contracts.envelope import CloudEvent
from common.contracts.events import RejectionReason, ReportRejected, WorkOrderFiled
from dispatch.domain.grids import GridFileError, GridIndex
from dispatch.domain.triage import Rejected, RejectionCode
from dispatch.domain.work_orders import WorkOrder
from dispatch.service_layer import handlers
from dispatch.service_layer.handlers import GridRegistry, GridRegistryEmpty
from dispatch.service_layer.unit_of_work import AbstractDispatchUnitOfWork
from gridloop_tools.testing.builders import apply, as_event, report_submitted
from gridloop_tools.testing.grids import grid_square, two_grids
from gridloop_tools.testing.service_fixtures import FakeUnitOfWorkBase

# --- fakes ----------------------------------------------------------------------------------


class FakeGrids:
    def __init__(self) -> None:
        self.by_district: dict[str, GridIndex] = {}
        self.loads = 0

    async def replace_district(self, index: GridIndex) -> None:
        self.by_district[index.district_code] = index
        self.loads += 1

    async def revision(self, district_code: str) -> tuple[int, datetime | None]:
        return (self.loads, None)

    async def load(self, district_code: str) -> GridIndex | None:
        return self.by_district.get(district_code)


class FakeWorkOrders:
    def __init__(self) -> None:
        self.orders: dict[str, WorkOrder] = {}
        self.rejections: dict[str, Rejected] = {}

    async def add(self, order: WorkOrder) -> None:
        self.orders[order.id] = order

    async def get(self, work_order_id: str) -> WorkOrder | None:
        return self.orders.get(work_order_id)

    async def already_triaged(self, report_id: str) -> bool:
        filed = any(o.report_id == report_id for o in self.orders.values())
        return filed or report_id in self.rejections

    async def record_rejection(
        self,
        *,
        report_id: str,
        reporter_id: str,
        category: str,
        lat: float,
        lon: float,
        decision: Rejected,
        at: datetime,
    ) -> None:
        self.rejections[report_id] = decision


class FakeUnitOfWork(FakeUnitOfWorkBase):
    def __init__(self) -> None:
        super().__init__()
        self.grids = FakeGrids()
        self.work_orders = FakeWorkOrders()


def _typed(uow: FakeUnitOfWork) -> AbstractDispatchUnitOfWork:
    return uow


COMMUNITY = "鼓楼街道第1社区"


def submitted(
    report_id: str = "rep-1",
    *,
    category: str = "0102",
    lat: float = 35.505,
    lon: float = 116.815,
    id_: str = "e-1",
) -> CloudEvent:
    data = report_submitted(report_id=report_id, category=category, lat=lat, lon=lon)
    return as_event(data, id_=id_)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def registry() -> GridRegistry:
    loaded = GridRegistry("370812")
    loaded.replace(GridIndex.from_feature_collection(two_grids(community=COMMUNITY)))
    return loaded


@pytest.fixture
def triaged() -> list[tuple[str, str]]:
    return []


def handler(registry: GridRegistry, triaged: list[tuple[str, str]]) -> Any:
    return handlers.on_report_submitted_handler(
        registry, lambda outcome, reason: triaged.append((outcome, reason)), lambda: "wo-1"
    )


# --- on_report_submitted ----------------------------------------------------------------------


async def test_a_report_in_a_grid_files_a_work_order(
    uow: FakeUnitOfWork, registry: GridRegistry, triaged: list[tuple[str, str]]
) -> None:
    outcome = await apply(handler(registry, triaged), submitted(), _typed(uow))

    assert outcome == "processed"
    assert list(uow.work_orders.orders) == ["wo-1"]
    order = uow.work_orders.orders["wo-1"]
    assert (order.report_id, order.grid_id, order.category, order.priority) == (
        "rep-1",
        "g-east",
        "0102",
        "urgent",
    )
    assert order.district == "370812"
    assert len(order.history) == 1
    assert len(uow.outbox.events) == 1
    data, subject, sequence = uow.outbox.events[0]
    assert isinstance(data, WorkOrderFiled)
    assert subject == "wo-1"
    assert sequence == 1
    assert data.work_order_id == "wo-1"
    assert data.report_id == "rep-1"
    assert data.reporter_id == "rider-1"
    assert (data.grid_id, data.grid_name) == ("g-east", "g-east 网格")
    assert (data.community, data.street) == (COMMUNITY, "鼓楼街道")
    assert (data.category_name, data.priority) == ("消防/疏散通道堵占", "urgent")
    assert data.filed_at == order.filed_at
    await uow.commit()  # metrics count committed work only
    assert triaged == [("filed", "")]
    assert uow.work_orders.rejections == {}


async def test_a_report_outside_every_grid_is_rejected(
    uow: FakeUnitOfWork, registry: GridRegistry, triaged: list[tuple[str, str]]
) -> None:
    outcome = await apply(handler(registry, triaged), submitted(lat=36.0, lon=117.0), _typed(uow))

    assert outcome == "processed"
    assert uow.work_orders.orders == {}
    assert uow.work_orders.rejections["rep-1"].code is RejectionCode.OUTSIDE_SERVICE_AREA
    assert len(uow.outbox.events) == 1
    data, subject, sequence = uow.outbox.events[0]
    assert isinstance(data, ReportRejected)
    assert (subject, sequence) == ("rep-1", 1)
    assert data.reason_code is RejectionReason.OUTSIDE_SERVICE_AREA
    assert data.reporter_id == "rider-1"
    assert "370812" in data.reason
    await uow.commit()  # metrics count committed work only
    assert triaged == [("rejected", "outside_service_area")]


async def test_a_report_of_an_unknown_category_is_rejected(
    uow: FakeUnitOfWork, registry: GridRegistry, triaged: list[tuple[str, str]]
) -> None:
    await apply(handler(registry, triaged), submitted(category="0000"), _typed(uow))
    data, _, _ = uow.outbox.events[0]
    assert isinstance(data, ReportRejected)
    assert data.reason_code is RejectionReason.UNKNOWN_CATEGORY
    await uow.commit()  # metrics count committed work only
    assert triaged == [("rejected", "unknown_category")]


@pytest.mark.parametrize("first", ["inside", "outside"])
async def test_an_already_triaged_report_is_ignored(
    uow: FakeUnitOfWork, registry: GridRegistry, triaged: list[tuple[str, str]], first: str
) -> None:
    on_submitted = handler(registry, triaged)
    lat, lon = (35.505, 116.815) if first == "inside" else (0.0, 0.0)
    await apply(on_submitted, submitted(id_="e-1", lat=lat, lon=lon), _typed(uow))
    uow.outbox.events.clear()

    outcome = await apply(on_submitted, submitted(id_="e-2"), _typed(uow))

    assert outcome == "ignored"
    assert uow.outbox.events == []
    assert len(uow.work_orders.orders) + len(uow.work_orders.rejections) == 1
    await uow.commit()  # metrics count committed work only
    assert len(triaged) == 1


async def test_an_empty_registry_raises_instead_of_rejecting(uow: FakeUnitOfWork) -> None:
    on_submitted = handlers.on_report_submitted_handler(GridRegistry("370812"))
    with pytest.raises(GridRegistryEmpty, match="370812"):
        await apply(on_submitted, submitted(), _typed(uow))
    assert uow.outbox.events == []
    assert uow.work_orders.rejections == {}


async def test_an_invalid_payload_raises_a_validation_error(
    uow: FakeUnitOfWork, registry: GridRegistry
) -> None:
    event = submitted().model_copy(update={"data": {"report_id": "rep-1"}})
    with pytest.raises(ValidationError):
        await apply(handlers.on_report_submitted_handler(registry), event, _typed(uow))


# --- load_grids -------------------------------------------------------------------------------


async def test_load_grids_replaces_the_registry(uow: FakeUnitOfWork) -> None:
    registry = GridRegistry("370812")
    index = await handlers.load_grids(two_grids(), _typed(uow), registry)

    assert registry.loaded
    assert registry.current() is index
    assert [g.grid_id for g in index] == ["g-west", "g-east"]
    assert uow.committed
    assert uow.grids.by_district["370812"] is index

    smaller = {"type": "FeatureCollection", "features": [grid_square("g-only", 116.9, 35.6)]}
    await handlers.load_grids(smaller, _typed(uow), registry)
    assert [g.grid_id for g in registry.current()] == ["g-only"]


async def test_load_grids_of_another_district_is_refused(
    uow: FakeUnitOfWork, registry: GridRegistry
) -> None:
    before = registry.current()
    with pytest.raises(GridFileError, match="370811"):
        await handlers.load_grids(two_grids(district="370811"), _typed(uow), registry)
    assert registry.current() is before
    assert not uow.committed
    assert uow.grids.by_district == {}


async def test_load_grids_with_a_bad_feature_changes_nothing(uow: FakeUnitOfWork) -> None:
    registry = GridRegistry("370812")
    document = two_grids()
    document["features"][1]["geometry"] = None
    with pytest.raises(GridFileError, match="feature #1"):
        await handlers.load_grids(document, _typed(uow), registry)
    assert not registry.loaded
    assert not uow.committed


async def test_refresh_loads_the_stored_registry(uow: FakeUnitOfWork) -> None:
    index = GridIndex.from_feature_collection(two_grids())
    await uow.grids.replace_district(index)
    registry = GridRegistry("370812")
    await registry.refresh(_typed(uow))
    assert registry.current() is index


async def test_refresh_of_an_empty_store_leaves_the_registry_empty(uow: FakeUnitOfWork) -> None:
    registry = GridRegistry("370812")
    await registry.refresh(_typed(uow))
    assert not registry.loaded
    with pytest.raises(GridRegistryEmpty):
        registry.current()


async def test_triage_is_counted_only_once_the_transaction_commits(
    uow: FakeUnitOfWork, registry: GridRegistry, triaged: list[tuple[str, str]]
) -> None:
    await apply(handler(registry, triaged), submitted(), _typed(uow))
    assert triaged == []
    await uow.commit()
    assert triaged == [("filed", "")]


async def test_a_replica_picks_up_grids_another_replica_loaded() -> None:
    shared = FakeUnitOfWork()  # one database, seen by two replicas
    registry, other_replica = GridRegistry("370812"), GridRegistry("370812")
    await handlers.load_grids(two_grids(), _typed(shared), other_replica)

    assert await registry.refresh(_typed(shared)) is True
    assert len(registry.current()) == len(other_replica.current())
    assert await registry.refresh(_typed(shared)) is False  # nothing new: no rebuild
