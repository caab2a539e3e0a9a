"""What the browser tests of both faces share: the gateway's API as one person, waiting for the
system to catch up, and the verdict of an axe scan."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from playwright.sync_api import Page
from shapely.geometry import shape

T = TypeVar("T")

A11yScan = Callable[[Page], list[dict[str, Any]]]
Look = Callable[[Page, str], None]
"""Photographs a screen under a name and checks it with axe (each test module's ``look_at``)."""


class Api:
    """The gateway's /api as one signed-in person (a development token)."""

    def __init__(self, gateway_url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=f"{gateway_url}/api",
            headers={"Authorization": f"Bearer {token}"},
            timeout=15,
        )

    def get(self, path: str, **params: Any) -> Any:
        answer = self.client.get(path, params=params)
        assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text}"
        return answer.json()

    def post(self, path: str, body: Any = None, **options: Any) -> Any:
        answer = self.client.post(path, json=body, **options)
        assert answer.status_code < 300, f"{path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    def upload_photo(self, name: str, content: bytes, mime_type: str) -> str:
        """Upload a photo to reporting; answers its id."""
        answer = self.client.post(
            "/reporting/v1/photos", files={"file": (name, content, mime_type)}
        )
        assert answer.status_code in (200, 201), answer.text
        photo_id: str = answer.json()["id"]
        return photo_id

    def work_order(self, order_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"/dispatch/v1/workorders/{order_id}")
        return found


def eventually(probe: Callable[[], T | None], *, timeout: float = 60.0, what: str = "") -> T:
    """The first truthy answer of ``probe``, polled until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        time.sleep(0.3)


def assert_no_serious_violations(page: Page, scan: A11yScan) -> None:
    """Axe finds no serious or critical violation on the page as it is now."""
    violations = scan(page)
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)


def point_inside(geometry: dict[str, Any]) -> tuple[float, float]:
    """A point well inside a GeoJSON (multi)polygon, as (lat, lon) to 6 decimals, as a phone
    reports it."""
    point = shape(geometry).representative_point()
    return round(point.y, 6), round(point.x, 6)
