"""The reporting service keeps the contract every gridloop service keeps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from common.contracts.events import WorkOrderFiled
from common.contracts.topics import Topic
from common.paging import SortKey
from gridloop_tools.testing.builders import DISTRICT, as_event, raw_event, work_order_filed
from gridloop_tools.testing.openapi_suite import answers_as_documented
from gridloop_tools.testing.paged_list_suite import PagedListSuite
from gridloop_tools.testing.service_fixtures import Auth
from gridloop_tools.testing.service_suite import ServiceContractSuite
from reporting import bootstrap
from reporting.adapters.unit_of_work import SqlReportingUnitOfWork
from reporting.config import ReportingSettings
from reporting.domain.reports import Report

REPORT = {"category": "0101", "lat": 35.5531, "lon": 116.8287, "text": "楼道堆放杂物"}


class TestReportingServiceContract(ServiceContractSuite, PagedListSuite):
    protected_method = "POST"
    protected_path = "/v1/reports"
    paged_path = "/v1/reports"
    consumed_topic = Topic.WORKORDERS
    invalid_field = "work_order_id"
    test_every_operation_answers_as_documented = answers_as_documented(bootstrap, ReportingSettings)

    def protected_body(self) -> Any:
        return REPORT

    async def add_list_items(self, app: FastAPI, owner: str, keys: Sequence[SortKey]) -> None:
        unit_of_work = app.state.runtime.unit_of_work_factory(SqlReportingUnitOfWork)
        async with unit_of_work() as uow:
            for key in keys:
                report = Report(
                    id=key.id,
                    reporter_id=owner,
                    district=DISTRICT,
                    category="0101",
                    lat=35.5531,
                    lon=116.8287,
                    text="楼道堆放杂物",
                    submitted_at=key.at,
                    updated_at=key.at,
                )
                await uow.reports.add(report)
            await uow.commit()

    async def valid_event(self, client: httpx.AsyncClient, auth: Auth) -> CloudEvent:
        response = await client.post("/v1/reports", json=REPORT, headers=auth(subject="rider-1"))
        assert response.status_code == 201, response.text
        return as_event(work_order_filed(report_id=response.json()["id"]))

    def invalid_event(self) -> CloudEvent:
        return raw_event(
            WorkOrderFiled.event_type, {"report_id": "rep-x", "grid_id": 7}, subject="wo-x"
        )

    async def assert_valid_event_applied(
        self, client: httpx.AsyncClient, auth: Auth, app: FastAPI
    ) -> None:
        listed = await client.get("/v1/reports", headers=auth(subject="rider-1"))
        assert [item["status"] for item in listed.json()["items"]] == ["filed"]
