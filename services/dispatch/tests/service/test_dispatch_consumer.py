"""Reports and reporters' requests through the real consumer, on the real app and a real SQLite
file, for two districts at once: triage exactly once (filed and dispatched, rejected, left for
review, merged), ratings and reopenings, and the triage metric counted once per committed
decision."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from common.contracts.envelope import CloudEvent
from common.contracts.topics import Topic
from common.contracts.workorder_events import ReportRated, ReportReopenRequested
from common.messaging.consumer import EventConsumer, IncomingRecord, RetryPolicy
from dispatch.adapters.repository import WorkOrderRepository
from gridloop_tools.testing.builders import as_event
from gridloop_tools.testing.dispatch import (
    NOWHERE,
    RENCHENG,
    RENCHENG_POINT,
    WEST,
    YANZHOU,
    bearer,
    load_over_http,
    north_of,
    outbox,
    report_event,
    rows,
    short,
)
from gridloop_tools.testing.service_fixtures import DeadLetter, Deliver
from gridloop_tools.testing.service_suite import metric_sample


@pytest.fixture
async def served(client: httpx.AsyncClient, app: FastAPI) -> None:
    for district in (YANZHOU, RENCHENG):
        await load_over_http(client, app, district)


def supervisor(app: FastAPI, district: str = YANZHOU, subject: str = "s-gulou") -> dict[str, str]:
    return bearer(app, role="supervisor", subject=subject, district=district)


async def work_order_events(app: FastAPI) -> list[tuple[str, str, int]]:
    """(type, subject, sequence) of the outbox's work-order and report events, in order."""
    return [
        (short(e.type), e.subject, e.sequence)
        for e in await outbox(app)
        if short(e.type) != "catalogue_published"
    ]


async def triaged(client: httpx.AsyncClient, **labels: str) -> float | None:
    text = (await client.get("/metrics")).text
    return metric_sample(text, "gridloop_reports_triaged_total", **labels)


async def only_order(client: httpx.AsyncClient, app: FastAPI, district: str = YANZHOU) -> Any:
    listed = await client.get("/v1/workorders", headers=supervisor(app, district))
    (summary,) = listed.json()["items"]
    response = await client.get(
        f"/v1/workorders/{summary['id']}", headers=supervisor(app, district)
    )
    return response.json()


# --- triage -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("served")
async def test_reports_in_two_districts_are_filed_and_dispatched_in_each(
    client: httpx.AsyncClient, app: FastAPI, deliver: Deliver
) -> None:
    both = [YANZHOU, RENCHENG]
    first = report_event("rep-1", at=WEST, districts=both)
    await deliver(first)
    await deliver(report_event("rep-2", at=RENCHENG_POINT, districts=both, category="0101"))

    yanzhou, rencheng = await only_order(client, app), await only_order(client, app, RENCHENG)
    assert (yanzhou["grid_id"], yanzhou["state"], yanzhou["assignee"]["id"]) == (
        "g-west",
        "dispatched",
        "w-west-1",
    )
    assert (rencheng["grid_id"], rencheng["assignee"]["id"], rencheng["category_name"]) == (
        "r-1",
        "r-w-1",
        "楼道杂物堆放",
    )
    assert await work_order_events(app) == [
        ("filed", yanzhou["id"], 1),
        ("dispatched", yanzhou["id"], 2),
        ("filed", rencheng["id"], 1),
        ("dispatched", rencheng["id"], 2),
    ]
    caused = [e for e in await outbox(app) if e.subject == yanzhou["id"]]
    assert {(e.causationid, e.correlationid) for e in caused} == {(first.id, first.correlationid)}
    assert await triaged(client, district=RENCHENG, outcome="filed") == 1.0


@pytest.mark.usefixtures("served")
@pytest.mark.parametrize(
    ("event", "district", "reason"),
    [
        (report_event(at=NOWHERE), YANZHOU, "outside_service_area"),
        (report_event(at=RENCHENG_POINT), RENCHENG, "district_mismatch"),
        (
            report_event(at=WEST, districts=[], envelope_district=RENCHENG),
            YANZHOU,
            "district_mismatch",
        ),
        (
            report_event(at=RENCHENG_POINT, districts=[RENCHENG], category="0202"),
            RENCHENG,
            "unknown_category",
        ),
        (report_event(category="0801"), YANZHOU, "inactive_category"),
    ],
    ids=["outside", "not the reporter's", "not the envelope's", "unknown there", "inactive"],
)
async def test_a_report_that_cannot_be_filed_is_rejected_with_its_reason(
    client: httpx.AsyncClient,
    app: FastAPI,
    deliver: Deliver,
    event: CloudEvent,
    district: str,
    reason: str,
) -> None:
    await deliver(event)
    (rejected,) = [e for e in await outbox(app) if short(e.type) == "rejected"]
    assert (rejected.subject, rejected.sequence, rejected.data["reason_code"]) == (
        "rep-1",
        1,
        reason,
    )
    stored = await rows(app, "SELECT report_id, reason_code FROM rejected_reports")
    assert stored == [("rep-1", reason)]
    assert await rows(app, "SELECT id FROM work_orders") == []
    counted_in = event.district if reason == "outside_service_area" else district
    assert await triaged(client, district=counted_in, outcome="rejected", reason=reason) == 1.0


