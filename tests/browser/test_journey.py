"""One problem's whole life through both faces, each person in a browser of their own: a rider
reports it from a phone with a photo and the phone's position; the grid worker dispatch
assigned it to claims and resolves it with a photo in the console on a phone; a supervisor at
a desk fails the fix, then passes the second one; the rider follows every step on the report's
timeline, rates the outcome, sees the points and spends them on a gift, whose collection code
the app shows; the supervisor's grid map and 综合评价 count the order."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, FilePayload, Page, expect

from .conftest import PHONE, ApiAs
from .helpers import eventually
from .test_console import order_row, point_in
from .test_console import sign_in as console_sign_in
from .test_rider_app import choose_category, stand_at

DISTRICT = "370811"
GRID = "370811-03-002-5"
"""A grid of its own: no other browser test reports here, so nothing is merged into it."""
SUPERVISOR = "370811-d-01"

pytestmark = pytest.mark.browser


def jpeg(colour: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (640, 480), colour)
    ImageDraw.Draw(image).rectangle((160, 120, 480, 360), fill=(60, 60, 60))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


@pytest.fixture
def worker_phone(browser: Browser, base_url: str) -> Iterator[Page]:
    """A second phone: the grid worker's."""
    context = browser.new_context(
        base_url=base_url,
        viewport=PHONE,  # type: ignore[arg-type]
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def open_report(rider: Page, report_id: str) -> None:
    """The report's page, read afresh (going to the address it is already at changes nothing)."""
    rider.goto(f"/#/reports/{report_id}")
    rider.reload()
    expect(rider.locator("[data-test=timeline-step]").first).to_be_visible()


def timeline_once_it_shows(rider: Page, report_id: str, wanted: str) -> list[str]:
    """The steps of the report's timeline, newest first, once ``wanted`` is among them (the
    page opened again until it is)."""

    def shown() -> list[str] | None:
        open_report(rider, report_id)
        steps = [
            step.get_attribute("data-step") or ""
            for step in rider.locator("[data-test=timeline-step]").all()
        ]
        return steps if wanted in steps else None

    return eventually(shown, what=f"the {wanted} step on the rider's timeline")


def test_a_problem_from_the_riders_photo_to_a_gift(
    phone: Page,
    worker_phone: Page,
    desk: Page,
    api_as: ApiAs,
    tmp_path: Path,
) -> None:
    rider_id = f"rider-journey-{uuid.uuid4().hex[:8]}"
    rider_api = api_as(rider_id, role="rider", district=DISTRICT)
    supervisor_api = api_as(SUPERVISOR)

    # The rider reports with a photo, standing in the grid.
    stand_at(phone, point_in(GRID), accuracy=6)
    phone.goto("/")
    phone.locator("[data-test=custom-rider-id] input").fill(rider_id)
    phone.locator(f"[data-test=district-{DISTRICT}]").click()
    phone.locator("[data-test=custom-sign-in]").click()
    expect(phone.locator("[data-test=position-status]")).to_have_text("已定位，精度约 6 米")
    choose_category(phone, "0101")
    photo = tmp_path / "corridor.jpg"
    photo.write_bytes(jpeg((170, 130, 90)))
    phone.locator("[data-test=photo-input]").set_input_files(photo)
    phone.locator("[data-test=report-text] textarea").fill("5号楼楼道堆满旧家具")
    with phone.expect_response(
        lambda r: r.url.endswith("/api/reporting/v1/reports") and r.request.method == "POST"
    ) as sent:
        phone.locator("[data-test=submit-report]").click()
    assert sent.value.status == 201
    report_id = sent.value.json()["id"]

    # Dispatch files it and sends it to the grid's worker; the rider sees both steps.
    order_id = eventually(
        lambda: rider_api.get(f"/reporting/v1/reports/{report_id}")["work_order_id"],
        what="the report's work order",
    )
    order = supervisor_api.work_order(order_id)
    assert order["grid_id"] == GRID
    worker_id = order["assignee"]["id"]
    shown = timeline_once_it_shows(phone, report_id, "dispatched")
    assert {"submitted", "filed", "dispatched"} <= set(shown)

    # The grid worker claims and resolves it with a photo, in the console on a phone.
    console_sign_in(worker_phone, worker_id)
    row = order_row(worker_phone, order_id)
    row.locator("[data-test=claim]").click()
    expect(row).to_have_attribute("data-state", "claimed")

    def resolve(note: str, colour: tuple[int, int, int]) -> None:
        row.locator("[data-test=resolve]").click()
        worker_phone.locator("textarea[data-test=resolve-text]").fill(note)
        worker_phone.locator("[data-test=resolve-photos]").set_input_files(
            files=[FilePayload(name="after.jpg", mimeType="image/jpeg", buffer=jpeg(colour))]
        )
        expect(worker_phone.locator("[data-test=resolve-files] li")).to_have_count(1)
        worker_phone.locator("[data-test=resolve-confirm]").click()
        expect(row).to_have_count(0)

    resolve("已清走一半旧家具", (120, 160, 120))

    # The supervisor fails the fix at a desk; the order comes back to the worker.
    console_sign_in(desk, SUPERVISOR)
    desk.goto(f"/console/#/orders?grid={GRID}")
    supervised = order_row(desk, order_id)
    expect(supervised).to_have_attribute("data-state", "resolved")
    supervised.locator("[data-test=verify-fail]").click()
    desk.locator("textarea[data-test=fail-text]").fill("楼道里还有两件，请清完")
    desk.locator("[data-test=fail-confirm]").click()
    expect(supervised).to_have_attribute("data-state", "rework")

    worker_phone.locator("[data-test=refresh]").click()
    expect(row).to_have_attribute("data-state", "rework")
    row.locator("[data-test=claim]").click()
    expect(row).to_have_attribute("data-state", "claimed")
    resolve("已全部清走，楼道畅通", (90, 170, 90))

    # The second fix passes: the case is closed.
    desk.locator("[data-test=search]").click()
    expect(supervised).to_have_attribute("data-state", "resolved")
    supervised.locator("[data-test=verify-pass]").click()
    desk.locator("[data-test=pass-confirm]").click()
    expect(supervised).to_have_attribute("data-state", "closed")

    # The rider saw each step, with the worker's photo on the resolved ones, and rates it.
    shown = timeline_once_it_shows(phone, report_id, "closed")
    for step in ("submitted", "filed", "dispatched", "claimed", "resolved", "rework", "closed"):
        assert step in shown, shown
    assert shown.count("resolved") == 2, shown
    evidence = phone.locator("[data-test=timeline-step][data-step=resolved]").first
    expect(evidence).to_contain_text("已全部清走，楼道畅通")
    expect(evidence.locator("[data-test=photo-thumb] img")).to_have_attribute(
        "src", re.compile(r"^blob:")
    )
    phone.locator("[data-test=rate-star][data-score='5']").click()
    phone.locator("[data-test=rate-comment] textarea").fill("清得很干净")
    phone.locator("[data-test=rate-submit]").click()
    expect(phone.locator("[data-test=rate-done]")).to_be_visible()

    # Points: 10 for the report filed, 5 when its case closed, 1 for the rating.
    balance = eventually(
        lambda: (
            (b := rider_api.get(f"/ledger/v1/accounts/{rider_id}/balance"))["posted"] >= 16 and b
        ),
        what="the points of the filing, the closing and the rating",
    )
    assert balance["posted"] == 16
    phone.locator("[data-test=tab-points]").click()
    expect(phone.locator("[data-test=balance-available]")).to_have_text("16")

    # Another report filed (+10) buys the cheapest gift; the app shows its collection code.
    second = rider_api.post(
        "/reporting/v1/reports",
        {"category": "0301", "lat": point_in(GRID)[0], "lon": point_in(GRID)[1], "text": "垃圾"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert second["id"] != report_id
    eventually(
        lambda: rider_api.get(f"/ledger/v1/accounts/{rider_id}/balance")["available"] >= 26,
        what="the second report's points",
    )
    phone.reload()
    expect(phone.locator("[data-test=balance-available]")).to_have_text("26")
    gifts = rider_api.get(f"/ledger/v1/districts/{DISTRICT}/gifts")["gifts"]
    gift = min((g for g in gifts if g["stock"] > 0), key=lambda g: g["cost"])
    assert gift["cost"] <= 26
    card = phone.locator(f"[data-test=gift][data-gift-id='{gift['id']}']")
    card.locator("[data-test=redeem-gift]").click()
    phone.get_by_role("button", name="兑换", exact=True).click()
    code = phone.locator("[data-test=collection-code]")
    expect(code).to_have_text(re.compile(r"^\s*[0-9A-Z]{4,12}\s*$"))
    redemptions = rider_api.get("/ledger/v1/redemptions")["items"]
    assert [r["collection_code"] for r in redemptions] == [code.inner_text().strip()]

    # The supervisor's map colours the grid by what is open there now (the closed order no
    # longer counts; the second report's order does); 综合评价 counts both reports.
    eventually(
        lambda: rider_api.get(f"/reporting/v1/reports/{second['id']}")["work_order_id"],
        what="the second report's work order",
    )
    load = supervisor_api.get(f"/dispatch/v1/districts/{DISTRICT}/grid-load")
    open_here = next(g for g in load["grids"] if g["grid_id"] == GRID)["open"]
    assert open_here == 1
    desk.locator("[data-test=nav-map]").click()
    polygon = desk.locator(f'[data-test=grid-polygon][data-grid-id="{GRID}"]')
    expect(polygon).to_have_attribute("data-open", str(open_here))
    stats = supervisor_api.get("/dispatch/v1/stats", district=DISTRICT, grid=GRID)
    assert stats["districts"][0]["reports"] >= 2
    desk.locator("[data-test=nav-stats]").click()
    desk.locator("[data-test=stats-grid]").click()
    desk.keyboard.type(GRID)
    desk.keyboard.press("Enter")
    desk.locator("[data-test=stats-search]").click()
    reports_row = desk.locator("[data-test=stats-table] tr", has_text="上报数")
    expect(reports_row).to_contain_text(str(stats["districts"][0]["reports"]))
