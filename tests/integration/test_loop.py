"""The whole 随手拍 loop across the four services, a real broker and real databases."""

from __future__ import annotations

import json
import signal
import threading
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from common.contracts.envelope import CloudEvent
from common.contracts.events import ReportSubmitted
from common.contracts.topics import Topic
from gridloop_tools.stack import Stack
from gridloop_tools.testing.builders import raw_event
from tests.integration.conftest import Rider, eventually, metric_value, publish_raw, read_topic


def test_report_inside_the_district_is_filed_pays_ten_points_and_tells_the_rider_twice(
    rider_factory: Callable[[], Rider], district_points: dict[str, tuple[float, float]]
) -> None:
    rider = rider_factory()
    lat, lon = district_points["inside"]
    report_id = rider.submit("0501", lat, lon, "楼道里有人飞线充电")

    report = eventually(lambda: (r := rider.report(report_id))["status"] == "dispatched" and r)
    assert report["grid_id"].startswith("370812-")
    assert report["work_order_id"].startswith("wo-")
    assert (report["work_order_state"], bool(report["deadline"])) == ("dispatched", True)
    # (the points paid for the report join its timeline whenever the ledger's event arrives)
    steps = [step["step"] for step in report["timeline"] if step["step"] != "points_awarded"]
    assert steps == ["submitted", "filed", "dispatched"]
    assert eventually(lambda: rider.balance() == 10)
    messages = eventually(lambda: len(m := rider.inbox()) == 3 and m)
    assert {m["template"] for m in messages} == {
        "report_filed",
        "report_dispatched",
        "points_awarded",
    }
    assert all(m["report_id"] == report_id for m in messages)
    filed = next(m for m in messages if m["template"] == "report_filed")
    assert "已立案" in filed["title"] and report["work_order_id"] in filed["body"]


def test_report_outside_the_district_is_rejected_with_its_reason(
    rider_factory: Callable[[], Rider], district_points: dict[str, tuple[float, float]]
) -> None:
    rider = rider_factory()
    lat, lon = district_points["outside"]
    report_id = rider.submit("0101", lat, lon)

    report = eventually(lambda: (r := rider.report(report_id))["status"] == "rejected" and r)
    assert report["rejection_reason_code"] == "outside_service_area"
    assert "服务范围" in report["rejection_reason"]
    messages = eventually(lambda: len(m := rider.inbox()) == 1 and m)
    assert messages[0]["template"] == "report_rejected"
    assert rider.balance() == 0


def _events_for(stack: Stack, topic: Topic, report_id: str) -> list[tuple[bytes, bytes]]:
    found = []
    for record in read_topic(stack.bootstrap_servers, topic.value):
        try:
            event = CloudEvent.from_bytes(record.value)
        except ValueError:
            continue
        if event.data.get("report_id") == report_id:
            found.append((record.key, record.value))
    return found


def test_republishing_the_same_events_changes_nothing_anywhere(
    stack: Stack,
    rider_factory: Callable[[], Rider],
    district_points: dict[str, tuple[float, float]],
) -> None:
    rider = rider_factory()
    report_id = rider.submit("0401", *district_points["inside"])
    eventually(lambda: len(rider.inbox()) == 3)
    before = (rider.report(report_id), rider.balance(), rider.transfers(), rider.inbox())

    duplicates_before = {
        service: metric_value(stack, service, "gridloop_events_consumed_total", outcome="duplicate")
        for service in ("dispatch", "ledger", "notification", "reporting")
    }
    events = {
        topic: _events_for(stack, topic, report_id)
        for topic in (Topic.REPORTS, Topic.WORKORDERS, Topic.POINTS)
    }
    # exactly: submitted; filed and dispatched; awarded
    assert {topic: len(found) for topic, found in events.items()} == {
        Topic.REPORTS: 1,
        Topic.WORKORDERS: 2,
        Topic.POINTS: 1,
    }
    for topic, found in events.items():
        for key, value in found:
            publish_raw(stack.bootstrap_servers, topic.value, key, value)

    def every_consumer_saw_its_duplicates() -> bool:
        expected = {"dispatch": 1, "ledger": 1, "notification": 3, "reporting": 2}
        return all(
            metric_value(stack, service, "gridloop_events_consumed_total", outcome="duplicate")
            >= duplicates_before[service] + count
            for service, count in expected.items()
        )

    eventually(every_consumer_saw_its_duplicates)
    after = (rider.report(report_id), rider.balance(), rider.transfers(), rider.inbox())
    assert after == before
    assert before[1] == 10 and len(before[2]) == 1 and len(before[3]) == 3


