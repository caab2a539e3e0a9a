"""The rider's 随手拍 app in a phone's browser against the whole system: sign-in, a report with
a photo and a fixed position, the offline queue, the timeline of a closed case and its rating,
points and a gift's collection code, the inbox; a screenshot and an axe scan of each main
screen, and the first screen's script within its budget.

Each test signs in a rider of its own and reports in a grid of its own, so no report is merged
into another test's case."""

from __future__ import annotations

import gzip
import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, Response, Route, expect

from .conftest import ApiAs, Screenshot, SignIn
from .helpers import A11yScan, Api, Look, assert_no_serious_violations, eventually, point_inside

DISTRICT = "370811"
DISTRICT_SUPERVISOR = "370811-d-01"
"""A district-level supervisor of the demo roster: may verify any of the district's orders."""
FIRST_SCREEN_BUDGET = 300 * 1024
"""Compressed (gzip) script of the rider's first screen, in bytes."""

pytestmark = pytest.mark.browser

# helpers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grid_spots(gateway_url: str) -> Iterator[Iterator[tuple[float, float]]]:
    """Points well inside the district's grids, one grid after another (a test takes one per
    report, so reports of different tests are never near each other)."""
    grids = httpx.get(f"{gateway_url}/api/dispatch/v1/districts/{DISTRICT}/grids", timeout=15)
    grids.raise_for_status()

    def spots() -> Iterator[tuple[float, float]]:
        for feature in grids.json()["features"][7::5]:
            yield point_inside(feature["geometry"])

    yield spots()


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small JPEG, as a phone's camera would hand it over."""
    path = tmp_path_factory.mktemp("photos") / "corridor.jpg"
    image = Image.new("RGB", (640, 480), (176, 138, 92))
    ImageDraw.Draw(image).rectangle((120, 90, 520, 400), fill=(92, 60, 32))
    image.save(path, format="JPEG", quality=85)
    return path


def evidence_jpeg() -> bytes:
    image = Image.new("RGB", (480, 360), (200, 222, 200))
    ImageDraw.Draw(image).ellipse((140, 80, 340, 280), fill=(40, 140, 60))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


@dataclass(frozen=True)
class Rider:
    id: str
    api: Api
    """The gateway's API as this rider."""


@pytest.fixture
def rider(api_as: ApiAs) -> Rider:
    """A rider of the district of the test's own (so no report is merged into another test's)."""
    rider_id = f"rider-web-{uuid.uuid4().hex[:10]}"
    return Rider(rider_id, api_as(rider_id, role="rider", district=DISTRICT))


def sign_in(page: Page, rider: Rider) -> None:
    """Through the development sign-in page, as a rider typed by id."""
    page.goto("/")
    page.locator("[data-test=custom-rider-id] input").fill(rider.id)
    page.locator(f"[data-test=district-{DISTRICT}]").click()
    page.locator("[data-test=custom-sign-in]").click()
    expect(page.locator("[data-test=submit-report]")).to_be_visible()


def stand_at(page: Page, spot: tuple[float, float], accuracy: float = 8) -> None:
    page.context.set_geolocation({"latitude": spot[0], "longitude": spot[1], "accuracy": accuracy})


def choose_category(page: Page, code: str) -> None:
    page.locator("[data-test=open-categories]").click()
    page.locator(f"[data-test=category-option][data-code='{code}']").click()
    expect(page.locator("[data-test=chosen-category]")).to_be_visible()


