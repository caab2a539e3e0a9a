"""The caller's own inbox: list (all or unread, paged), mark one or all read, the unread count;
through the real app and consumer on a real SQLite database."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from common.contracts.envelope import CloudEvent
from gridloop_tools.testing.builders import as_event, work_order_filed
from gridloop_tools.testing.service_fixtures import Auth, Deliver, assert_problem


def filed(report_id: str, reporter_id: str = "rider-1") -> CloudEvent:
    return as_event(work_order_filed(report_id=report_id, reporter_id=reporter_id))


async def mine(
    client: httpx.AsyncClient, auth: Auth, who: str = "rider-1", **params: Any
) -> dict[str, Any]:
    response = await client.get("/v1/inbox", params=params, headers=auth(subject=who))
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def unread(client: httpx.AsyncClient, auth: Auth, who: str = "rider-1") -> int:
    response = await client.get("/v1/notifications/unread-count", headers=auth(subject=who))
    assert response.status_code == 200, response.text
    assert response.json()["recipient_id"] == who
    count: int = response.json()["unread"]
    return count


async def test_my_inbox_lists_only_my_messages_newest_first(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    await deliver(filed("rep-1"))
    await deliver(filed("rep-2", reporter_id="rider-2"))
    await deliver(filed("rep-3"))
    page = await mine(client, auth)
    assert page["recipient_id"] == "rider-1"
    assert [i["report_id"] for i in page["items"]] == ["rep-3", "rep-1"]
    assert all(i["read_at"] is None for i in page["items"])
    assert [i["report_id"] for i in (await mine(client, auth, "rider-2"))["items"]] == ["rep-2"]


async def test_my_inbox_pages_with_a_cursor(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    for n in range(3):
        await deliver(filed(f"rep-{n}"))
    first = await mine(client, auth, limit=2)
    assert [i["report_id"] for i in first["items"]] == ["rep-2", "rep-1"]
    second = await mine(client, auth, limit=2, cursor=first["next_cursor"])
    assert ([i["report_id"] for i in second["items"]], second["next_cursor"]) == (["rep-0"], None)


async def test_marking_read_filters_the_unread_and_counts_them(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    for n in range(3):
        await deliver(filed(f"rep-{n}"))
    assert await unread(client, auth) == 3
    oldest = (await mine(client, auth))["items"][-1]

    response = await client.post(f"/v1/notifications/{oldest['id']}/read", headers=auth())
    assert response.status_code == 200, response.text
    first_read = response.json()["read_at"]
    assert first_read is not None
    again = await client.post(f"/v1/notifications/{oldest['id']}/read", headers=auth())
    assert again.json()["read_at"] == first_read  # read once, at the first time

    assert await unread(client, auth) == 2
    unread_page = await mine(client, auth, unread="true")
    assert [i["report_id"] for i in unread_page["items"]] == ["rep-2", "rep-1"]
    assert len((await mine(client, auth))["items"]) == 3

    marked = await client.post("/v1/notifications/read-all", headers=auth())
    assert marked.json() == {"recipient_id": "rider-1", "marked": 2}
    assert await unread(client, auth) == 0
    assert (await mine(client, auth, unread="true"))["items"] == []
    again_all = await client.post("/v1/notifications/read-all", headers=auth())
    assert again_all.json()["marked"] == 0


async def test_nobody_marks_anothers_message_read(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    await deliver(filed("rep-1", reporter_id="rider-1"))
    [message] = (await mine(client, auth))["items"]
    response = await client.post(
        f"/v1/notifications/{message['id']}/read", headers=auth(subject="rider-2")
    )
    assert_problem(response, 404, "no message")
    assert await unread(client, auth, "rider-1") == 1
    staff = await client.post(
        f"/v1/notifications/{message['id']}/read", headers=auth(role="supervisor", subject="sup-1")
    )
    assert staff.status_code == 404  # even staff mark only their own
    await client.post("/v1/notifications/read-all", headers=auth(subject="rider-2"))
    assert await unread(client, auth, "rider-1") == 1


async def test_an_unknown_message_is_404(client: httpx.AsyncClient, auth: Auth) -> None:
    assert_problem(
        await client.post("/v1/notifications/nope/read", headers=auth()), 404, "no message"
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/inbox"),
        ("GET", "/v1/notifications/unread-count"),
        ("POST", "/v1/notifications/read-all"),
        ("POST", "/v1/notifications/n-1/read"),
    ],
)
async def test_the_inbox_needs_a_token(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path)
    assert_problem(response, 401, "bearer")


async def test_a_bad_unread_filter_is_a_problem(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.get("/v1/inbox", params={"unread": "maybe"}, headers=auth())
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
