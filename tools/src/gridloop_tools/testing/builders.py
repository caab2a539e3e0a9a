"""Test data: one builder per event data model in :mod:`common.contracts.events`, and the
CloudEvent envelope the producing service's outbox would put around it.

Every argument has a default, so a test names only the values it needs to differ::

    event = as_event(work_order_filed(report_id="rep-7", filed_at=LATE))

Derived ids stay consistent with what the producers write: a work order for ``rep-7`` is
``wo-rep-7``, the points for it are transfer ``award:rep-7``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from common.contracts.base import EventData
from common.contracts.catalogue import CATEGORIES
from common.contracts.district_events import DistrictCataloguePublished, PublishedCategory
from common.contracts.envelope import CloudEvent
from common.contracts.events import (
    EVENT_MODELS,
    NotificationDelivered,
    NotificationFailed,
    PointsAwarded,
    RejectionReason,
    ReportRejected,
    ReportSubmitted,
    WorkOrderFiled,
)
from common.contracts.points_events import (
    PointsCapped,
    PointsReversed,
    RedemptionCancelled,
    RedemptionEvent,
    RedemptionExpired,
    RedemptionFulfilled,
    RedemptionReserved,
)
from common.contracts.workorder_events import (
    AssigneeKind,
    EscalationReason,
    ReportRated,
    ReportReopenRequested,
    ReportWithdrawn,
    WorkOrderClaimed,
    WorkOrderClosed,
    WorkOrderDispatched,
    WorkOrderEscalated,
    WorkOrderEvent,
    WorkOrderMerged,
    WorkOrderOverdue,
    WorkOrderRated,
    WorkOrderReopened,
    WorkOrderResolved,
    WorkOrderReturned,
    WorkOrderReviewRequested,
    WorkOrderRework,
    WorkOrderSlaWarning,
    WorkOrderVerified,
    WorkOrderVoided,
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


def notification_failed(
    *,
    notification_id: str = "d-1",
    recipient_id: str = "gw-1",
    channel: str = "webhook",
    template: str = "order_assigned",
    failed_at: datetime = AT,
) -> NotificationFailed:
    return NotificationFailed(
        notification_id=notification_id,
        recipient_id=recipient_id,
        channel=channel,
        template=template,
        attempts=8,
        error="HTTP 503",
        report_id="rep-1",
        work_order_id="wo-rep-1",
        failed_at=failed_at,
    )


def points_capped(*, rider_id: str = "rider-1", report_id: str = "rep-6") -> PointsCapped:
    return PointsCapped(
        transfer_id=f"award:{report_id}",
        rider_id=rider_id,
        rule="report_accepted",
        requested=10,
        paid=0,
        withheld=10,
        daily_cap=50,
        ledger_day=AT.date(),
        report_id=report_id,
        work_order_id=f"wo-{report_id}",
        capped_at=AT,
    )


def points_reversed(*, rider_id: str = "rider-1", report_id: str = "rep-1") -> PointsReversed:
    return PointsReversed(
        transfer_id=f"reversal:{report_id}",
        rider_id=rider_id,
        amount=10,
        shortfall=0,
        balance=0,
        report_id=report_id,
        work_order_id=f"wo-{report_id}",
        reason="虚假上报",
        reversed_at=AT,
    )


_GIFT = {
    "redemption_id": "red-1",
    "rider_id": "rider-1",
    "gift_id": "gift-1",
    "gift_name": "雨衣",
    "cost": 30,
    "collection_point": "鼓楼驿站",
}


def redemption_reserved(**changes: Any) -> RedemptionReserved:
    return RedemptionReserved.model_validate(
        {
            **_GIFT,
            "collection_code": "123456",
            "available": 0,
            "expires_at": AT + timedelta(hours=72),
            "reserved_at": AT,
            **changes,
        }
    )


def redemption_fulfilled(**changes: Any) -> RedemptionFulfilled:
    return RedemptionFulfilled.model_validate(
        {**_GIFT, "fulfilled_by": "sup-street-1", "fulfilled_at": AT, **changes}
    )


def redemption_cancelled(**changes: Any) -> RedemptionCancelled:
    return RedemptionCancelled.model_validate(
        {**_GIFT, "cancelled_by": "sup-street-1", "reason": "", "cancelled_at": AT, **changes}
    )


def redemption_expired(**changes: Any) -> RedemptionExpired:
    return RedemptionExpired.model_validate({**_GIFT, "expired_at": AT, **changes})


def aggregate_id(data: EventData) -> str:
    """The subject (and Kafka key) the producer gives the event: the id of its aggregate."""
    match data:
        case ReportSubmitted() | ReportRejected():
            return data.report_id
        case WorkOrderFiled():
            return data.work_order_id
        case PointsAwarded() | PointsCapped() | PointsReversed() | RedemptionEvent():
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


# --- the work order's life, the reporter's requests, the districts' catalogues ---------------
# Each builder takes any field of its model by name (``work_order_dispatched(redispatch=True)``);
# the envelopes come from :func:`keyed_event`, which knows the subject of every event type.

_LATER = timedelta(hours=4)
ModelT = TypeVar("ModelT", bound=EventData)


def _built(model: type[ModelT], changes: dict[str, Any], defaults: dict[str, Any]) -> ModelT:
    """``model`` from ``defaults`` overridden by ``changes``, validated. A change naming no
    field of the model is an error here (the models themselves ignore unknown fields)."""
    unknown = changes.keys() - model.model_fields.keys()
    if unknown:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    return model.model_validate({**defaults, **changes})


def _of_report(changes: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The report the event is about (``rep-1`` unless changed) and the changes with the work
    order id defaulting to ``wo-<report_id>``."""
    report_id = changes.get("report_id", "rep-1")
    if changes.get("work_order_id") is None:
        changes = {**changes, "work_order_id": f"wo-{report_id}"}
    return report_id, changes