def file_report(api: Api, spot: tuple[float, float], category: str, text: str) -> dict[str, Any]:
    """A report sent straight to the API (for tests about what follows it)."""
    report: dict[str, Any] = api.post(
        "/reporting/v1/reports",
        {"category": category, "lat": spot[0], "lon": spot[1], "text": text},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    return report


@pytest.fixture
def look_at(screenshot: Screenshot, serious_a11y: A11yScan) -> Look:
    """Photograph the screen as ``name``; then, once messages have gone (so the scan sees the
    screen as the rider does), fail on any serious or critical axe violation on it."""

    def look(page: Page, name: str) -> None:
        screenshot(page, name)
        expect(page.locator("[data-test=toast]")).to_have_count(0, timeout=10_000)
        assert_no_serious_violations(page, serious_a11y)

    return look


# sign-in -------------------------------------------------------------------------------------


def test_sign_in_offers_the_demo_riders_and_refuses_a_staff_token(
    phone: Page, sign_in_token: SignIn, look_at: Look
) -> None:
    phone.goto("/")
    riders = phone.locator("[data-test=dev-rider]")
    expect(riders.first).to_be_visible()
    assert riders.count() >= 2
    look_at(phone, "rider-sign-in")

    riders.first.click()
    expect(phone.locator("[data-test=submit-report]")).to_be_visible()
    expect(phone.locator("[data-test=sign-out]")).to_be_visible()

    # The identity provider hands a staff member's token back to the rider's app: refused.
    staff = sign_in_token(DISTRICT_SUPERVISOR)
    phone.goto("about:blank")
    phone.goto(f"/#token={staff}")
    expect(phone.locator("[data-test=sign-in-refusal]")).to_have_text(
        "此入口仅供骑手使用，工作人员请使用 /console/"
    )
    expect(phone.locator("[data-test=submit-report]")).to_have_count(0)


# 随手拍 ----------------------------------------------------------------------------------------


def test_a_report_with_a_photo_and_the_phone_position_is_filed(
    phone: Page,
    rider: Rider,
    grid_spots: Iterator[tuple[float, float]],
    photo: Path,
    look_at: Look,
) -> None:
    spot = next(grid_spots)
    stand_at(phone, spot, accuracy=9)

    # This district's catalogue says 0101 needs a photo: the form asks for one before sending.
    def photo_required(route: Route) -> None:
        answer = route.fetch()
        catalogues = answer.json()
        for catalogue in catalogues:
            for category in catalogue["categories"]:
                if category["code"] == "0101":
                    category["photo_required"] = True
        route.fulfill(response=answer, json=catalogues)

    phone.route(re.compile(r".*/api/reporting/v1/categories.*"), photo_required)
    sign_in(phone, rider)
    expect(phone.locator("[data-test=position-status]")).to_have_text("已定位，精度约 9 米")
    choose_category(phone, "0101")
    phone.locator("[data-test=report-text] textarea").fill("3号楼2单元楼道堆满纸箱")
    phone.locator("[data-test=submit-report]").click()
    expect(phone.locator("[data-test=form-error]")).to_contain_text("需要拍照后才能提交")
    expect(phone.locator("[data-test=queued-item]")).to_have_count(0)

    phone.locator("[data-test=photo-input]").set_input_files(photo)
    expect(phone.locator("[data-test=photo-preview]")).to_be_visible()
    look_at(phone, "rider-home")

    with phone.expect_response(
        lambda r: r.url.endswith("/api/reporting/v1/reports") and r.request.method == "POST"
    ) as sent:
        phone.locator("[data-test=submit-report]").click()
    assert sent.value.status == 201
    key = sent.value.request.headers["idempotency-key"]
    expect(phone.locator("[data-test=queued-item]")).to_have_count(0)

    mine = rider.api.get("/reporting/v1/reports", mine="true")["items"]
    assert len(mine) == 1
    report = mine[0]
    assert (report["category"], report["text"]) == ("0101", "3号楼2单元楼道堆满纸箱")
    assert (report["lat"], report["lon"]) == pytest.approx(spot, abs=1e-6)
    assert len(report["photos"]) == 1
    assert report["captured_at"] is not None
    assert len(key) == 36  # a UUID made when the rider tapped 提交

    phone.locator("[data-test=tab-reports]").click()
    expect(phone.locator("[data-test=report-item]")).to_have_count(1)
    expect(phone.locator("[data-test=report-item]")).to_contain_text("楼道杂物堆放")


def test_a_report_made_offline_is_queued_and_filed_once_when_back_online(
    phone: Page,
    rider: Rider,
    grid_spots: Iterator[tuple[float, float]],
    look_at: Look,
) -> None:
    stand_at(phone, next(grid_spots))
    scripts: list[str] = []
    phone.on(
        "response", lambda r: scripts.append(r.url) if r.request.resource_type == "script" else None
    )
    sign_in(phone, rider)
    expect(phone.locator("[data-test=position-coords]")).to_be_visible()
    # Once idle, the app fetches its other screens, so 我的上报 opens offline too.
    for _ in range(60):  # Playwright hands over events only while it is called: wait through it
        if any("ReportsPage" in url for url in scripts):
            break
        phone.wait_for_timeout(250)
    assert any("ReportsPage" in url for url in scripts), scripts
    posts: list[Response] = []
    phone.on(
        "response",
        lambda r: (
            posts.append(r)
            if r.url.endswith("/api/reporting/v1/reports") and r.request.method == "POST"
            else None
        ),
    )

    phone.context.set_offline(True)
    choose_category(phone, "0301")
    phone.locator("[data-test=report-text] textarea").fill("路口垃圾堆了两天")
    phone.locator("[data-test=submit-report]").click()
    queued = phone.locator("[data-test=queued-item]")
    expect(queued).to_have_count(1)
    expect(queued).to_have_attribute("data-status", "queued")
    expect(queued).to_contain_text("待发送 · 网络恢复后自动发送")
    expect(phone.locator("[data-test=queued-count]")).to_have_text("1")
    expect(phone.locator("[data-test=queued-badge]")).to_have_text("1")
    look_at(phone, "rider-offline-queue")

    # It waits on the phone: 我的上报 shows it too, and reloading the app keeps it.
    phone.locator("[data-test=tab-reports]").click()
    expect(phone.locator("[data-test=queued-item]")).to_have_count(1)
    assert posts == []

    phone.context.set_offline(False)
    expect(phone.locator("[data-test=queued-item]")).to_have_count(0, timeout=30_000)
    expect(phone.locator("[data-test=report-item]")).to_have_count(1)
    assert [r.status for r in posts if r.status < 300] in ([201], [200])
    look_at(phone, "rider-reports")

    mine = rider.api.get("/reporting/v1/reports", mine="true")["items"]
    assert [(r["category"], r["text"]) for r in mine] == [("0301", "路口垃圾堆了两天")]
    assert mine[0]["captured_at"] is not None


def test_a_refused_report_stays_on_the_phone_with_the_reason_until_retried(
    phone: Page, rider: Rider, grid_spots: Iterator[tuple[float, float]]
) -> None:
    stand_at(phone, next(grid_spots))
    sign_in(phone, rider)
    expect(phone.locator("[data-test=position-coords]")).to_be_visible()

    def refuse(route: Route) -> None:
        route.fulfill(
            status=422,
            content_type="application/problem+json",
            body=json.dumps(
                {
                    "type": "about:blank",
                    "title": "Unprocessable Entity",
                    "status": 422,
                    "detail": "该位置不在本区服务范围内",
                }
            ),
        )

    reports = re.compile(r".*/api/reporting/v1/reports$")
    phone.route(reports, refuse)
    choose_category(phone, "0401")
    phone.locator("[data-test=submit-report]").click()
    failed = phone.locator("[data-test=queued-item][data-status=failed]")
    expect(failed).to_have_count(1)
    expect(failed.locator("[data-test=queued-error]")).to_contain_text("该位置不在本区服务范围内")

    # Still there after a reload: nothing refused is dropped.
    phone.reload()
    expect(failed).to_have_count(1)
    first_key = failed.get_attribute("data-key")

    # Edited, it goes again in place of the refused one, under a key of its own.
    phone.locator("[data-test=queued-edit]").click()
    expect(phone.locator("[data-test=chosen-category]")).to_contain_text("机动车乱停放")
    phone.locator("[data-test=report-text] textarea").fill("车停在消防通道口")
    phone.locator("[data-test=submit-report]").click()
    expect(failed).to_have_count(1)
    expect(phone.locator("[data-test=queued-item]")).to_have_count(1)
    assert failed.get_attribute("data-key") not in (None, first_key)

    phone.unroute(reports)
    phone.locator("[data-test=queued-retry]").click()
    expect(phone.locator("[data-test=queued-item]")).to_have_count(0)
    phone.locator("[data-test=tab-reports]").click()
    expect(phone.locator("[data-test=report-item]")).to_have_count(1)
    expect(phone.locator("[data-test=report-item]")).to_contain_text("车停在消防通道口")


def test_a_poor_fix_opens_the_grid_map_and_the_pin_sets_the_position(
    phone: Page, rider: Rider, grid_spots: Iterator[tuple[float, float]]
) -> None:
    scripts: list[str] = []
    phone.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)
    stand_at(phone, next(grid_spots), accuracy=400)
    sign_in(phone, rider)
    expect(phone.locator("[data-test=poor-accuracy]")).to_contain_text("约 400 米")
    expect(phone.locator("[data-test=map-picker]")).to_be_visible()
    expect(phone.locator("[data-test=map-grid]")).to_contain_text("图钉位于：")
    assert any("MapPicker" in url for url in scripts)

    box = phone.locator("[data-test=map-picker]").bounding_box()
    assert box is not None
    phone.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    expect(phone.locator("[data-test=position-status]")).to_have_text("已在地图上选定位置")


