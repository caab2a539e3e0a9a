"""The dispatch service keeps the contract every gridloop service keeps. Its token-protected
endpoint is loading grids (admins only); it serves no paged list, so it leaves out
:class:`~gridloop_tools.testing.paged_list_suite.PagedListSuite`."""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from common.contracts.events import ReportSubmitted
from common.contracts.topics import Topic
from dispatch import bootstrap
from dispatch.config import DispatchSettings
from gridloop_tools.testing.builders import as_event, raw_event, report_submitted
from gridloop_tools.testing.grids import two_grids
from gridloop_tools.testing.openapi_suite import answers_as_documented
from gridloop_tools.testing.service_fixtures import Auth
from gridloop_tools.testing.service_suite import ServiceContractSuite


class TestDispatchServiceContract(ServiceContractSuite):
    protected_method = "PUT"
    protected_path = "/v1/grids"
    protected_role = "admin"
    consumed_topic = Topic.REPORTS
    invalid_field = "lat"
    test_every_operation_answers_as_documented = answers_as_documented(bootstrap, DispatchSettings)

    def protected_body(self) -> Any:
        return two_grids()

    async def valid_event(self, client: httpx.AsyncClient, auth: Auth) -> CloudEvent:
        response = await client.put("/v1/grids", json=two_grids(), headers=auth(role="admin"))
        assert response.status_code == 200, response.text
        return as_event(report_submitted(report_id="rep-2", lat=35.505, lon=116.805))

    def invalid_event(self) -> CloudEvent:
        data = {"report_id": "rep-x", "lat": 999}
        return raw_event(ReportSubmitted.event_type, data, subject="rep-x")

    async def assert_valid_event_applied(
        self, client: httpx.AsyncClient, auth: Auth, app: FastAPI
    ) -> None:
        async with app.state.runtime.engine.connect() as connection:
            orders = (await connection.execute(sa.text("SELECT report_id FROM work_orders"))).all()
            processed = (
                await connection.execute(sa.text("SELECT event_id FROM processed_events"))
            ).all()
        assert [tuple(row) for row in orders] == [("rep-2",)]
        assert len(processed) == 1
