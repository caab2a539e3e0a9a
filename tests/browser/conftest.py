"""The web front end in a real browser (the system's Chromium, driven by Playwright) against
the whole system: the broker, the four services and the gateway serving the built front end,
started once for the session.

Fixtures: ``gateway_url``; ``phone`` and ``desk`` pages (a phone's and a desk's viewport,
zh-CN); ``sign_in_token`` and ``api_as`` for API calls a test makes as someone; ``screenshot``
(saved under ``data/screenshots/`` unless ``GRIDLOOP_SCREENSHOTS_DIR`` says otherwise; ``make
screenshots`` refreshes the ones in ``docs/screenshots/``); ``serious_a11y`` (an axe scan's
serious and critical violations). Helpers both faces' tests use are in ``helpers``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from gridloop_tools.embedded_broker import free_port
from gridloop_tools.stack import SERVICES, WEB_DIST, Stack
from gridloop_tools.testing.infrastructure import kafka_bootstrap_servers

from .helpers import A11yScan, Api

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1440, "height": 900}
JINING = {"latitude": 35.4150, "longitude": 116.5870, "accuracy": 12}
"""A fixed position for the phone's geolocation (overridden per test where it matters)."""

pytestmark = pytest.mark.browser


def _chromium() -> str:
    path = os.environ.get("GRIDLOOP_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail(
            "no Chromium for the browser tests: `make browser` installs Debian's chromium "
            "(or set GRIDLOOP_CHROMIUM to a Chromium binary)"
        )
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """The system's Chromium, headless, with nothing reaching out to the internet."""
    return {
        **browser_type_launch_args,
        "executable_path": _chromium(),
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def web_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail(f"the web front end is not built ({WEB_DIST}): run `make web`")
    data_dir = tmp_path_factory.mktemp("web-stack")
    with ExitStack() as resources, ThreadPoolExecutor(max_workers=1) as worker:
        # The broker too starts outside Playwright's event loop.
        bootstrap_servers = worker.submit(
            resources.enter_context, kafka_bootstrap_servers()
        ).result()
        stack = Stack(
            data_dir=data_dir,
            kafka_bootstrap_servers=bootstrap_servers,
            ports={name: free_port() for name in SERVICES},
            gateway_port=free_port(),
            web_dir=WEB_DIST,
        )
        try:
            # In a thread of its own: Playwright's sync API keeps an event loop running in
            # this one, and starting the stack runs asyncio code.
            worker.submit(stack.start, 120).result()
            yield stack
        finally:
            stack.stop()


@pytest.fixture(scope="session")
def gateway_url(web_stack: Stack) -> str:
    return web_stack.url("gateway")


@pytest.fixture(scope="session")
def base_url(gateway_url: str) -> str:
    """pytest-base-url's fixture: ``page.goto("/")`` opens the gateway."""
    return gateway_url


SignIn = Callable[..., str]


@pytest.fixture(scope="session")
def sign_in_token(gateway_url: str) -> SignIn:
    """A token from the development sign-in: ``sign_in_token("370811-w-001")`` for a roster
    member, ``sign_in_token("rider-x", role="rider", district="370811")`` for a rider."""

    def mint(subject: str, **extra: str) -> str:
        answer = httpx.post(
            f"{gateway_url}/api/dev/token", json={"subject": subject, **extra}, timeout=10
        )
        answer.raise_for_status()
        token: str = answer.json()["token"]
        return token

    return mint


ApiAs = Callable[..., Api]


@pytest.fixture(scope="session")
def api_as(gateway_url: str, sign_in_token: SignIn) -> ApiAs:
    """The gateway's API as someone, with ``sign_in_token``'s arguments: ``api_as(subject)``,
    ``api_as("rider-x", role="rider", district="370811")``."""

    def make(subject: str, **extra: str) -> Api:
        return Api(gateway_url, sign_in_token(subject, **extra))

    return make


def _page(browser: Browser, base_url: str, viewport: dict[str, int], **options: Any) -> Page:
    context = browser.new_context(
        base_url=base_url,
        viewport=viewport,  # type: ignore[arg-type]
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        **options,
    )
    context.set_default_timeout(15_000)
    return context.new_page()


@pytest.fixture
def phone(browser: Browser, base_url: str) -> Iterator[Page]:
    """A phone: touch, geolocation granted at a fixed position in 370811."""
    page = _page(
        browser,
        base_url,
        PHONE,
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        geolocation=JINING,
        permissions=["geolocation"],
    )
    yield page
    page.context.close()


@pytest.fixture
def desk(browser: Browser, base_url: str) -> Iterator[Page]:
    page = _page(browser, base_url, DESK)
    yield page
    page.context.close()


Screenshot = Callable[[Page, str], Path]


@pytest.fixture(scope="session")
def screenshot() -> Screenshot:
    folder = Path(os.environ.get("GRIDLOOP_SCREENSHOTS_DIR") or REPO / "data" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return take


@pytest.fixture(scope="session")
def serious_a11y() -> A11yScan:
    """The serious and critical violations axe finds on the page as it is now (WCAG 2 A/AA)."""
    if not AXE.is_file():
        pytest.fail(f"axe-core is not installed ({AXE}): run `make web`")
    source = AXE.read_text(encoding="utf-8")

    def scan(page: Page) -> list[dict[str, Any]]:
        page.add_script_tag(content=source)
        result: dict[str, Any] = page.evaluate(
            "async () => await axe.run(document, {runOnly: "
            "{type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
        )
        return [
            {
                "id": violation["id"],
                "impact": violation["impact"],
                "help": violation["help"],
                "targets": [node["target"] for node in violation["nodes"]][:5],
            }
            for violation in result["violations"]
            if violation["impact"] in {"serious", "critical"}
        ]

    return scan