# the timeline ----------------------------------------------------------------------------------


def closed_case(
    api: Api, api_as: ApiAs, spot: tuple[float, float], category: str, text: str
) -> dict[str, Any]:
    """A report of the rider's (``api``) whose work order its assignee has claimed and resolved
    with an evidence photo and a supervisor has passed, once the report shows it closed."""
    report = file_report(api, spot, category, text)
    work_order_id = eventually(
        lambda: api.get(f"/reporting/v1/reports/{report['id']}")["work_order_id"],
        what="the report's work order",
    )
    supervisor = api_as(DISTRICT_SUPERVISOR)
    worker = api_as(supervisor.work_order(work_order_id)["assignee"]["id"])
    evidence = worker.upload_photo("fixed.jpg", evidence_jpeg(), "image/jpeg")
    worker.post(f"/dispatch/v1/workorders/{work_order_id}/claim")
    worker.post(
        f"/dispatch/v1/workorders/{work_order_id}/resolve",
        {"note": "已清理，通道畅通", "evidence": [evidence]},
    )
    supervisor.post(
        f"/dispatch/v1/workorders/{work_order_id}/verify", {"passed": True, "note": "核查通过"}
    )
    eventually(
        lambda: api.get(f"/reporting/v1/reports/{report['id']}")["status"] == "closed",
        what="the report to show its case closed",
    )
    return report


