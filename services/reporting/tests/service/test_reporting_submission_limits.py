"""Per-rider limits on reports (an hour, a day; per district) and the same problem reported
twice, through the real app on a real SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from pydantic_settings import SettingsError

from gridloop_tools.testing.service_fixtures import Auth, assert_problem
from gridloop_tools.testing.service_suite import metric_sample
from reporting.config import ReportingSettings

REPORT: dict[str, Any] = {
    "category": "0101",
    "lat": 35.5531,
    "lon": 116.8287,
    "text": "3号楼2单元楼道堆放杂物",
}
METRES_PER_DEGREE_LAT = 111_195.0


def north(metres: float, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report ``metres`` north of ``body`` (REPORT if not given)."""
    body = body or REPORT
    return {**body, "lat": body["lat"] + metres / METRES_PER_DEGREE_LAT}


@pytest.fixture
async def limited_app(
    monkeypatch: pytest.MonkeyPatch,
    build_app: Callable[[], FastAPI],
    serve: Callable[[FastAPI, str], Awaitable[None]],
) -> AsyncIterator[Callable[..., Awaitable[httpx.AsyncClient]]]:
    """``await start(REPORTING_…=value, …)`` -> a client of an app built with those settings."""
    apps: list[FastAPI] = []
    clients: list[httpx.AsyncClient] = []

    async def start(**environment: str) -> httpx.AsyncClient:
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        application = build_app()
        await serve(application, "370812")
        apps.append(application)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://test"
        )
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.aclose()
    for application in apps:
        await application.state.runtime.engine.dispose()


Start = Callable[..., Awaitable[httpx.AsyncClient]]


async def test_a_rider_over_the_hourly_limit_is_answered_429_with_retry_after(
    limited_app: Start, auth: Auth
) -> None:
    client = await limited_app(REPORTING_RIDER_REPORTS_PER_HOUR="2")
    rider = auth(subject="busy-rider")
    for metres in (0, 100):
        assert (
            await client.post("/v1/reports", json=north(metres), headers=rider)
        ).status_code == 201
    refused = await client.post("/v1/reports", json=north(200), headers=rider)
    assert_problem(refused, 429, "at most 2 reports an hour")
    assert 3590 <= int(refused.headers["Retry-After"]) <= 3600
    other = await client.post("/v1/reports", json=north(200), headers=auth(subject="other"))
    assert other.status_code == 201
    listed = (await client.get("/v1/reports", headers=rider)).json()["items"]
    assert len(listed) == 2
    metrics = (await client.get("/metrics")).text
    assert (
        metric_sample(
            metrics, "gridloop_reports_limited_total", service="reporting", window="an hour"
        )
        == 1.0
    )


async def test_a_district_sets_its_own_limits(limited_app: Start, auth: Auth) -> None:
    client = await limited_app(
        REPORTING_DISTRICT_LIMITS='{"370812": {"per_hour": 5, "per_day": 1}}'
    )
    rider = auth(subject="daily-rider")
    assert (await client.post("/v1/reports", json=REPORT, headers=rider)).status_code == 201
    refused = await client.post("/v1/reports", json=north(500), headers=rider)
    assert_problem(refused, 429, "at most 1 reports a day")
    assert 86_390 <= int(refused.headers["Retry-After"]) <= 86_400


async def test_the_same_problem_twice_is_answered_with_the_earlier_report(
    limited_app: Start, auth: Auth
) -> None:
    client = await limited_app()
    rider = auth(subject="careful-rider")
    first = await client.post("/v1/reports", json=REPORT, headers=rider)
    again = await client.post(
        "/v1/reports", json={**north(20), "text": "还是那堆杂物"}, headers=rider
    )
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.headers["Duplicate-Of"] == first.json()["id"] == again.json()["id"]
    assert again.json()["text"] == REPORT["text"]
    listed = (await client.get("/v1/reports", headers=rider)).json()["items"]
    assert [item["id"] for item in listed] == [first.json()["id"]]
    metrics = (await client.get("/metrics")).text
    assert metric_sample(metrics, "gridloop_reports_duplicate_total", service="reporting") == 1.0
    assert metric_sample(metrics, "gridloop_reports_submitted_total", service="reporting") == 1.0


async def test_farther_away_another_category_or_another_rider_is_a_new_report(
    limited_app: Start, auth: Auth
) -> None:
    client = await limited_app()
    rider = auth(subject="rider-a")
    first = await client.post("/v1/reports", json=REPORT, headers=rider)
    bodies_and_riders = [
        (north(45), rider),
        ({**REPORT, "category": "0102"}, rider),
        (REPORT, auth(subject="rider-b")),
    ]
    for body, headers in bodies_and_riders:
        answer = await client.post("/v1/reports", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        assert answer.json()["id"] != first.json()["id"]
        assert "Duplicate-Of" not in answer.headers


async def test_a_duplicate_window_of_zero_turns_the_rule_off(
    limited_app: Start, auth: Auth
) -> None:
    client = await limited_app(REPORTING_DUPLICATE_WINDOW_MINUTES="0")
    rider = auth(subject="rider-c")
    answers = [await client.post("/v1/reports", json=REPORT, headers=rider) for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["id"] != answers[1].json()["id"]


async def test_a_retried_duplicate_answers_the_same_report(limited_app: Start, auth: Auth) -> None:
    client = await limited_app()
    rider = auth(subject="rider-d")
    first = await client.post("/v1/reports", json=REPORT, headers=rider)
    keyed = {**rider, "Idempotency-Key": "dup-1"}
    answers = [await client.post("/v1/reports", json=north(10), headers=keyed) for _ in range(2)]
    assert answers[0].status_code == 200
    assert answers[1].headers["Idempotent-Replayed"] == "true"
    assert {a.json()["id"] for a in answers} == {first.json()["id"]}


@pytest.mark.parametrize(
    ("environment", "field"),
    [
        ({"REPORTING_RIDER_REPORTS_PER_HOUR": "0"}, "rider_reports_per_hour"),
        ({"REPORTING_DISTRICT_LIMITS": '{"370812": {"per_hour": -1, "per_day": 3}}'}, "per_hour"),
        ({"REPORTING_DISTRICT_LIMITS": "not json"}, "district_limits"),
    ],
)
def test_bad_limit_settings_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], field: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises((ValidationError, SettingsError), match=field):
        ReportingSettings()
