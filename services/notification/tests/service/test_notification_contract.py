"""The notification service keeps the contract every gridloop service keeps."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from common.contracts.events import PointsAwarded
from common.contracts.topics import Topic
from common.paging import SortKey
from gridloop_tools.testing.builders import as_event, points_awarded, raw_event
from gridloop_tools.testing.openapi_suite import answers_as_documented
from gridloop_tools.testing.paged_list_suite import PagedListSuite
from gridloop_tools.testing.service_fixtures import Auth
from gridloop_tools.testing.service_suite import ServiceContractSuite
from notification import bootstrap
from notification.adapters.unit_of_work import SqlNotificationUnitOfWork
from notification.config import NotificationSettings
from notification.domain.messages import Channel, Message, TemplateId


class TestNotificationServiceContract(ServiceContractSuite, PagedListSuite):
    protected_path = "/v1/inbox/rider-1"
    paged_path = "/v1/inbox/rider-1"
    consumed_topic = Topic.POINTS
    invalid_field = "amount"
    test_every_operation_answers_as_documented = answers_as_documented(
        bootstrap, NotificationSettings
    )

    async def add_list_items(self, app: FastAPI, owner: str, keys: Sequence[SortKey]) -> None:
        unit_of_work = app.state.runtime.unit_of_work_factory(SqlNotificationUnitOfWork)
        async with unit_of_work() as uow:
            for key in keys:
                message = Message(
                    recipient_id=owner,
                    channel=Channel.INBOX,
                    template=TemplateId.POINTS_AWARDED,
                    title="积分到账",
                    body="+10 积分",
                    report_id=f"rep-{key.id}",
                    work_order_id=None,
                )
                await uow.notifications.add(key.id, f"event-{key.id}", message, key.at)
            await uow.commit()

    async def valid_event(self, client: httpx.AsyncClient, auth: Auth) -> CloudEvent:
        return as_event(points_awarded(report_id="rep-1", rider_id="rider-1"))

    def invalid_event(self) -> CloudEvent:
        data = {"rider_id": "rider-1", "amount": -5}
        return raw_event(PointsAwarded.event_type, data, subject="rider-1")

    async def assert_valid_event_applied(
        self, client: httpx.AsyncClient, auth: Auth, app: FastAPI
    ) -> None:
        response = await client.get("/v1/inbox/rider-1", headers=auth(subject="rider-1"))
        assert [i["template"] for i in response.json()["items"]] == ["points_awarded"]