def test_the_timeline_shows_each_step_with_the_evidence_and_the_rider_rates_it(
    phone: Page,
    rider: Rider,
    api_as: ApiAs,
    grid_spots: Iterator[tuple[float, float]],
    look_at: Look,
) -> None:
    report = closed_case(rider.api, api_as, next(grid_spots), "0102", "消防通道被电动车堵住")

    sign_in(phone, rider)
    phone.locator("[data-test=tab-reports]").click()
    phone.locator("[data-test=report-item]").click()
    steps = phone.locator("[data-test=timeline-step]")
    expect(steps.first).to_be_visible()
    seen = [step.get_attribute("data-step") for step in steps.all()]
    for step in ("submitted", "filed", "dispatched", "claimed", "resolved", "closed"):
        assert step in seen, seen
    assert seen.index("closed") < seen.index("resolved") < seen.index("submitted")  # newest first
    resolved = phone.locator("[data-test=timeline-step][data-step=resolved]")
    expect(resolved).to_contain_text("已清理，通道畅通")
    thumb = resolved.locator("[data-test=photo-thumb] img")
    expect(thumb).to_have_attribute("src", re.compile(r"^blob:"))
    expect(
        phone.locator("[data-test=timeline-step][data-step=points_awarded]").first
    ).to_contain_text("积分")
    resolved.evaluate("step => step.scrollIntoView({block: 'center'})")
    look_at(phone, "rider-report-timeline")

    # Tapping the evidence shows it large.
    resolved.locator("[data-test=photo-thumb]").click()
    expect(phone.locator(".van-image-preview img").first).to_be_visible()
    phone.locator(".van-image-preview__close-icon").click()
    expect(phone.locator(".van-image-preview")).to_be_hidden()

    phone.locator("[data-test=rate-star][data-score='4']").click()
    phone.locator("[data-test=rate-comment] textarea").fill("处理很及时")
    phone.locator("[data-test=rate-submit]").click()
    expect(phone.locator("[data-test=rate-done]")).to_be_visible()
    expect(phone.locator("[data-test=rate-form]")).to_have_count(0)
    expect(phone.locator("[data-test=timeline-step][data-step=rated]")).to_have_count(
        1, timeout=30_000
    )
    detail = rider.api.get(f"/reporting/v1/reports/{report['id']}")
    assert detail["status"] == "rated"


