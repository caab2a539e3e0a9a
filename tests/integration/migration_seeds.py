"""Rows each release of each service wrote, by the revision that release ran, and how today's
code reads them back. When a revision changes a table, add the rows its release writes here."""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from common.contracts.envelope import CloudEvent
from common.db import create_engine, session_factory
from common.messaging.ports import EventMeta
from common.messaging.unit_of_work import SqlUnitOfWork

AT = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
EVENT = CloudEvent(
    id="evt-seed-1",
    type="gridloop.report.submitted",
    source="/seed",
    subject="rep-seed-1",
    district="370812",
    correlationid="c-seed",
    sequence=1,
    time=AT,
    data={},
)

_MESSAGING_0001: list[tuple[str, dict[str, Any]]] = [
    (
        "outbox",
        {
            "event_id": EVENT.id,
            "topic": "gridloop.reports.v1",
            "message_key": EVENT.subject,
            "event_type": EVENT.type,
            "payload": EVENT.to_bytes(),
            "created_at": AT,
            "published_at": AT,
        },
    ),
    (
        "processed_events",
        {"consumer": "seed", "event_id": EVENT.id, "event_type": EVENT.type, "processed_at": AT},
    ),
]

SEEDS: dict[str, dict[str, list[tuple[str, dict[str, Any]]]]] = {
    "reporting": {
        "0001": [
            (
                "reports",
                {
                    "id": "rep-seed-1",
                    "reporter_id": "rider-seed",
                    "district": "370812",
                    "category": "0101",
                    "lat": 35.55,
                    "lon": 116.83,
                    "text": "楼道杂物",
                    "status": "filed",
                    "grid_id": "370812-01-001-1",
                    "grid_name": "第1网格",
                    "work_order_id": "wo-seed-1",
                    "rejection_code": None,
                    "rejection_reason": None,
                    "last_sequence": 1,
                    "submitted_at": AT,
                    "updated_at": AT,
                },
            ),
            (
                "idempotency_keys",
                {
                    "reporter_id": "rider-seed",
                    "key": "key-seed",
                    "fingerprint": "f" * 64,
                    "report_id": "rep-seed-1",
                    "created_at": AT,
                },
            ),
            *_MESSAGING_0001,
        ],
        "0003": [
            (
                "reports",
                {
                    "id": "rep-seed-3",
                    "reporter_id": "rider-seed",
                    "district": "370812",
                    "category": "0101",
                    "category_name": "楼道杂物堆放",
                    "lat": 35.55,
                    "lon": 116.83,
                    "text": "楼道杂物",
                    "status": "closed",
                    "grid_id": "370812-01-001-1",
                    "grid_name": "第1网格",
                    "work_order_id": "wo-seed-3",
                    "work_order_state": "closed",
                    "deadline": AT,
                    "closed_at": AT,
                    "rejection_code": None,
                    "rejection_reason": None,
                    "last_sequence": 5,
                    "last_step": "closed",
                    "submitted_at": AT,
                    "updated_at": AT,
                },
            ),
            (
                "report_timeline",
                {
                    "report_id": "rep-seed-3",
                    "step": "closed",
                    "label": "已结案",
                    "work_order_id": "wo-seed-3",
                    "detail": "按期结案",
                    "at": AT,
                },
            ),
            (
                "district_catalogues",
                {
                    "district": "370812",
                    "district_name": "兖州区",
                    "revision": 2,
                    "categories": [
                        {
                            "code": "0101",
                            "name": "楼道杂物堆放",
                            "group_code": "01",
                            "group_name": "楼道与公共空间堆物",
                            "priority": "normal",
                            "handle_limit": "4 工作时",
                            "active": True,
                        }
                    ],
                    "published_at": AT,
                    "received_at": AT,
                },
            ),
            (
                "reporter_requests",
                {
                    "id": "req-seed-1",
                    "report_id": "rep-seed-3",
                    "reporter_id": "rider-seed",
                    "work_order_id": "wo-seed-3",
                    "action": "rate",
                    "score": 5,
                    "text": "很及时",
                    "requested_at": AT,
                    "idempotency_key": "key-seed-rate",
                    "fingerprint": "f" * 64,
                },
            ),
        ],
        "0005": [
            (
                "reports",
                {
                    "id": "rep-seed-5",
                    "reporter_id": "rider-seed",
                    "district": "370812",
                    "category": "0501",
                    "category_name": "私拉电线/飞线充电",
                    "lat": 35.55,
                    "lon": 116.83,
                    "text": "飞线充电",
                    "status": "submitted",
                    "last_sequence": 0,
                    "submitted_at": AT,
                    "updated_at": AT,
                    "captured_at": AT,
                    "photos": [
                        {
                            "id": "photo-seed-5",
                            "content_hash": "a" * 64,
                            "size": 2048,
                            "media_type": "image/jpeg",
                        }
                    ],
                },
            ),
            (
                "photos",
                {
                    "id": "photo-seed-5",
                    "uploader_id": "rider-seed",
                    "district": "370812",
                    "content_hash": "a" * 64,
                    "size": 2048,
                    "media_type": "image/jpeg",
                    "width": 640,
                    "height": 480,
                    "thumbnail_hash": "b" * 64,
                    "thumbnail_size": 512,
                    "thumbnail_media_type": "image/webp",
                    "created_at": AT,
                },
            ),
            (
                "report_photos",
                {"report_id": "rep-seed-5", "photo_id": "photo-seed-5", "position": 0},
            ),
        ],
    },
    "dispatch": {
        "0001": [
            (
                "grids",
                {
                    "grid_id": "370812-01-001-1",
                    "district_code": "370812",
                    "name": "第1网格",
                    "community": "第1社区",
                    "street": "鼓楼街道",
                    "geometry": '{"type": "Polygon", "coordinates": [[[116.8, 35.5], '
                    "[116.81, 35.5], [116.81, 35.51], [116.8, 35.51], [116.8, 35.5]]]}",
                    "position": 0,
                    "loaded_at": AT,
                },
            ),
            (
                "work_orders",
                {
                    "id": "wo-seed-1",
                    "report_id": "rep-seed-1",
                    "reporter_id": "rider-seed",
                    "district": "370812",
                    "category": "0101",
                    "priority": "normal",
                    "grid_id": "370812-01-001-1",
                    "lat": 35.505,
                    "lon": 116.805,
                    "text": "楼道杂物",
                    "status": "filed",
                    "version": 1,
                    "filed_at": AT,
                },
            ),
            (
                "work_order_history",
                {
                    "work_order_id": "wo-seed-1",
                    "from_status": None,
                    "to_status": "filed",
                    "actor": "system",
                    "reason": "auto-triage",
                    "at": AT,
                },
            ),
            (
                "rejected_reports",
                {
                    "report_id": "rep-seed-2",
                    "reporter_id": "rider-seed",
                    "category": "0101",
                    "lat": 36.9,
                    "lon": 118.2,
                    "reason_code": "outside_service_area",
                    "reason": "不在服务范围",
                    "rejected_at": AT,
                },
            ),
            *_MESSAGING_0001,
        ]
    },
    "ledger": {
        "0001": [
            *[
                (
                    "accounts",
                    {
                        "id": account,
                        "debits_posted": debits,
                        "credits_posted": credits,
                        "debits_pending": 0,
                        "credits_pending": 0,
                        "must_not_go_negative": account.startswith("rider:"),
                        "version": 1,
                        "created_at": AT,
                        "updated_at": AT,
                    },
                )
                for account, debits, credits in (
                    ("sys:issuance", 10, 0),
                    ("rider:rider-seed", 0, 10),
                )
            ],
            (
                "transfers",
                {
                    "id": "award:rep-seed-1",
                    "debit_account_id": "sys:issuance",
                    "credit_account_id": "rider:rider-seed",
                    "amount": 10,
                    "code": "report_accepted",
                    "rider_id": "rider-seed",
                    "report_id": "rep-seed-1",
                    "work_order_id": "wo-seed-1",
                    "ledger_day": date(2026, 11, 20),
                    "caused_by_event_id": "evt-filed-1",
                    "created_at": AT,
                },
            ),
            *_MESSAGING_0001,
        ]
    },
    "notification": {
        "0001": [
            (
                "notifications",
                {
                    "id": "n-seed-1",
                    "event_id": "evt-filed-1",
                    "recipient_id": "rider-seed",
                    "channel": "inbox",
                    "template": "report_filed",
                    "title": "您上报的问题已立案",
                    "body": "……",
                    "report_id": "rep-seed-1",
                    "work_order_id": "wo-seed-1",
                    "created_at": AT,
                },
            ),
            *_MESSAGING_0001,
        ]
    },
}


