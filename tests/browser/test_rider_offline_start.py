"""The rider's app starts without a network: once opened online, its service worker keeps the
app's shell, so a rider who opens (or reloads) it with no coverage still gets 随手拍, can keep
a report with a photo on the phone, and the report is filed once when the network returns.
The staff console is left alone: it never registers the worker and none of its files are
precached."""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, Response, Route, expect

from .conftest import DESK, SignIn
from .helpers import point_inside

DISTRICT = "370811"
GRID = "370811-01-003-2"
"""A grid of its own: no other browser test reports here, so nothing is merged into it."""

pytestmark = pytest.mark.browser


def grid_centre(gateway_url: str, grid_id: str) -> tuple[float, float]:
    answer = httpx.get(f"{gateway_url}/api/dispatch/v1/districts/{DISTRICT}/grids", timeout=15)
    answer.raise_for_status()
    feature = next(f for f in answer.json()["features"] if f["properties"]["grid_id"] == grid_id)
    return point_inside(feature["geometry"])


def a_photo(folder: Path) -> Path:
    path = folder / "drain.jpg"
    image = Image.new("RGB", (640, 480), (120, 130, 140))
    ImageDraw.Draw(image).ellipse((200, 140, 440, 340), fill=(40, 40, 48))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    path.write_bytes(out.getvalue())
    return path


def precached_urls(page: Page) -> list[str]:
    urls: list[str] = page.evaluate(
        """async () => {
            const urls = []
            for (const name of await caches.keys()) {
                for (const request of await (await caches.open(name)).keys()) urls.push(request.url)
            }
            return urls
        }"""
    )
    return urls


def test_the_app_opened_once_starts_offline_and_files_a_report_made_there_once(
    phone: Page, gateway_url: str, sign_in_token: SignIn, tmp_path: Path
) -> None:
    assert phone.context.service_workers is not None  # the fixture does not block workers
    rider = f"rider-offline-{uuid.uuid4().hex[:10]}"
    spot = grid_centre(gateway_url, GRID)
    phone.context.set_geolocation({"latitude": spot[0], "longitude": spot[1], "accuracy": 8})

    # Online, once: sign in (the catalogue of categories is kept on the phone), and the
    # worker installs, precaches the shell and takes control of the page.
    phone.goto("/")
    phone.locator("[data-test=custom-rider-id] input").fill(rider)
    phone.locator(f"[data-test=district-{DISTRICT}]").click()
    phone.locator("[data-test=custom-sign-in]").click()
    expect(phone.locator("[data-test=submit-report]")).to_be_visible()
    expect(phone.locator("[data-test=open-categories]")).to_be_enabled()
    scope = phone.evaluate("async () => (await navigator.serviceWorker.ready).scope")
    assert scope == f"{gateway_url}/"
    phone.wait_for_function("() => navigator.serviceWorker.controller !== null")

    cached = precached_urls(phone)
    assert f"{gateway_url}/manifest.webmanifest" in [url.split("?")[0] for url in cached]
    assert any("/assets/rider-" in url for url in cached), cached
    assert any("/assets/ReportsPage-" in url for url in cached), cached
    assert not [url for url in cached if "console" in url or "/api/" in url], cached

    # The worker leaves the console and the API to the network.
    console = phone.goto("/console/")
    assert console is not None and not console.from_service_worker
    assert "网格工作台" in phone.title()
    phone.goto("/")
    expect(phone.locator("[data-test=submit-report]")).to_be_visible()

    # The server is down (the ingress answers 502): the installed release starts all the same.
    def bad_gateway(route: Route) -> None:
        route.fulfill(status=502, content_type="text/html", body="<h1>502 Bad Gateway</h1>")

    page_url = re.compile(re.escape(gateway_url) + r"/(\?.*)?$")
    phone.context.route(page_url, bad_gateway)
    reloaded = phone.reload()
    assert reloaded is not None and reloaded.from_service_worker and reloaded.status == 200
    expect(phone.locator("[data-test=submit-report]")).to_be_visible()
    phone.context.unroute(page_url, bad_gateway)

    # No network: the reload is answered by the worker, and 随手拍 starts.
    phone.context.set_offline(True)
    reloaded = phone.reload()
    assert reloaded is not None and reloaded.from_service_worker
    expect(phone.locator("[data-test=submit-report]")).to_be_visible()
    assert phone.title() == "随手拍 · gridloop"
    expect(phone.locator("[data-test=position-coords]")).to_be_visible()

    posts: list[int] = []
    api_from_worker: list[str] = []

    def on_response(response: Response) -> None:
        if "/api/" in response.url and response.from_service_worker:
            api_from_worker.append(response.url)
        if response.url.endswith("/api/reporting/v1/reports") and response.request.method == "POST":
            posts.append(response.status)

    phone.on("response", on_response)
    phone.locator("[data-test=photo-input]").set_input_files(a_photo(tmp_path))
    expect(phone.locator("[data-test=photo-preview]")).to_be_visible()
    phone.locator("[data-test=open-categories]").click()
    phone.locator("[data-test=category-option][data-code='0601']").click()
    expect(phone.locator("[data-test=chosen-category]")).to_be_visible()
    phone.locator("[data-test=report-text] textarea").fill("雨水井盖缺失，夜里看不见")
    phone.locator("[data-test=submit-report]").click()
    queued = phone.locator("[data-test=queued-item]")
    expect(queued).to_have_count(1)
    expect(queued).to_have_attribute("data-status", "queued")
    expect(queued).to_contain_text("含照片")
    expect(queued).to_contain_text("待发送 · 网络恢复后自动发送")
    assert posts == []

    # The network returns: the report leaves the phone, filed once, with its photo.
    phone.context.set_offline(False)
    expect(queued).to_have_count(0, timeout=30_000)
    assert [status for status in posts if status < 300] in ([201], [200])
    assert api_from_worker == []
    api = httpx.Client(
        base_url=f"{gateway_url}/api",
        headers={
            "Authorization": f"Bearer {sign_in_token(rider, role='rider', district=DISTRICT)}"
        },
        timeout=15,
    )
    answer = api.get("/reporting/v1/reports", params={"mine": "true"})
    answer.raise_for_status()
    mine: list[dict[str, Any]] = answer.json()["items"]
    assert [(r["category"], r["text"]) for r in mine] == [("0601", "雨水井盖缺失，夜里看不见")]
    assert len(mine[0]["photos"]) == 1
    assert (mine[0]["lat"], mine[0]["lon"]) == pytest.approx(spot, abs=1e-6)


def test_the_console_never_registers_the_worker(browser: Browser, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, viewport=DESK, locale="zh-CN")  # type: ignore[arg-type]
    try:
        desk = context.new_page()
        desk.goto("/console/")
        desk.wait_for_load_state("networkidle")
        desk.wait_for_timeout(1_000)  # past the load event, when the rider's page registers
        registrations = desk.evaluate(
            "async () => (await navigator.serviceWorker.getRegistrations()).length"
        )
        assert registrations == 0
        assert desk.evaluate("() => document.querySelector('link[rel=manifest]')") is None
    finally:
        context.close()
