"""Test data: one builder per event data model in :mod:`common.contracts.events`, and the
CloudEvent envelope the producing service's outbox would put around it.

Every argument has a default, so a test names only the values it needs to differ::

    event = as_event(work_order_filed(report_id="rep-7", filed_at=LATE))

Derived ids stay consistent with what the producers write: a work order for ``rep-7`` is
``wo-rep-7``, the points for it are transfer ``award:rep-7``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from common.contracts.base import EventData
from common.contracts.envelope import CloudEvent
from common.contracts.events import (
    EVENT_MODELS,
    NotificationDelivered,
    PointsAwarded,
    RejectionReason,
    ReportRejected,
    ReportSubmitted,
    WorkOrderFiled,
)
from common.messaging.ports import EventHandler, EventMeta, HandlerOutcome

DISTRICT = "370812"
AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
"""The moment every event happens unless a test says otherwise."""
SOURCE = "/test"
CORRELATION_ID = "c-1"


def report_submitted(
    *,
    report_id: str = "rep-1",
    reporter_id: str = "rider-1",
    category: str = "0101",
    lat: float = 35.5531,
    lon: float = 116.8287,
    text: str = "楼道堆放杂物",
    submitted_at: datetime = AT,
) -> ReportSubmitted:
    return ReportSubmitted(
        report_id=report_id,
        reporter_id=reporter_id,
        category=category,
        lat=lat,
        lon=lon,
        text=text,
        submitted_at=submitted_at,
    )


def work_order_filed(
    *,
    report_id: str = "rep-1",
    work_order_id: str | None = None,
    reporter_id: str = "rider-1",
    category: str = "0101",
    category_name: str = "楼道杂物堆放",
    priority: str = "normal",
    grid_id: str = "370812-01-001-1",
    grid_name: str = "鼓楼街道第1社区第1网格",
    community: str = "鼓楼街道第1社区",
    street: str = "鼓楼街道",
    lat: float = 35.5531,
    lon: float = 116.8287,
    filed_at: datetime = AT,
) -> WorkOrderFiled:
    """``work_order_id`` defaults to ``wo-<report_id>``."""
    return WorkOrderFiled(
        work_order_id=work_order_id or f"wo-{report_id}",
        report_id=report_id,
        reporter_id=reporter_id,
        category=category,
        category_name=category_name,
        priority=priority,
        grid_id=grid_id,
        grid_name=grid_name,
        community=community,
        street=street,
        lat=lat,
        lon=lon,
        filed_at=filed_at,
    )


def report_rejected(
    *,
    report_id: str = "rep-1",
    reporter_id: str = "rider-1",
    category: str = "0101",
    reason_code: RejectionReason = RejectionReason.OUTSIDE_SERVICE_AREA,
    reason: str = "上报位置不在本区服务范围内（370812），请确认定位后重新上报",
    rejected_at: datetime = AT,
) -> ReportRejected:
    return ReportRejected(
        report_id=report_id,
        reporter_id=reporter_id,
        category=category,
        reason_code=reason_code,
        reason=reason,
        rejected_at=rejected_at,
    )


def points_awarded(
    *,
    report_id: str = "rep-1",
    rider_id: str = "rider-1",
    transfer_id: str | None = None,
    work_order_id: str | None = None,
    amount: int = 10,
    balance: int = 10,
    rule: str = "report_accepted",
    awarded_at: datetime = AT,
) -> PointsAwarded:
    """``transfer_id`` defaults to ``award:<report_id>``, ``work_order_id`` to
    ``wo-<report_id>``."""
    return PointsAwarded(
        transfer_id=transfer_id or f"award:{report_id}",
        rider_id=rider_id,
        amount=amount,
        balance=balance,
        rule=rule,
        report_id=report_id,
        work_order_id=work_order_id or f"wo-{report_id}",
        awarded_at=awarded_at,
    )


def notification_delivered(
    *,
    notification_id: str = "n-1",
    recipient_id: str = "rider-1",
    channel: str = "inbox",
    template: str = "report_filed",
    report_id: str | None = "rep-1",
    work_order_id: str | None = None,
    delivered_at: datetime = AT,
) -> NotificationDelivered:
    return NotificationDelivered(
        notification_id=notification_id,
        recipient_id=recipient_id,
        channel=channel,
        template=template,
        report_id=report_id,
        work_order_id=work_order_id,
        delivered_at=delivered_at,
    )


def aggregate_id(data: EventData) -> str:
    """The subject (and Kafka key) the producer gives the event: the id of its aggregate."""
    match data:
        case ReportSubmitted() | ReportRejected():
            return data.report_id
        case WorkOrderFiled():
            return data.work_order_id
        case PointsAwarded():
            return data.rider_id
        case NotificationDelivered():
            return data.recipient_id
    raise TypeError(f"no aggregate known for {type(data).__name__}")


def as_event(
    data: EventData, *, subject: str | None = None, sequence: int = 1, id_: str | None = None
) -> CloudEvent:
    """``data`` as the producing service's outbox would have written it; the subject defaults to
    the aggregate id (:func:`aggregate_id`)."""
    return raw_event(
        data.event_type,
        data.model_dump(mode="json"),
        subject=aggregate_id(data) if subject is None else subject,
        sequence=sequence,
        id_=id_,
    )


def raw_event(
    event_type: str,
    data: dict[str, Any],
    *,
    subject: str,
    sequence: int = 1,
    id_: str | None = None,
) -> CloudEvent:
    """An envelope around ``data`` as given, checked against nothing: for events whose data a
    consumer must refuse."""
    return CloudEvent(
        **({"id": id_} if id_ else {}),
        type=event_type,
        source=SOURCE,
        subject=subject,
        district=DISTRICT,
        correlationid=CORRELATION_ID,
        sequence=sequence,
        data=data,
    )


_MODELS_BY_TYPE = {model.event_type: model for model in EVENT_MODELS}


async def apply(
    handler: EventHandler[Any, Any], event: CloudEvent, uow: Any
) -> HandlerOutcome | None:
    """Hand ``event`` to ``handler`` as the consumer does: data parsed into its model (a
    :class:`pydantic.ValidationError` for invalid data), attributes as :class:`EventMeta`."""
    data = _MODELS_BY_TYPE[event.type].model_validate(event.data)
    return await handler(data, EventMeta.of(event), uow)
