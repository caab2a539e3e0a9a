"""The ledger service keeps the contract every gridloop service keeps."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from common.contracts.events import WorkOrderFiled
from common.contracts.topics import Topic
from gridloop_tools.testing.builders import as_event, raw_event, work_order_filed
from gridloop_tools.testing.service_fixtures import Auth
from gridloop_tools.testing.service_suite import ServiceContractSuite


class TestLedgerServiceContract(ServiceContractSuite):
    protected_path = "/v1/accounts/rider-1/balance"
    paged_path = "/v1/accounts/rider-1/transfers"
    consumed_topic = Topic.WORKORDERS
    invalid_field = "work_order_id"

    async def valid_event(self, client: httpx.AsyncClient, auth: Auth) -> CloudEvent:
        return as_event(work_order_filed(report_id="rep-1"))

    def invalid_event(self) -> CloudEvent:
        data = {"report_id": "rep-x", "reporter_id": "rider-1"}
        return raw_event(WorkOrderFiled.event_type, data, subject="wo-x")

    async def assert_valid_event_applied(
        self, client: httpx.AsyncClient, auth: Auth, app: FastAPI
    ) -> None:
        response = await client.get(
            "/v1/accounts/rider-1/transfers", headers=auth(subject="rider-1")
        )
        assert [t["report_id"] for t in response.json()["items"]] == ["rep-1"]
