"""The staff console (/console/) in a real browser against the whole system: a grid worker on a
phone claims and resolves an order with a photo; a supervisor at a desk fails and then passes
the fix, accepts a report held for review, sees the grid map and the 综合评价 figures and
downloads them as CSV; an administrator sees a refused file's problems row by row. Each main
screen is photographed and scanned by axe (no serious or critical violation).

Reports are submitted through the gateway with a rider's development token, each test in grids
of its own so that no report is merged into another test's order (并单)."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import FilePayload, Locator, Page, expect

from .conftest import ApiAs, Screenshot, SignIn
from .helpers import A11yScan, Look, assert_no_serious_violations, eventually, point_inside

DISTRICT = "370811"
SUPERVISOR = "370811-d-01"
ADMIN = "admin-370811"
OPEN = ("pending_review", "filed", "dispatched", "claimed", "resolved", "rework", "returned")

# A grid per order (far apart): no report is merged into another test's order (并单 joins
# reports of one category group nearby).
WORKER_GRID = "370811-13-003-1"
VERIFY_GRID = "370811-14-003-4"
MAP_GRID = "370811-15-002-3"
STATS_GRID = "370811-16-002-4"
REVIEW_GRID = "370811-11-002-4"
VOID_GRID = "370811-09-002-3"

pytestmark = pytest.mark.browser


# --- the system, through the gateway ----------------------------------------------------------


def _grids() -> dict[str, Any]:
    text = (resources.files("dispatch.demo_data") / DISTRICT / "grids.geojson").read_text(
        encoding="utf-8"
    )
    document: dict[str, Any] = json.loads(text)
    return document


def point_in(grid_id: str) -> tuple[float, float]:
    """A point well inside the demo grid ``grid_id`` (lat, lon)."""
    feature = next(f for f in _grids()["features"] if f["properties"]["grid_id"] == grid_id)
    return point_inside(feature["geometry"])


def grid_name(grid_id: str) -> str:
    feature = next(f for f in _grids()["features"] if f["properties"]["grid_id"] == grid_id)
    name: str = feature["properties"]["name"]
    return name


def file(name: str, mime_type: str, content: bytes) -> FilePayload:
    return {"name": name, "mimeType": mime_type, "buffer": content}


def png(color: tuple[int, int, int] = (40, 140, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 72), color).save(buffer, "PNG")
    return buffer.getvalue()


FileOrder = Callable[..., dict[str, Any]]


@pytest.fixture
def file_order(api_as: ApiAs) -> FileOrder:
    """Submit a report with a photo as a new rider in ``grid`` and answer the work order it
    became, once dispatch has filed it (and dispatched it, unless it waits for review)."""

    def submit(grid: str, category: str, text: str, *, state: str = "dispatched") -> dict[str, Any]:
        rider = f"rider-console-{uuid.uuid4().hex[:10]}"
        as_rider = api_as(rider, role="rider", district=DISTRICT)
        photo_id = as_rider.upload_photo("problem.png", png((180, 90, 40)), "image/png")
        lat, lon = point_in(grid)
        report = as_rider.post(
            "/reporting/v1/reports",
            {
                "category": category,
                "lat": lat,
                "lon": lon,
                "text": text,
                "photo_ids": [photo_id],
            },
        )
        supervisor = api_as(SUPERVISOR)

        def filed() -> dict[str, Any] | None:
            page = supervisor.get(
                "/dispatch/v1/workorders", district=DISTRICT, grid=grid, limit=200
            )
            for item in page["items"]:
                if item["report_id"] == report["id"] and item["state"] == state:
                    found: dict[str, Any] = item
                    return found
            return None

        order: dict[str, Any] = eventually(filed, what=f"report {report['id']} {state} in {grid}")
        return order

    return submit


# --- the console ------------------------------------------------------------------------------


def sign_in(page: Page, subject: str) -> None:
    """The development sign-in page: find the person and pick them."""
    page.goto("/console/")
    page.locator("input[data-test=person-search]").fill(subject)
    page.locator(f'[data-test=person][data-subject="{subject}"]').click()
    expect(page.locator("[data-test=who]")).to_be_visible()


def settle(page: Page) -> None:
    """Until nothing is loading and the last toast has gone (for a clean picture)."""
    expect(page.locator(".el-loading-mask")).to_have_count(0)
    expect(page.locator(".el-message")).to_have_count(0, timeout=10_000)


@pytest.fixture
def look_at(screenshot: Screenshot, serious_a11y: A11yScan) -> Look:
    """Photograph the screen once it has settled, as ``name``, and fail on any serious or
    critical axe violation on it."""

    def look(page: Page, name: str) -> None:
        settle(page)
        screenshot(page, name)
        assert_no_serious_violations(page, serious_a11y)

    return look


def order_row(page: Page, order_id: str) -> Locator:
    return page.locator(f'[data-test=order-row][data-order-id="{order_id}"]')


def fits_the_width(page: Page) -> None:
    width = page.viewport_size["width"] if page.viewport_size else 0
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll}px wide in a {width}px viewport"


# --- tests ------------------------------------------------------------------------------------


def test_sign_in_lists_the_roster_and_refuses_a_riders_token(
    phone: Page, sign_in_token: SignIn, look_at: Look
) -> None:
    phone.goto("/console/")
    workers = phone.locator('[data-test=person][data-role="grid_worker"]')
    expect(workers.first).to_be_visible()
    expect(phone.locator('[data-test=person][data-subject="admin-370811"]')).to_be_visible()
    expect(phone.locator(f'[data-test=person][data-subject="{SUPERVISOR}"]')).to_be_visible()
    fits_the_width(phone)
    look_at(phone, "console-sign-in-phone")

    rider = sign_in_token("rider-console-refused", role="rider", district=DISTRICT)
    phone.goto(f"/console/#token={rider}")
    expect(phone.locator("[data-test=sign-in-notice]")).to_contain_text("骑手请使用随手拍")
    expect(phone.locator("[data-test=who]")).to_have_count(0)
    assert phone.evaluate("() => localStorage.getItem('gridloop.console.session')") is None


def test_grid_worker_on_a_phone_claims_and_resolves_with_a_photo(
    phone: Page,
    file_order: FileOrder,
    api_as: ApiAs,
    look_at: Look,
) -> None:
    order = file_order(WORKER_GRID, "0101", "3号楼2单元楼道堆放杂物")
    assert order["assignee"]["kind"] == "grid_worker"
    worker = order["assignee"]["id"]

    sign_in(phone, worker)
    expect(phone.locator("[data-test=who-role]")).to_have_text("网格员")
    row = order_row(phone, order["id"])
    expect(row).to_be_visible()
    expect(row.locator("[data-test=time-left]")).to_have_text(re.compile(r"^(剩余|已超时) \d"))
    fits_the_width(phone)
    look_at(phone, "console-my-orders-phone")

    row.locator("[data-test=claim]").click()
    expect(row).to_have_attribute("data-state", "claimed")

    row.locator("[data-test=resolve]").click()
    phone.locator("textarea[data-test=resolve-text]").fill("已清理楼道杂物，恢复通行")
    phone.locator("[data-test=resolve-photos]").set_input_files(
        files=[file("after.png", "image/png", png())]
    )
    expect(phone.locator("[data-test=resolve-files] li")).to_have_count(1)
    look_at(phone, "console-resolve-phone")
    phone.locator("[data-test=resolve-confirm]").click()
    expect(row).to_have_count(0)  # no longer to do: it waits for verification

    resolved = api_as(SUPERVISOR).work_order(order["id"])
    assert resolved["state"] == "resolved"
    step = resolved["history"][-1]
    assert step["action"] == "resolve"
    assert step["reason"] == "已清理楼道杂物，恢复通行"
    assert len(step["evidence"]) == 1

    # The order's own page: its history, with the evidence photo fetched with the token.
    phone.locator("[data-test=tabs]").get_by_text("待核查").click()
    order_row(phone, order["id"]).locator("[data-test=order-link]").click()
    expect(phone.locator("[data-test=history-step][data-action=resolve]")).to_be_visible()
    evidence = phone.locator("[data-test=evidence-photos] img[data-test=photo]")
    expect(evidence).to_have_count(1)
    expect(evidence).to_have_attribute("src", re.compile(r"^blob:"))
    fits_the_width(phone)
    look_at(phone, "console-order-phone")


def test_supervisor_fails_then_passes_the_fix(
    desk: Page,
    file_order: FileOrder,
    api_as: ApiAs,
    look_at: Look,
) -> None:
    order = file_order(VERIFY_GRID, "0103", "小区门口乱堆建材")
    worker = api_as(order["assignee"]["id"])
    worker.post(f"/dispatch/v1/workorders/{order['id']}/claim")
    worker.post(f"/dispatch/v1/workorders/{order['id']}/resolve", {"note": "已清运"})

    sign_in(desk, SUPERVISOR)
    expect(desk.locator("[data-test=who-role]")).to_have_text("监督员")
    desk.goto(f"/console/#/orders?grid={VERIFY_GRID}")
    row = order_row(desk, order["id"])
    expect(row).to_have_attribute("data-state", "resolved")
    look_at(desk, "console-orders-desk")

    row.locator("[data-test=verify-fail]").click()
    desk.locator("[data-test=fail-confirm]").click()  # no reason yet: refused in words
    expect(desk.locator("[data-test=dialog-error]")).to_contain_text("请填写不通过的原因")
    desk.locator("textarea[data-test=fail-text]").fill("照片看不出已清运，请补拍")
    expect(desk.locator("[data-test=dialog-error]")).to_have_count(0)
    look_at(desk, "console-verify-fail-desk")
    desk.locator("[data-test=fail-confirm]").click()
    expect(row).to_have_attribute("data-state", "rework")
    failed = api_as(SUPERVISOR).work_order(order["id"])
    assert failed["state"] == "rework"
    assert failed["history"][-1]["reason"] == "照片看不出已清运，请补拍"

    worker.post(f"/dispatch/v1/workorders/{order['id']}/claim")
    worker.post(f"/dispatch/v1/workorders/{order['id']}/resolve", {"note": "已补拍清运后照片"})
    desk.locator("[data-test=search]").click()
    expect(row).to_have_attribute("data-state", "resolved")
    row.locator("[data-test=verify-pass]").click()
    desk.locator("[data-test=pass-confirm]").click()
    expect(row).to_have_attribute("data-state", "closed")
    assert api_as(SUPERVISOR).work_order(order["id"])["state"] == "closed"

    # The order's page shows the reporter's photo (fetched with the supervisor's token).
    row.locator("[data-test=order-link]").click()
    expect(desk.locator("[data-test=reporter-photos] img[data-test=photo]")).to_have_count(1)
    expect(desk.locator("[data-test=history-step][data-action=verify]")).to_have_count(2)
    look_at(desk, "console-order-desk")


def test_supervisor_accepts_one_report_held_for_review_and_voids_another(
    desk: Page,
    file_order: FileOrder,
    api_as: ApiAs,
    look_at: Look,
) -> None:
    dispute = file_order(REVIEW_GRID, "0701", "楼上楼下因漏水起纠纷", state="pending_review")
    hoax = file_order(VOID_GRID, "0702", "物业不作为（测试）", state="pending_review")
    sign_in(desk, SUPERVISOR)
    desk.locator("[data-test=nav-review]").click()
    row = order_row(desk, dispute["id"])
    expect(row).to_have_attribute("data-state", "pending_review")
    expect(order_row(desk, hoax["id"])).to_have_attribute("data-state", "pending_review")
    look_at(desk, "console-review-desk")

    row.locator("[data-test=accept]").click()
    desk.locator("textarea[data-test=accept-text]").fill("属实，请网格员上门调解")
    desk.locator("[data-test=accept-confirm]").click()
    expect(row).to_have_count(0)
    accepted = eventually(
        lambda: (o := api_as(SUPERVISOR).work_order(dispute["id"]))["state"] == "dispatched" and o,
        what="the accepted order dispatched",
    )
    assert any(step["action"] == "accept" for step in accepted["history"])

    order_row(desk, hoax["id"]).locator("[data-test=void]").click()
    desk.locator("[data-test=void-code]").select_option("虚假上报")
    desk.locator("textarea[data-test=void-text]").fill("现场核实无此问题")
    desk.locator("[data-test=void-confirm]").click()
    expect(order_row(desk, hoax["id"])).to_have_count(0)
    voided = api_as(SUPERVISOR).work_order(hoax["id"])
    assert voided["state"] == "voided"
    assert voided["history"][-1]["reason"] == "虚假上报：现场核实无此问题"

    desk.locator("[data-test=nav-escalations]").click()
    expect(desk.locator("[data-test=orders-table]")).to_be_visible()
    expect(desk.locator("[data-test=load-error]")).to_have_count(0)
    look_at(desk, "console-escalations-desk")


def test_map_colours_the_grid_with_an_open_order(
    desk: Page,
    file_order: FileOrder,
    look_at: Look,
) -> None:
    file_order(MAP_GRID, "0301", "路边垃圾堆积")
    sign_in(desk, SUPERVISOR)
    desk.locator("[data-test=nav-map]").click()
    polygon = desk.locator(f'[data-test=grid-polygon][data-grid-id="{MAP_GRID}"]')
    expect(polygon).to_have_attribute("data-open", re.compile(r"^[1-9]\d*$"))
    expect(polygon).not_to_have_attribute("data-class", "clear")
    polygons = desk.locator("[data-test=grid-polygon]")
    features = len(_grids()["features"])
    expect(polygons).to_have_count(features)

    legend = desk.locator("[data-test=map-legend] li")
    counts = [int(item.get_attribute("data-count") or "-1") for item in legend.all()]
    assert sum(counts) == features
    assert int(desk.locator("[data-test=legend-open]").get_attribute("data-count") or 0) >= 1
    expect(desk.locator("[data-test=map-error]")).to_have_count(0)

    polygon.hover(force=True)
    tooltip = desk.locator(".leaflet-tooltip")
    expect(tooltip).to_contain_text(grid_name(MAP_GRID))
    expect(tooltip).to_contain_text(re.compile(r"未结 [1-9]\d* 件"))
    look_at(desk, "console-map-desk")


def test_stats_show_the_figures_and_download_as_csv(
    desk: Page,
    file_order: FileOrder,
    api_as: ApiAs,
    look_at: Look,
) -> None:
    file_order(STATS_GRID, "0402", "非机动车堵住盲道")
    sign_in(desk, SUPERVISOR)
    desk.locator("[data-test=nav-stats]").click()
    table = desk.locator("[data-test=stats-table]")
    expect(table).to_be_visible()
    figures = api_as(SUPERVISOR).get("/dispatch/v1/stats", district=DISTRICT)
    total = figures["districts"][0]
    assert total["reports"] >= 1
    reports_row = table.locator("tr", has_text="上报数")
    expect(reports_row).to_contain_text(str(total["reports"]))
    expect(table.locator("tr", has_text="当前未结")).to_contain_text(str(total["open_now"]))

    chart = desk.locator("canvas[data-test=stats-chart]")
    expect(chart).to_be_visible()
    painted = chart.evaluate(
        """canvas => {
            const context = canvas.getContext('2d')
            const data = context.getImageData(0, 0, canvas.width, canvas.height).data
            let n = 0
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++
            return n
        }"""
    )
    assert painted > 1000, "the chart drew nothing"
    look_at(desk, "console-stats-desk")

    # A street chosen, then cleared with its ×: the whole district again, not an error.
    street = desk.locator("[data-test=stats-street]")
    street.click()
    desk.keyboard.type("观音阁街道")
    desk.keyboard.press("Enter")
    desk.locator("[data-test=stats-search]").click()
    expect(desk.locator("[data-test=stats-period]")).to_be_visible()
    street.hover()
    street.locator(".el-select__clear").click()
    desk.locator("[data-test=stats-search]").click()
    expect(table.locator("tr", has_text="上报数")).to_contain_text(str(total["reports"]))
    expect(desk.locator("[data-test=stats-error]")).to_have_count(0)

    with desk.expect_download() as download:
        desk.locator("[data-test=stats-csv]").click()
    saved = download.value
    assert saved.suggested_filename.endswith(".csv")
    text = saved.path().read_text(encoding="utf-8")
    header, *rows = text.strip().splitlines()
    assert header.startswith("district,name,from,to,reports,filed")
    row = next(line for line in rows if line.startswith(f"{DISTRICT},"))
    assert row.split(",")[header.split(",").index("reports")] == str(total["reports"])


def test_admin_sees_a_refused_files_problems_row_by_row(
    desk: Page,
    api_as: ApiAs,
    look_at: Look,
) -> None:
    demo = resources.files("dispatch.demo_data") / DISTRICT
    roster = json.loads((demo / "roster.json").read_text(encoding="utf-8"))
    roster["grid_workers"][0]["grid_ids"] = ["370811-99-999-9"]
    del roster["supervisors"][0]["level"]
    grids = _grids()
    grids["features"][3]["properties"]["street"] = ""
    before = {d["code"]: d for d in api_as(ADMIN).get("/dispatch/v1/districts")}[DISTRICT]

    sign_in(desk, ADMIN)
    expect(desk.locator("[data-test=who-role]")).to_have_text("管理员")

    desk.locator("[data-test=upload-roster]").set_input_files(
        files=[file("roster.json", "application/json", json.dumps(roster).encode())]
    )
    desk.locator("[data-test=submit-roster]").click()
    rows = desk.locator("[data-test=admin-errors][data-kind=roster] tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("网格员 第 1 行")
    expect(rows.nth(0)).to_contain_text("unknown grid 370811-99-999-9")
    expect(rows.nth(1)).to_contain_text("监督员 第 1 行")
    expect(rows.nth(1)).to_contain_text("level")

    desk.locator("[data-test=upload-grids]").set_input_files(
        files=[file("grids.geojson", "application/geo+json", json.dumps(grids).encode())]
    )
    desk.locator("[data-test=submit-grids]").click()
    grid_rows = desk.locator("[data-test=admin-errors][data-kind=grids] tbody tr")
    expect(grid_rows).to_have_count(1)
    expect(grid_rows.first).to_contain_text("要素 第 4 个")
    expect(grid_rows.first).to_contain_text("street")

    desk.locator("[data-test=upload-calendar]").set_input_files(
        files=[file("calendar.json", "application/json", b'{"periods": [')]
    )
    expect(desk.locator("[data-test=admin-calendar] [data-test=admin-file-error]")).to_contain_text(
        "不是有效的 JSON"
    )
    expect(desk.locator("[data-test=submit-calendar]")).to_be_disabled()
    look_at(desk, "console-admin-desk")

    after = {d["code"]: d for d in api_as(ADMIN).get("/dispatch/v1/districts")}[DISTRICT]
    assert after == before  # a refused file changes nothing