def test_a_closed_case_is_sent_back_when_the_rider_asks_within_the_window(
    phone: Page,
    rider: Rider,
    api_as: ApiAs,
    grid_spots: Iterator[tuple[float, float]],
) -> None:
    report = closed_case(rider.api, api_as, next(grid_spots), "0403", "小区门口有人私设地锁")
    sign_in(phone, rider)
    phone.goto(f"/#/reports/{report['id']}")
    phone.locator("[data-test=reopen-open]").click()
    phone.get_by_role("button", name="提交", exact=True).click()
    expect(phone.locator("[data-test=reopen-error]")).to_have_text("请写明需要重新处理的原因")
    phone.locator("[data-test=reopen-reason] textarea").fill("地锁又装回去了")
    phone.get_by_role("button", name="提交", exact=True).click()
    expect(phone.locator("[data-test=reopen-done]")).to_be_visible()
    expect(phone.locator("[data-test=timeline-step][data-step=reopened]")).to_have_count(
        1, timeout=30_000
    )
    assert rider.api.get(f"/reporting/v1/reports/{report['id']}")["status"] != "closed"


def test_a_report_waiting_for_review_can_be_withdrawn(
    phone: Page,
    rider: Rider,
    grid_spots: Iterator[tuple[float, float]],
) -> None:
    report = file_report(rider.api, next(grid_spots), "0701", "楼上楼下因漏水起了争执")
    eventually(
        lambda: (
            rider.api.get(f"/reporting/v1/reports/{report['id']}")["status"] == "pending_review"
        ),
        what="the report to wait for review (邻里纠纷 is reviewed first)",
    )
    sign_in(phone, rider)
    phone.goto(f"/#/reports/{report['id']}")
    expect(phone.locator("[data-test=status-tag]").first).to_have_attribute(
        "data-status", "pending_review"
    )
    expect(phone.locator("[data-test=rate-form]")).to_have_count(0)
    phone.locator("[data-test=withdraw-open]").click()
    phone.locator("[data-test=withdraw-reason] input").fill("已私下协商解决")
    phone.get_by_role("button", name="撤回", exact=True).click()
    expect(phone.locator("[data-test=status-tag]").first).to_have_attribute(
        "data-status", "withdrawn"
    )
    expect(phone.locator("[data-test=withdraw-open]")).to_have_count(0)
    assert rider.api.get(f"/reporting/v1/reports/{report['id']}")["status"] == "withdrawn"


# points ------------------------------------------------------------------------------------------


