"""The dispatch service keeps the contract every gridloop service keeps. Its token-protected
endpoint is loading grids (admins only); its paged list is the work orders, read here by a
department (subject ``rider-1``) to which they are assigned."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from common.contracts.events import ReportSubmitted
from common.contracts.topics import Topic
from common.paging import SortKey
from dispatch import bootstrap
from dispatch.adapters.unit_of_work import SqlDispatchUnitOfWork
from dispatch.config import DispatchSettings
from dispatch.domain.work_orders import Assignee, AssigneeKind
from gridloop_tools.testing.builders import DISTRICT, as_event, raw_event, report_submitted
from gridloop_tools.testing.grids import two_grids
from gridloop_tools.testing.openapi_suite import answers_as_documented
from gridloop_tools.testing.paged_list_suite import PagedListSuite
from gridloop_tools.testing.service_fixtures import Auth
from gridloop_tools.testing.service_suite import ServiceContractSuite
from gridloop_tools.testing.work_orders import OrderStory


class TestDispatchServiceContract(ServiceContractSuite, PagedListSuite):
    protected_method = "PUT"
    protected_path = "/v1/grids"
    protected_role = "admin"
    paged_path = "/v1/workorders"
    paged_role = "department"
    consumed_topic = Topic.REPORTS
    invalid_field = "lat"
    public_operations: ClassVar[frozenset[tuple[str, str]]] = frozenset(
        {
            ("GET", "/v1/districts"),
            ("GET", "/v1/districts/{district}/categories"),
            ("GET", "/v1/districts/{district}/grids"),
        }
    )
    test_every_operation_answers_as_documented = answers_as_documented(bootstrap, DispatchSettings)

    def protected_body(self) -> Any:
        return two_grids()

    async def add_list_items(self, app: FastAPI, owner: str, keys: Sequence[SortKey]) -> None:
        unit_of_work = app.state.runtime.unit_of_work_factory(SqlDispatchUnitOfWork)
        async with unit_of_work() as uow:
            department = Assignee(AssigneeKind.DEPARTMENT, owner, "城管")
            for key in keys:
                story = OrderStory(key.id, DISTRICT, key.at)
                story.dispatch(key.at, due=key.at + timedelta(days=1), to=department)
                await uow.work_orders.add(story.order)
            await uow.commit()

    async def valid_event(self, client: httpx.AsyncClient, auth: Auth) -> CloudEvent:
        response = await client.put("/v1/grids", json=two_grids(), headers=auth(role="admin"))
        assert response.status_code == 200, response.text
        return as_event(report_submitted(report_id="rep-2", lat=30.0, lon=110.0))

    def invalid_event(self) -> CloudEvent:
        data = {"report_id": "rep-x", "lat": 999}
        return raw_event(ReportSubmitted.event_type, data, subject="rep-x")

    async def assert_valid_event_applied(
        self, client: httpx.AsyncClient, auth: Auth, app: FastAPI
    ) -> None:
        """A report outside every grid: triaged, as outside the service area."""
        async with app.state.runtime.engine.connect() as connection:
            rejected = (
                await connection.execute(
                    sa.text("SELECT report_id, reason_code FROM rejected_reports")
                )
            ).all()
            processed = (
                await connection.execute(sa.text("SELECT event_id FROM processed_events"))
            ).all()
        assert [tuple(row) for row in rejected] == [("rep-2", "outside_service_area")]
        assert len(processed) == 1
