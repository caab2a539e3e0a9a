"""The ledger service keeps the contract every gridloop service keeps."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from common.contracts.events import WorkOrderFiled
from common.contracts.topics import Topic
from common.paging import SortKey
from gridloop_tools.testing.builders import as_event, raw_event, work_order_filed
from gridloop_tools.testing.openapi_suite import answers_as_documented
from gridloop_tools.testing.paged_list_suite import PagedListSuite
from gridloop_tools.testing.service_fixtures import Auth
from gridloop_tools.testing.service_suite import ServiceContractSuite
from ledger import bootstrap
from ledger.adapters.unit_of_work import SqlLedgerUnitOfWork
from ledger.config import LedgerSettings
from ledger.domain.points import (
    ISSUANCE_ACCOUNT,
    Account,
    Transfer,
    TransferCode,
    post_transfer,
    rider_account,
)


class TestLedgerServiceContract(ServiceContractSuite, PagedListSuite):
    protected_path = "/v1/accounts/rider-1/balance"
    paged_path = "/v1/accounts/rider-1/transfers"
    consumed_topic = Topic.WORKORDERS
    invalid_field = "work_order_id"
    test_every_operation_answers_as_documented = answers_as_documented(bootstrap, LedgerSettings)

    async def add_list_items(self, app: FastAPI, owner: str, keys: Sequence[SortKey]) -> None:
        unit_of_work = app.state.runtime.unit_of_work_factory(SqlLedgerUnitOfWork)
        async with unit_of_work() as uow:
            await uow.ledger.open_account(ISSUANCE_ACCOUNT, must_not_go_negative=False)
            rider = await uow.ledger.open_account(rider_account(owner), must_not_go_negative=True)
            for key in keys:
                transfer = Transfer(
                    id=key.id,
                    debit_account_id=ISSUANCE_ACCOUNT,
                    credit_account_id=rider_account(owner),
                    amount=10,
                    code=TransferCode.REPORT_ACCEPTED,
                    rider_id=owner,
                    report_id=f"rep-{key.id}",
                    work_order_id=None,
                    ledger_day=key.at.date(),
                    caused_by_event_id=f"event-{key.id}",
                    created_at=key.at,
                )
                issuance, rider = post_transfer(Account(ISSUANCE_ACCOUNT), rider, transfer)
                await uow.ledger.record(transfer, [issuance, rider])
            await uow.commit()

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


class TestStatementPaging(PagedListSuite):
    """The statement pages like every list (its transfer lines keep their transfer ids)."""

    paged_path = "/v1/accounts/rider-1/statement"

    async def add_list_items(self, app: FastAPI, owner: str, keys: Sequence[SortKey]) -> None:
        await TestLedgerServiceContract().add_list_items(app, owner, keys)