@pytest.mark.usefixtures("served")
async def test_a_category_that_needs_review_waits_for_the_street_supervisor(
    client: httpx.AsyncClient, app: FastAPI, deliver: Deliver
) -> None:
    await deliver(report_event(category="0701"))
    order = await only_order(client, app)
    assert (order["state"], order["assignee"], order["deadlines"]) == ("pending_review", None, None)
    (requested,) = [e for e in await outbox(app) if short(e.type) == "review_requested"]
    assert requested.data["supervisor_ids"] == ["s-gulou"]


@pytest.mark.usefixtures("served")
async def test_a_duplicate_nearby_joins_the_open_order(
    client: httpx.AsyncClient, app: FastAPI, deliver: Deliver
) -> None:
    await deliver(report_event("rep-1"))
    await deliver(report_event("rep-2", reporter="rider-2", at=north_of(WEST, 30)))
    await deliver(report_event("rep-3", at=north_of(WEST, 60)))

    orders = (await client.get("/v1/workorders", headers=supervisor(app))).json()["items"]
    assert len(orders) == 2
    first = await only_order_with(client, app, "rep-1")
    assert [r["report_id"] for r in first["reports"]] == ["rep-2"]
    assert 29.9 < first["reports"][0]["distance_m"] < 30.1
    assert ("merged", first["id"], 3) in await work_order_events(app)
    assert await triaged(client, district=YANZHOU, outcome="merged", reason="") == 1.0
    assert await triaged(client, district=YANZHOU, outcome="filed", reason="") == 2.0


async def only_order_with(client: httpx.AsyncClient, app: FastAPI, report_id: str) -> Any:
    listed = (await client.get("/v1/workorders", headers=supervisor(app))).json()["items"]
    (summary,) = [o for o in listed if o["report_id"] == report_id]
    return (await client.get(f"/v1/workorders/{summary['id']}", headers=supervisor(app))).json()


# --- exactly once -----------------------------------------------------------------------------


@pytest.mark.usefixtures("served")
async def test_a_report_is_triaged_once_whatever_comes_again(
    client: httpx.AsyncClient, app: FastAPI, deliver: Deliver, consumer: EventConsumer[Any]
) -> None:
    event = report_event()
    await deliver(event)
    before = await work_order_events(app)

    await deliver(event)  # the same event again (a redelivery)
    await deliver(report_event())  # the same report under a new event id (a republish)

    assert await work_order_events(app) == before
    assert len(await rows(app, "SELECT id FROM work_orders")) == 1
    assert await triaged(client, district=YANZHOU, outcome="filed", reason="") == 1.0
    text = (await client.get("/metrics")).text
    for outcome in ("processed", "duplicate", "ignored"):
        assert (
            metric_sample(
                text, "gridloop_events_consumed_total", event_type=event.type, outcome=outcome
            )
            == 1.0
        ), outcome