def _unit_of_work(service: str, engine: AsyncEngine) -> Any:
    tables = importlib.import_module(f"{service}.adapters.tables")
    unit_of_work = importlib.import_module(f"{service}.adapters.unit_of_work")
    kind = getattr(unit_of_work, f"Sql{service.capitalize()}UnitOfWork")
    return kind(
        session_factory(engine),
        outbox_table=tables.MESSAGING.outbox,
        processed_events_table=tables.MESSAGING.processed_events,
        service=service,
        district="370812",
    )


async def read_back(service: str, url: str) -> None:
    """Today's repositories read every seeded row, and the seeded event counts as processed."""
    engine = create_engine(url)
    try:
        uow: SqlUnitOfWork = _unit_of_work(service, engine)
        async with uow:
            assert not await uow.processed_events.claim("seed", EventMeta.of(EVENT))
            await _read_service_rows(service, uow)
    finally:
        await engine.dispose()


async def _read_service_rows(service: str, uow: Any) -> None:
    if service == "reporting":
        report = await uow.reports.get("rep-seed-1")
        assert report is not None and report.work_order_id == "wo-seed-1"
        assert await uow.idempotency.find("rider-seed", "key-seed") == ("f" * 64, "rep-seed-1")
        assert report.status.value == "filed" and report.last_step is None  # before 0003
        closed = await uow.reports.get("rep-seed-3")
        assert closed is not None and closed.closed_at == AT and closed.deadline == AT
        assert [r.id for r in await uow.reports.following("wo-seed-3")] == ["rep-seed-3"]
        [step] = await uow.timeline.of_report("rep-seed-3")
        assert (step.step, step.detail) == ("closed", "按期结案")
        catalogue = await uow.catalogues.get("370812")
        assert catalogue is not None and catalogue.find("0101") is not None
        [rating] = await uow.requests.of_report("rep-seed-3")
        assert (rating.action.value, rating.score) == ("rate", 5)
        assert await uow.requests.by_key("rider-seed", "key-seed-rate") == rating
        assert closed.photos == () and closed.captured_at is None  # before 0005
        with_photo = await uow.reports.get("rep-seed-5")
        assert with_photo is not None and with_photo.captured_at == AT
        assert [p.id for p in with_photo.photos] == ["photo-seed-5"]
        photo = await uow.photos.get("photo-seed-5")
        assert photo is not None and (photo.width, photo.height) == (640, 480)
        [referrer] = await uow.photos.referrers("photo-seed-5")
        assert (referrer.reporter_id, referrer.district) == ("rider-seed", "370812")
    elif service == "dispatch":
        order = await uow.work_orders.get("wo-seed-1")
        assert order is not None and [step.to_state for step in order.history] == ["filed"]
        assert order.state.value == "filed" and order.assignee is None  # waits for dispatch
        assert await uow.work_orders.already_triaged("rep-seed-2")
        assert await uow.work_orders.by_report("rep-seed-1") is not None
        grids = await uow.grids.load("370812")
        assert grids is not None and grids.locate(35.505, 116.805) is not None
    elif service == "ledger":
        account = await uow.ledger.get_account("rider:rider-seed")
        assert account is not None and account.balance == 10
        transfer = await uow.ledger.get_transfer("award:rep-seed-1")
        assert transfer is not None and transfer.amount == 10
    elif service == "notification":
        inbox = await uow.notifications.inbox("rider-seed", limit=10, after=None)
        assert [message.id for message in inbox] == ["n-seed-1"]
    else:
        raise AssertionError(f"no read-back for {service}")
