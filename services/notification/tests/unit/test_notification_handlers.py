"""The notify handler driven with an in-memory unit of work (no I/O)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import pytest

from common.contracts.base import EventData
from common.contracts.events import NotificationDelivered, RejectionReason, WorkOrderFiled
from common.paging import SortKey
from gridloop_tools.testing import builders
from gridloop_tools.testing.builders import (
    apply,
    as_event,
    keyed_event,
    points_awarded,
    report_rejected,
    report_submitted,
    work_order_filed,
)
from gridloop_tools.testing.service_fixtures import FakeUnitOfWorkBase, newest_first_page
from notification.domain.delivery import Webhook
from notification.domain.messages import Message, StoredNotification
from notification.service_layer.handlers import messages_for, notification_id, notify_handler
from notification.service_layer.unit_of_work import AbstractNotificationUnitOfWork

# --- fakes ----------------------------------------------------------------------------------


class FakeNotifications:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, Message, datetime]] = {}

    async def add(
        self, notification_id: str, event_id: str, message: Message, at: datetime
    ) -> bool:
        if notification_id in self.rows:
            return False
        self.rows[notification_id] = (event_id, message, at)
        return True

    async def mark_read(
        self, recipient_id: str, notification_id: str, at: datetime
    ) -> StoredNotification | None:
        raise NotImplementedError  # the inbox API is tested against the real database

    async def mark_all_read(self, recipient_id: str, at: datetime) -> int:
        raise NotImplementedError

    async def unread_count(self, recipient_id: str) -> int:
        raise NotImplementedError

    async def inbox(
        self, recipient_id: str, *, limit: int, after: SortKey | None, unread: bool = False
    ) -> list[StoredNotification]:
        mine = [
            StoredNotification(
                id=key,
                recipient_id=m.recipient_id,
                channel=m.channel.value,
                template=m.template.value,
                title=m.title,
                body=m.body,
                report_id=m.report_id,
                work_order_id=m.work_order_id,
                created_at=at,
            )
            for key, (_, m, at) in self.rows.items()
            if m.recipient_id == recipient_id
        ]
        return newest_first_page(
            mine, lambda i: SortKey(i.created_at, i.id), after=after, limit=limit
        )


class FakeWebhooks:
    """No webhook configured: the handler writes inboxes only (webhooks are tested against
    the real database and a real receiver)."""

    async def get(self, district: str, audience: str) -> Webhook | None:
        return None

    async def put(self, webhook: Webhook, at: datetime) -> None:
        raise NotImplementedError

    async def delete(self, district: str, audience: str) -> bool:
        raise NotImplementedError

    async def all(self) -> list[Webhook]:
        return []


class FakeWorkOrders:
    def __init__(self) -> None:
        self.newest_seen: dict[str, int] = {}

    async def note(self, work_order_id: str, sequence: int) -> None:
        self.newest_seen[work_order_id] = max(sequence, self.newest_seen.get(work_order_id, 0))

    async def newest(self, work_order_id: str) -> int:
        return self.newest_seen.get(work_order_id, 0)


class FakeUnitOfWork(FakeUnitOfWorkBase):
    def __init__(self) -> None:
        super().__init__()
        self.notifications = FakeNotifications()
        self.webhooks = FakeWebhooks()
        self.deliveries: Any = None  # never reached without a webhook
        self.preferences: Any = None  # read by the sender only
        self.wechat: Any = None  # never reached without WeChat routing
        self.work_orders = FakeWorkOrders()


def _typed(uow: FakeUnitOfWork) -> AbstractNotificationUnitOfWork:
    return uow


def filed(reporter_id: str = "rider-1") -> WorkOrderFiled:
    return work_order_filed(report_id="rep-1", work_order_id="wo-1", reporter_id=reporter_id)


REJECTED = report_rejected(
    report_id="rep-2",
    reporter_id="rider-2",
    reason_code=RejectionReason.UNKNOWN_CATEGORY,
    reason="问题类别代码无效",
)
AWARDED = points_awarded(report_id="rep-1", rider_id="rider-3")


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.mark.parametrize(
    ("data", "subject", "recipient", "template"),
    [
        (filed("rider-1"), "wo-1", "rider-1", "report_filed"),
        (REJECTED, "rep-2", "rider-2", "report_rejected"),
        (AWARDED, "rider-3", "rider-3", "points_awarded"),
    ],
)
async def test_one_inbox_message_and_one_delivery_event_per_message(
    uow: FakeUnitOfWork, data: EventData, subject: str, recipient: str, template: str
) -> None:
    written: list[str] = []
    event = as_event(data, subject=subject)

    outcome = await apply(notify_handler(written.append), event, _typed(uow))

    assert outcome == "processed"
    assert written == []  # counted only once the consumer commits
    await uow.commit()
    assert written == [template]
    assert len(uow.notifications.rows) == 1
    (notification_id, (event_id, message, at)) = next(iter(uow.notifications.rows.items()))
    assert event_id == event.id
    assert message.recipient_id == recipient
    assert message.template.value == template
    assert len(uow.outbox.events) == 1
    delivered, delivery_subject, sequence = uow.outbox.events[0]
    assert isinstance(delivered, NotificationDelivered)
    assert delivery_subject == recipient
    assert delivered.recipient_id == recipient
    assert delivered.notification_id == notification_id
    assert (delivered.channel, delivered.template) == ("inbox", template)
    assert delivered.delivered_at == at
    assert sequence == int(at.timestamp() * 1_000_000)
    assert delivered.report_id == message.report_id


async def test_the_notification_id_is_derived_from_the_event(uow: FakeUnitOfWork) -> None:
    other = FakeUnitOfWork()
    await apply(notify_handler(), as_event(filed(), id_="e-1"), _typed(uow))
    await apply(notify_handler(), as_event(filed(), id_="e-1"), _typed(other))
    await apply(notify_handler(), as_event(filed(), id_="e-2"), _typed(other))
    first = next(iter(uow.notifications.rows))
    assert first in other.notifications.rows
    assert len(other.notifications.rows) == 2


async def test_an_event_without_a_message_is_ignored(uow: FakeUnitOfWork) -> None:
    written: list[str] = []
    event = as_event(report_submitted(report_id="rep-1"))
    outcome = await apply(notify_handler(written.append), event, _typed(uow))
    assert outcome == "ignored"
    assert uow.notifications.rows == {}
    assert uow.outbox.events == []
    assert written == []


async def test_a_message_delivered_before_is_not_written_or_announced_again(
    uow: FakeUnitOfWork,
) -> None:
    """A replay under another consumer group meets the message its first delivery wrote."""
    event = as_event(filed(), id_="e-1")
    assert await apply(notify_handler(), event, _typed(uow)) == "processed"
    assert await apply(notify_handler(), event, _typed(uow)) == "ignored"
    assert len(uow.notifications.rows) == 1
    assert len(uow.outbox.events) == 1


async def test_everyone_an_event_concerns_hears_once_with_a_delivery_event_each(
    uow: FakeUnitOfWork,
) -> None:
    written: list[str] = []
    dispatched = builders.work_order_dispatched(
        reporter_ids=["rider-1", "rider-2", "rider-1"], assignee_id="gw-7"
    )
    event = keyed_event(dispatched, sequence=2)

    assert await apply(notify_handler(written.append), event, _typed(uow)) == "processed"
    await uow.commit()

    told = sorted((m.recipient_id, m.template.value) for _, m, _ in uow.notifications.rows.values())
    assert told == [
        ("gw-7", "order_assigned"),
        ("rider-1", "report_dispatched"),
        ("rider-2", "report_dispatched"),
    ]
    assert sorted(written) == ["order_assigned", "report_dispatched", "report_dispatched"]
    deliveries = [data for data, _, _ in uow.outbox.events]
    assert all(isinstance(d, NotificationDelivered) for d in deliveries)
    assert sorted(subject for _, subject, _ in uow.outbox.events) == ["gw-7", "rider-1", "rider-2"]
    assert len({sequence for _, _, sequence in uow.outbox.events}) == 3
    # Replayed (e.g. under another consumer group): nobody hears it twice.
    assert await apply(notify_handler(written.append), event, _typed(uow)) == "ignored"
    assert len(uow.notifications.rows) == 3
    assert len(uow.outbox.events) == 3


async def test_a_notification_is_one_per_event_recipient_channel_and_template() -> None:
    closed = builders.work_order_closed(reporter_ids=["rider-1"])
    [message] = messages_for(closed)
    assert notification_id("e-1", message) == notification_id("e-1", message)
    assert notification_id("e-1", message) != notification_id("e-2", message)
    other = dataclasses.replace(message, recipient_id="rider-2")
    assert notification_id("e-1", other) != notification_id("e-1", message)