@pytest.mark.usefixtures("served")
async def test_a_batch_applied_again_counts_each_decision_once(
    client: httpx.AsyncClient,
    app: FastAPI,
    consumer: EventConsumer[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second report's first attempt fails: the batch rolls back and is applied again,
    event by event. The first report's filing commits once, and is counted once."""
    record_rejection = WorkOrderRepository.record_rejection
    failures = iter([RuntimeError("the database hiccups")])

    async def flaky(self: WorkOrderRepository, **fields: Any) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        await record_rejection(self, **fields)

    monkeypatch.setattr(WorkOrderRepository, "record_rejection", flaky)
    events = [report_event("rep-1"), report_event("rep-2", at=NOWHERE)]
    records = [
        IncomingRecord(Topic.REPORTS.value, 0, offset, event.subject.encode(), event.to_bytes())
        for offset, event in enumerate(events)
    ]

    await consumer.handle_batch(records)

    assert [kind for kind, _, _ in await work_order_events(app)] == [
        "filed",
        "dispatched",
        "rejected",
    ]
    assert await triaged(client, district=YANZHOU, outcome="filed", reason="") == 1.0
    reason = "outside_service_area"
    assert await triaged(client, district=YANZHOU, outcome="rejected", reason=reason) == 1.0


async def test_without_grids_a_report_is_retried_then_dead_lettered_not_rejected(
    app: FastAPI, consumer: EventConsumer[Any], deliver: Deliver, dead_letters: list[DeadLetter]
) -> None:
    consumer.retry = RetryPolicy(attempts=2, first_delay=0.001, max_delay=0.001)
    await deliver(report_event())
    assert [headers["gridloop-dlq-reason"] for *_, headers in dead_letters] == ["retries_exhausted"]
    assert "GridRegistryEmpty" in dead_letters[0][3]["gridloop-dlq-error"]
    assert await rows(app, "SELECT report_id FROM rejected_reports") == []
    assert await rows(app, "SELECT event_id FROM processed_events") == []
    assert await outbox(app) == []


# --- what reporters ask through reporting -------------------------------------------------------


async def close(client: httpx.AsyncClient, app: FastAPI, work_order_id: str) -> datetime:
    """Claim, resolve and verify the order; when it closed."""
    assignee = bearer(app, role="grid_worker", subject="w-west-1", grids=["g-west"])
    steps = [
        ("claim", assignee, None),
        ("resolve", assignee, {"note": "已拆除飞线", "evidence": ["p-1.jpg"]}),
        ("verify", supervisor(app), {"passed": True}),
    ]
    for step, headers, body in steps:
        response = await client.post(
            f"/v1/workorders/{work_order_id}/{step}", json=body, headers=headers
        )
        assert response.status_code == 200, response.text
    return datetime.fromisoformat(response.json()["closed_at"])


def rated(work_order_id: str, reporter: str = "rider-1", score: int = 5) -> CloudEvent:
    data = ReportRated(
        report_id="rep-1",
        reporter_id=reporter,
        work_order_id=work_order_id,
        score=score,
        comment="满意",
        rated_at=datetime.now().astimezone(),
    )
    return as_event(data, subject="rep-1", sequence=2)


def reopen(work_order_id: str, at: datetime, reporter: str = "rider-1") -> CloudEvent:
    data = ReportReopenRequested(
        report_id="rep-1",
        reporter_id=reporter,
        work_order_id=work_order_id,
        reason="又有人飞线充电",
        requested_at=at,
    )
    return as_event(data, subject="rep-1", sequence=3)


@pytest.mark.usefixtures("served")
async def test_a_reporter_rates_the_closed_order(
    client: httpx.AsyncClient, app: FastAPI, deliver: Deliver
) -> None:
    await deliver(report_event())
    order = await only_order(client, app)
    await deliver(rated(order["id"]))  # still open: ignored
    assert (await only_order(client, app))["state"] == "dispatched"
    await close(client, app, order["id"])

    await deliver(rated(order["id"], reporter="rider-9"))  # not a reporter of it: ignored
    await deliver(rated(order["id"], score=4))

    order = await only_order(client, app)
    assert (order["state"], order["rating"]) == ("rated", 4)
    assert short((await outbox(app))[-1].type) == "rated"


@pytest.mark.usefixtures("served")
@pytest.mark.parametrize(
    ("reporter", "after", "state"),
    [
        ("rider-1", timedelta(days=7) - timedelta(minutes=1), "dispatched"),
        ("rider-1", timedelta(days=7, minutes=1), "closed"),
        ("rider-9", timedelta(hours=1), "closed"),
    ],
    ids=["within the window", "after the window", "by a stranger"],
)
async def test_a_reporter_reopens_within_the_window(
    client: httpx.AsyncClient,
    app: FastAPI,
    deliver: Deliver,
    reporter: str,
    after: timedelta,
    state: str,
) -> None:
    await deliver(report_event())
    order = await only_order(client, app)
    closed_at = await close(client, app, order["id"])

    await deliver(reopen(order["id"], closed_at + after, reporter))

    order = await only_order(client, app)
    assert order["state"] == state
    if state == "dispatched":
        assert order["reopen_count"] == 1
        assert [s["to_state"] for s in order["history"][-2:]] == ["reopened", "dispatched"]
        types = [short(e.type) for e in await outbox(app)][-2:]
        assert types == ["reopened", "dispatched"]