def test_points_buy_a_gift_and_the_rider_gets_a_collection_code(
    phone: Page,
    rider: Rider,
    grid_spots: Iterator[tuple[float, float]],
    look_at: Look,
) -> None:
    gifts = rider.api.get(f"/ledger/v1/districts/{DISTRICT}/gifts")["gifts"]
    gift = min((g for g in gifts if g["stock"] > 0), key=lambda g: g["cost"])
    for category in ("0201", "0303", "0402", "0504", "0104")[: -(-gift["cost"] // 10)]:
        file_report(rider.api, next(grid_spots), category, "积分测试")
    balance = eventually(
        lambda: (
            (b := rider.api.get(f"/ledger/v1/accounts/{rider.id}/balance"))["available"]
            >= gift["cost"]
            and b
        ),
        what="points for the accepted reports",
    )

    sign_in(phone, rider)
    phone.locator("[data-test=tab-points]").click()
    expect(phone.locator("[data-test=balance-available]")).to_have_text(str(balance["available"]))
    expect(phone.locator("[data-test=balance-reserved]")).to_have_text("0")
    expect(phone.locator("[data-test=balance-posted]")).to_have_text(str(balance["posted"]))
    card = phone.locator(f"[data-test=gift][data-gift-id='{gift['id']}']")
    expect(card).to_contain_text(gift["collection_point_name"])
    expect(card).to_contain_text(f"库存 {gift['stock']}")
    look_at(phone, "rider-points")

    card.locator("[data-test=redeem-gift]").click()
    phone.get_by_role("button", name="兑换", exact=True).click()
    code = phone.locator("[data-test=collection-code]")
    expect(code).to_have_text(re.compile(r"^\s*[0-9A-Z]{4,12}\s*$"))
    expect(phone.locator("[data-test=redemption-state]")).to_have_text("待领取")
    expect(phone.locator("[data-test=collection-point]")).to_contain_text(
        gift["collection_point_name"]
    )
    look_at(phone, "rider-collection-code")

    mine = rider.api.get("/ledger/v1/redemptions")["items"]
    assert [(r["gift_id"], r["collection_code"]) for r in mine] == [
        (gift["id"], code.inner_text().strip())
    ]
    after = rider.api.get(f"/ledger/v1/accounts/{rider.id}/balance")
    assert after["reserved"] == gift["cost"]
    assert after["available"] == balance["available"] - gift["cost"]

    phone.locator("[data-test=tab-points]").click()
    expect(phone.locator("[data-test=balance-reserved]")).to_have_text(str(gift["cost"]))
    phone.get_by_role("tab", name="我的兑换").click()
    expect(phone.locator("[data-test=redemption-item]")).to_have_count(1)
    phone.get_by_role("tab", name="积分明细").click()
    expect(phone.locator("[data-test=statement-line]").first).to_contain_text(gift["name"])


# messages ----------------------------------------------------------------------------------------


def test_the_inbox_shows_unread_messages_and_marks_them_read(
    phone: Page,
    rider: Rider,
    grid_spots: Iterator[tuple[float, float]],
    look_at: Look,
) -> None:
    file_report(rider.api, next(grid_spots), "0502", "楼道里有电动车在充电")
    unread = eventually(
        lambda: (
            (n := rider.api.get("/notification/v1/notifications/unread-count")["unread"]) >= 3 and n
        ),
        what="messages about the report: filed, dispatched, points",
    )

    sign_in(phone, rider)
    expect(phone.locator("[data-test=unread-badge]")).to_have_text(str(unread))
    phone.locator("[data-test=tab-inbox]").click()
    items = phone.locator("[data-test=inbox-item]")
    expect(items).to_have_count(unread)
    expect(phone.locator("[data-test=inbox-item][data-read=false]")).to_have_count(unread)
    look_at(phone, "rider-inbox")

    items.first.locator("button").first.click()
    expect(items.first).to_have_attribute("data-read", "true")
    expect(phone.locator("[data-test=unread-badge]")).to_have_text(str(unread - 1))
    phone.locator("[data-test=inbox-filter-unread]").click()
    expect(items).to_have_count(unread - 1)

    phone.locator("[data-test=mark-all-read]").click()
    expect(items).to_have_count(0)
    expect(phone.locator("[data-test=unread-badge]")).to_have_count(0)
    assert rider.api.get("/notification/v1/notifications/unread-count")["unread"] == 0

    # Preferences and quiet hours.
    phone.locator("[data-test=inbox-settings]").click()
    phone.locator("[data-test=quiet-start]").fill("22:30")
    phone.locator("[data-test=quiet-end]").fill("06:30")
    phone.locator("[data-test=quiet-save]").click()
    expect(phone.locator("[data-test=quiet-current]")).to_contain_text("22:30–06:30")
    wechat = phone.locator("[data-test=pref-points_awarded-wechat]")
    expect(wechat).to_have_attribute("aria-checked", "true")
    wechat.click()
    expect(wechat).to_have_attribute("aria-checked", "false")
    look_at(phone, "rider-message-settings")
    prefs = rider.api.get("/notification/v1/preferences")
    assert prefs["quiet_hours"] == {"start": "22:30", "end": "06:30"}
    assert {"kind": "points_awarded", "channel": "wechat", "enabled": False} in prefs["preferences"]
    phone.locator("[data-test=quiet-clear]").click()
    expect(phone.locator("[data-test=quiet-current]")).to_have_text("当前：未设置")


# size ------------------------------------------------------------------------------------------


def scripts_of_first_screen(page: Page, open_screen: Callable[[], None]) -> dict[str, int]:
    """The gzip size of each script the screen loaded, by URL."""
    bodies: dict[str, bytes] = {}

    def keep(response: Response) -> None:
        if response.request.resource_type == "script" and response.ok:
            bodies[response.url] = response.body()

    page.on("response", keep)
    open_screen()
    page.wait_for_load_state("networkidle")
    page.remove_listener("response", keep)
    return {url: len(gzip.compress(body, 9)) for url, body in bodies.items()}


def test_the_first_screen_loads_less_than_300_kb_of_compressed_script(
    phone: Page, rider: Rider, grid_spots: Iterator[tuple[float, float]]
) -> None:
    def open_sign_in() -> None:
        phone.goto("/")
        expect(phone.locator("[data-test=dev-rider]").first).to_be_visible()

    sign_in_scripts = scripts_of_first_screen(phone, open_sign_in)
    assert sign_in_scripts, "no script was loaded"
    assert sum(sign_in_scripts.values()) < FIRST_SCREEN_BUDGET, sign_in_scripts

    # A signed-in rider opening the app anew (a fresh browser context: nothing cached).
    stand_at(phone, next(grid_spots))
    sign_in(phone, rider)
    browser = phone.context.browser
    assert browser is not None
    context = browser.new_context(
        base_url=phone.url.split("/#")[0],
        storage_state=phone.context.storage_state(),
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        geolocation=phone.evaluate(
            "() => new Promise(ok => navigator.geolocation.getCurrentPosition("
            "p => ok({latitude: p.coords.latitude, longitude: p.coords.longitude, accuracy: 8})))"
        ),
        permissions=["geolocation"],
    )
    try:
        home = context.new_page()

        def open_home() -> None:
            home.goto("/")
            expect(home.locator("[data-test=submit-report]")).to_be_visible()
            expect(home.locator("[data-test=position-coords]")).to_be_visible()

        home_scripts = scripts_of_first_screen(home, open_home)
    finally:
        context.close()
    assert home_scripts, "no script was loaded"
    assert sum(home_scripts.values()) < FIRST_SCREEN_BUDGET, home_scripts
    # Leaflet comes only with the map, when a poor fix asks for it.
    assert not [url for url in home_scripts if "MapPicker" in url]
