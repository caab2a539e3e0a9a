"""An unexpected failure answers a bare 500 problem, and what is logged about it carries
neither the caller's token nor the request's body nor the failing code's local variables."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI

from common.logging import configure_logging
from gridloop_tools.testing.service_fixtures import Auth, assert_problem
from reporting.adapters.repository import ReportRepository
from reporting.domain.reports import Report

SECRET_TEXT = "楼道里有人藏了一只企鹅-7f3a9c"
"""A body text that must not reach the log."""
LOCAL_MARKER = "local-value-5be21d"
"""The value of a local variable in the failing frame, which must not reach the log."""


@pytest.fixture
def json_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The service's JSON log lines, as ``configure_logging(..., json=True)`` writes them in
    production, captured; structlog and the root logger are restored afterwards."""
    captured = io.StringIO()
    saved_config = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    monkeypatch.setattr(sys, "stdout", captured)
    configure_logging("reporting", "INFO", json=True)
    try:
        yield captured
    finally:
        structlog.configure(**saved_config)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


@pytest.fixture
def failing_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    async def add(self: ReportRepository, report: Report) -> None:
        held_by_the_frame = f"{LOCAL_MARKER} {report.text}"
        raise RuntimeError(f"storage failed ({len(held_by_the_frame)} bytes at hand)")

    monkeypatch.setattr(ReportRepository, "add", add)


def log_lines(captured: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.getvalue().splitlines() if line.strip()]


@pytest.mark.usefixtures("failing_storage")
async def test_a_failing_route_answers_a_bare_problem_and_logs_no_request_data(
    app: FastAPI, auth: Auth, json_log: io.StringIO
) -> None:
    headers = auth(subject="rider-leak")
    token = headers["Authorization"].removeprefix("Bearer ")
    report = {"category": "0101", "lat": 35.5531, "lon": 116.8287, "text": SECRET_TEXT}
    # As a server runs the app: the exception the app re-raises after answering does not
    # reach the client.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/v1/reports", json=report, headers=headers)

    body = assert_problem(response, 500)
    assert body["detail"] == "the server could not complete the request; it has been logged"
    for leak in ("RuntimeError", "storage failed", "File ", SECRET_TEXT, token):
        assert leak not in response.text

    lines = log_lines(json_log)
    failure = next(line for line in lines if line["event"] == "http.unhandled_error")
    assert failure["exception"][0]["exc_type"] == "RuntimeError"  # the cause is kept ...
    frames = failure["exception"][0]["frames"]
    assert any(frame["name"] == "add" for frame in frames)
    assert all("locals" not in frame for frame in frames)  # ... its frames' locals are not
    text = json_log.getvalue()
    for leak in (token, SECRET_TEXT, LOCAL_MARKER, "held_by_the_frame"):
        assert leak not in text


@pytest.mark.usefixtures("failing_storage")
async def test_the_servers_own_record_of_the_failure_carries_no_request_data(
    app: FastAPI, auth: Auth, json_log: io.StringIO
) -> None:
    """The app re-raises the exception to its server after answering; uvicorn logs it through
    the standard library, which the same JSON pipeline renders without locals."""
    headers = auth(subject="rider-leak")
    token = headers["Authorization"].removeprefix("Bearer ")
    report = {"category": "0101", "lat": 35.5531, "lon": 116.8287, "text": SECRET_TEXT}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(RuntimeError) as raised:
            await client.post("/v1/reports", json=report, headers=headers)
    logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=raised.value)

    server_line = next(
        line for line in log_lines(json_log) if line["event"] == "Exception in ASGI application"
    )
    assert server_line["exception"][0]["exc_type"] == "RuntimeError"
    text = json_log.getvalue()
    for leak in (token, SECRET_TEXT, LOCAL_MARKER, "held_by_the_frame"):
        assert leak not in text
