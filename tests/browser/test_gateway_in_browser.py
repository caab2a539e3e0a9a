"""The browser reaches both faces and the API through the gateway's one origin."""

from __future__ import annotations

from playwright.sync_api import Page

from .conftest import SignIn


def test_both_faces_load_and_the_api_answers_on_one_origin(
    phone: Page, desk: Page, sign_in_token: SignIn
) -> None:
    phone.goto("/")
    assert phone.title().startswith("随手拍")
    desk.goto("/console/")
    assert "网格工作台" in desk.title()
    token = sign_in_token("rider-370811-01", role="rider", district="370811")
    answer = phone.evaluate(
        """async (token) => {
            const r = await fetch('/api/reporting/v1/reports?mine=true',
                                  {headers: {Authorization: `Bearer ${token}`}})
            return {status: r.status, body: await r.json()}
        }""",
        token,
    )
    assert answer == {"status": 200, "body": {"items": [], "limit": 50, "next_cursor": None}}