def _order_event(model: type[ModelT], changes: dict[str, Any], **defaults: Any) -> ModelT:
    """A work-order event of the order filed for ``rep-1`` (``wo-<report_id>``), reported by
    ``rider-1``, category 0101 in 鼓楼街道's first grid, with ``defaults`` and ``changes``."""
    report_id, changes = _of_report(changes)
    order = {
        "report_id": report_id,
        "reporter_ids": ["rider-1"],
        "category": "0101",
        "category_name": "楼道杂物堆放",
        "grid_id": "370812-01-001-1",
        "street": "鼓楼街道",
    }
    return _built(model, changes, {**order, **defaults})


def work_order_review_requested(**changes: Any) -> WorkOrderReviewRequested:
    """To street supervisor ``sup-street-1``."""
    return _order_event(
        WorkOrderReviewRequested, changes, supervisor_ids=["sup-street-1"], requested_at=AT
    )


def work_order_dispatched(**changes: Any) -> WorkOrderDispatched:
    """To grid worker ``gw-1`` (张网格), to be claimed in 30 minutes and handled in 4 hours."""
    return _order_event(
        WorkOrderDispatched,
        changes,
        assignee_kind=AssigneeKind.GRID_WORKER,
        assignee_id="gw-1",
        assignee_name="张网格",
        claim_due=AT + timedelta(minutes=30),
        handle_due=AT + _LATER,
        redispatch=False,
        dispatched_at=AT,
    )


def work_order_claimed(**changes: Any) -> WorkOrderClaimed:
    return _order_event(WorkOrderClaimed, changes, assignee_id="gw-1", claimed_at=AT)


def work_order_resolved(**changes: Any) -> WorkOrderResolved:
    return _order_event(
        WorkOrderResolved,
        changes,
        assignee_id="gw-1",
        note="杂物已清理",
        evidence=["photo-1"],
        resolved_at=AT,
    )


def work_order_verified(**changes: Any) -> WorkOrderVerified:
    """Passed, unless ``passed=False``."""
    return _order_event(
        WorkOrderVerified, changes, passed=True, note="", verified_by="sup-street-1", verified_at=AT
    )


def work_order_rework(**changes: Any) -> WorkOrderRework:
    return _order_event(
        WorkOrderRework,
        changes,
        assignee_id="gw-1",
        note="仍有杂物",
        rework_count=1,
        handle_due=AT + _LATER,
        reworked_at=AT,
    )


def work_order_returned(**changes: Any) -> WorkOrderReturned:
    return _order_event(
        WorkOrderReturned, changes, returned_by="gw-1", reason="不属于本网格", returned_at=AT
    )


def _order_ended(model: type[ModelT], changes: dict[str, Any], **defaults: Any) -> ModelT:
    """An event that ends the order for all its reports: ``report_ids`` defaults to the filed
    report alone, the one who ended it to ``sup-street-1``."""
    by = "closed_by" if model is WorkOrderClosed else "voided_by"
    ended = {"report_ids": [changes.get("report_id", "rep-1")], by: "sup-street-1"}
    return _order_event(model, changes, **ended, **defaults)


def work_order_closed(**changes: Any) -> WorkOrderClosed:
    """On time."""
    return _order_ended(WorkOrderClosed, changes, on_time=True, closed_at=AT)


def work_order_reopened(**changes: Any) -> WorkOrderReopened:
    return _order_event(
        WorkOrderReopened, changes, reopened_by="rider-1", reason="杂物又堆回来了", reopened_at=AT
    )


def work_order_voided(**changes: Any) -> WorkOrderVoided:
    return _order_ended(WorkOrderVoided, changes, reason="虚假上报", voided_at=AT)