def test_a_malformed_message_is_dead_lettered_and_the_partition_keeps_flowing(
    stack: Stack,
    rider_factory: Callable[[], Rider],
    district_points: dict[str, tuple[float, float]],
) -> None:
    marker = f"not json {uuid.uuid4()}".encode()
    publish_raw(stack.bootstrap_servers, Topic.REPORTS.value, b"poison", b"{" + marker)
    invalid_data = raw_event(
        ReportSubmitted.event_type, {"report_id": "poison-2", "lat": "north"}, subject="poison-2"
    )
    publish_raw(stack.bootstrap_servers, Topic.REPORTS.value, b"poison-2", invalid_data.to_bytes())

    rider = rider_factory()
    report_id = rider.submit("0301", *district_points["inside"])
    eventually(lambda: rider.report(report_id)["status"] == "dispatched")

    def dead_letters() -> list[dict[str, str]]:
        found = []
        for record in read_topic(stack.bootstrap_servers, Topic.DEADLETTER.value):
            headers = {k: v.decode() for k, v in record.headers}
            if marker in (record.value or b"") or b"poison-2" in (record.key or b""):
                found.append(headers)
        return found

    letters = eventually(lambda: len(d := dead_letters()) >= 2 and d)
    reasons = {h["gridloop-dlq-reason"] for h in letters}
    assert reasons == {"unparseable", "invalid"}
    for headers in letters:
        assert headers["gridloop-dlq-original-topic"] == Topic.REPORTS.value
        assert int(headers["gridloop-dlq-original-offset"]) >= 0
        assert headers["gridloop-dlq-consumer"] == "dispatch"


def test_killing_services_mid_flight_loses_nothing_and_pays_nothing_twice(
    stack: Stack,
    grid_points: list[tuple[float, float]],
) -> None:
    riders = [Rider(stack) for _ in range(6)]
    points = iter(grid_points)  # each report in its own grid: none is merged into another
    submitted: dict[str, list[str]] = {r.id: [] for r in riders}
    lock = threading.Lock()

    def submit_all() -> None:
        for round_ in range(4):
            for rider in riders:
                lat, lon = next(points)
                report_id = rider.submit("0102", lat, lon, f"消防通道堵塞 #{round_}")
                with lock:
                    submitted[rider.id].append(report_id)

    worker = threading.Thread(target=submit_all)
    worker.start()
    eventually(lambda: sum(len(v) for v in submitted.values()) >= 6, timeout=30)
    for victim in ("ledger", "notification", "dispatch"):
        process = stack.services[victim].process
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait()
    worker.join(timeout=120)
    assert not worker.is_alive()
    for victim in ("dispatch", "ledger", "notification"):
        stack.start_service(victim)
    stack.wait_ready(["dispatch", "ledger", "notification"], timeout=120)

    for rider in riders:
        reports = submitted[rider.id]
        assert len(reports) == 4
        eventually(partial(_all_dispatched, rider, reports), timeout=180)
        transfers = eventually(partial(_transfers_when, rider, 4), timeout=120)
        assert sorted(t["report_id"] for t in transfers) == sorted(reports)
        assert eventually(partial(_balance_is, rider, 40), timeout=60)
        inbox = eventually(partial(_inbox_when, rider, 12), timeout=120)
        per_report = {
            i: sorted(m["template"] for m in inbox if m["report_id"] == i) for i in reports
        }
        expected = ["points_awarded", "report_dispatched", "report_filed"]
        assert all(t == expected for t in per_report.values()), json.dumps(
            per_report, ensure_ascii=False
        )


def _all_dispatched(rider: Rider, report_ids: list[str]) -> bool:
    return all(rider.report(i)["status"] == "dispatched" for i in report_ids)


def _transfers_when(rider: Rider, count: int) -> list[dict[str, Any]] | None:
    transfers = rider.transfers()
    return transfers if len(transfers) == count else None


def _balance_is(rider: Rider, balance: int) -> bool:
    return rider.balance() == balance


def _inbox_when(rider: Rider, count: int) -> list[dict[str, Any]] | None:
    messages = rider.inbox()
    return messages if len(messages) == count else None