def work_order_rated(**changes: Any) -> WorkOrderRated:
    return _order_event(
        WorkOrderRated, changes, rated_by="rider-1", score=5, comment="", rated_at=AT
    )


def work_order_merged(**changes: Any) -> WorkOrderMerged:
    """``rep-2`` of ``rider-2`` joins the order of ``rep-1``."""
    return _order_event(
        WorkOrderMerged,
        changes,
        reporter_ids=["rider-1", "rider-2"],
        merged_report_id="rep-2",
        merged_reporter_id="rider-2",
        distance_m=12.5,
        merged_at=AT,
    )


def work_order_sla_warning(**changes: Any) -> WorkOrderSlaWarning:
    return _order_event(
        WorkOrderSlaWarning, changes, assignee_id="gw-1", handle_due=AT + _LATER, warned_at=AT
    )


def work_order_overdue(**changes: Any) -> WorkOrderOverdue:
    return _order_event(
        WorkOrderOverdue,
        changes,
        assignee_id="gw-1",
        handle_due=AT,
        supervisor_ids=["sup-street-1"],
        overdue_at=AT,
    )


def work_order_escalated(**changes: Any) -> WorkOrderEscalated:
    """To the street (level 1) for being overdue."""
    return _order_event(
        WorkOrderEscalated,
        changes,
        level=1,
        reason=EscalationReason.OVERDUE,
        supervisor_ids=["sup-street-1"],
        handle_due=AT,
        escalated_at=AT,
    )


def _reporter_request(model: type[ModelT], changes: dict[str, Any], **defaults: Any) -> ModelT:
    report_id, changes = _of_report(changes)
    request = {"report_id": report_id, "reporter_id": "rider-1"}
    return _built(model, changes, {**request, **defaults})


def report_rated(**changes: Any) -> ReportRated:
    """``rider-1`` rates the order of ``rep-1`` (``wo-<report_id>``) 5."""
    return _reporter_request(ReportRated, changes, score=5, comment="", rated_at=AT)


def report_reopen_requested(**changes: Any) -> ReportReopenRequested:
    """``rider-1`` asks for the order of ``rep-1`` (``wo-<report_id>``) to be reopened."""
    return _reporter_request(
        ReportReopenRequested, changes, reason="杂物又堆回来了", requested_at=AT
    )


def report_withdrawn(**changes: Any) -> ReportWithdrawn:
    """``rider-1`` withdraws ``rep-1`` (撤回)."""
    report_id = changes.pop("report_id", "rep-1")
    defaults = {"report_id": report_id, "reporter_id": "rider-1", "reason": "看错了"}
    return _built(ReportWithdrawn, changes, {**defaults, "withdrawn_at": AT})


def published_category(
    code: str = "0101", *, active: bool = True, handle_limit: str = "4 工作时"
) -> PublishedCategory:
    """A category of the default catalogue (:mod:`common.contracts.catalogue`) as dispatch
    publishes it."""
    category = CATEGORIES[code]
    return PublishedCategory(
        code=category.code,
        name=category.name,
        group_code=category.group_code,
        group_name=category.group_name,
        priority=category.priority.value,
        handle_limit=handle_limit,
        active=active,
    )


def district_catalogue_published(
    *,
    district: str = DISTRICT,
    district_name: str = "兖州区",
    revision: int = 1,
    categories: Sequence[PublishedCategory] | None = None,
    published_at: datetime = AT,
) -> DistrictCataloguePublished:
    """``categories`` defaults to every category of the default catalogue, all active."""
    listed = (
        list(categories)
        if categories is not None
        else [published_category(code) for code in CATEGORIES]
    )
    return DistrictCataloguePublished(
        district=district,
        district_name=district_name,
        revision=revision,
        categories=listed,
        published_at=published_at,
    )


def subject_of(data: EventData) -> str:
    """The subject (and Kafka key) of any event: a work-order event's is the work order id, a
    reporter's request's the report id, a catalogue's the district code, and the others' as
    :func:`aggregate_id` says."""
    match data:
        case WorkOrderEvent():
            return data.work_order_id
        case ReportRated() | ReportReopenRequested() | ReportWithdrawn():
            return data.report_id
        case DistrictCataloguePublished():
            return data.district
    return aggregate_id(data)


def keyed_event(data: EventData, *, sequence: int = 1, id_: str | None = None) -> CloudEvent:
    """:func:`as_event` for any event type, its subject from :func:`subject_of` (a
    catalogue's ``sequence`` defaults to its revision)."""
    if isinstance(data, DistrictCataloguePublished) and sequence == 1:
        sequence = data.revision
    return as_event(data, subject=subject_of(data), sequence=sequence, id_=id_)
