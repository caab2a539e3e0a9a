"""Cursor paging, as tests written once for every service that serves a paged list: bounds
and bad cursors are 422 problems naming the parameter, and walking every page returns every
item exactly once, newest first, even when items share a timestamp or arrive mid-walk.

A service runs it by adding the mixin to its contract test class and saying where its list is
and how to store items in it::

    class TestLedgerServiceContract(ServiceContractSuite, PagedListSuite):
        paged_path = "/v1/accounts/rider-1/transfers"

        async def add_list_items(self, app, owner, keys): ...
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI

from common.paging import CursorCodec, SortKey
from gridloop_tools.testing.service_fixtures import Auth, assert_problem
from gridloop_tools.testing.shared_suite import SharedSuite

OWNER = "rider-1"
BAD_PAGING_QUERIES = (
    "limit=0",
    "limit=201",
    "limit=ten",
    "cursor=",
    "cursor=not*base64",
    "cursor=bm90LWEtY3Vyc29y",  # base64 of "not-a-cursor"
    f"cursor={'A' * 513}",
)
"""Out of range, not a number, or not a cursor: each must be refused naming the parameter."""
_T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def shared_timestamp_keys() -> list[SortKey]:
    """Seven items over three instants, ids out of insertion order: a page boundary falls
    inside a group of equal timestamps, where only the id can tell the items apart."""
    ids_by_instant = {0: ("m-4", "m-1", "m-6"), 1: ("m-2", "m-7"), 2: ("m-5", "m-3")}
    return [
        SortKey(_T0 + timedelta(minutes=minutes), item_id)
        for minutes, ids in ids_by_instant.items()
        for item_id in ids
    ]


def edit_cursor(cursor: str, part: str) -> str:
    """``cursor`` with one bit changed in its ``signature`` or in its ``sort key`` (the last
    character of the item id: a well-formed key that this list never handed out)."""
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[0 if part == "signature" else len(raw) - 3] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode("ascii").rstrip("=")


def newest_first_ids(keys: Sequence[SortKey]) -> list[str]:
    return [key.id for key in sorted(keys, reverse=True)]


class PagedListSuite(SharedSuite):
    """The paging tests; a service's contract class supplies ``paged_path`` and
    :meth:`add_list_items`."""

    paged_path: ClassVar[str]
    """A GET of a cursor-paged list of ``rider-1``'s items that a rider-1 token may read."""
    paged_role: ClassVar[str] = "rider"
    """The role of rider-1's token (a list of staff items is read by staff: a department's
    work orders by a ``department`` token whose subject is the department)."""

    _REQUIRED_VALUES: ClassVar[tuple[str, ...]] = ("paged_path",)
    _REQUIRED_HOOKS: ClassVar[tuple[str, ...]] = ("add_list_items",)

    async def add_list_items(self, app: FastAPI, owner: str, keys: Sequence[SortKey]) -> None:
        """Store one item of ``owner``'s list per key (its timestamp and id), through the
        service's own repositories."""
        raise NotImplementedError

    # --- helpers ------------------------------------------------------------------------------

    def owner(self, auth: Auth) -> dict[str, str]:
        """The Authorization header of the list's owner."""
        return auth(role=self.paged_role, subject=OWNER)

    async def read_page(
        self, client: httpx.AsyncClient, auth: Auth, *, limit: int, cursor: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get(self.paged_path, params=params, headers=self.owner(auth))
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        assert page["limit"] == limit
        return page

    async def walk(self, client: httpx.AsyncClient, auth: Auth, *, limit: int) -> list[str]:
        """The ids of every page, in order, following ``next_cursor`` to the end."""
        ids: list[str] = []
        cursor: str | None = None
        for _ in range(100):
            page = await self.read_page(client, auth, limit=limit, cursor=cursor)
            assert len(page["items"]) <= limit
            ids += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return ids
            assert page["items"], "a page that points to another must not be empty"
        raise AssertionError("the list did not end within 100 pages")

    # --- bounds -------------------------------------------------------------------------------

    @pytest.mark.parametrize("query", BAD_PAGING_QUERIES)
    async def test_paging_out_of_range_is_422(
        self, client: httpx.AsyncClient, auth: Auth, query: str
    ) -> None:
        response = await client.get(f"{self.paged_path}?{query}", headers=self.owner(auth))
        body = assert_problem(response, 422, query.split("=")[0])
        assert any(query.split("=")[0] in error["field"] for error in body["errors"]), body

    @pytest.mark.parametrize("part", ["signature", "sort key"])
    async def test_an_edited_cursor_is_422(
        self, client: httpx.AsyncClient, auth: Auth, app: FastAPI, part: str
    ) -> None:
        await self.add_list_items(app, OWNER, shared_timestamp_keys())
        cursor = (await self.read_page(client, auth, limit=2))["next_cursor"]
        response = await client.get(
            self.paged_path,
            params={"cursor": edit_cursor(cursor, part)},
            headers=self.owner(auth),
        )
        assert_problem(response, 422, "cursor")

    async def test_a_cursor_of_another_list_is_422(
        self, client: httpx.AsyncClient, auth: Auth, app: FastAPI
    ) -> None:
        foreign = CursorCodec(app.state.jwt_secret, "another-list").encode(SortKey(_T0, "x"))
        response = await client.get(
            self.paged_path, params={"cursor": foreign}, headers=self.owner(auth)
        )
        assert_problem(response, 422, "cursor")

    async def test_an_offset_past_every_integer_is_no_server_error(
        self, client: httpx.AsyncClient, auth: Auth
    ) -> None:
        """Offset paging is gone: the number no longer reaches the database."""
        response = await client.get(
            f"{self.paged_path}?offset=9223372036854775808", headers=self.owner(auth)
        )
        assert response.status_code == 200, response.text

    # --- walking the pages --------------------------------------------------------------------

    async def test_an_empty_list_is_one_last_page(
        self, client: httpx.AsyncClient, auth: Auth
    ) -> None:
        page = await self.read_page(client, auth, limit=50)
        assert (page["items"], page["next_cursor"]) == ([], None)

    @pytest.mark.parametrize("limit", [1, 2, 3, 7, 200])
    async def test_every_page_together_holds_each_item_once_newest_first(
        self, client: httpx.AsyncClient, auth: Auth, app: FastAPI, limit: int
    ) -> None:
        keys = shared_timestamp_keys()
        await self.add_list_items(app, OWNER, keys)
        await self.add_list_items(app, "rider-2", [SortKey(_T0, "m-99")])
        assert await self.walk(client, auth, limit=limit) == newest_first_ids(keys)

    async def test_a_full_last_page_says_it_is_the_last(
        self, client: httpx.AsyncClient, auth: Auth, app: FastAPI
    ) -> None:
        await self.add_list_items(app, OWNER, shared_timestamp_keys()[:4])
        first = await self.read_page(client, auth, limit=2)
        last = await self.read_page(client, auth, limit=2, cursor=first["next_cursor"])
        assert len(last["items"]) == 2
        assert last["next_cursor"] is None

    async def test_items_added_while_walking_do_not_shift_the_pages(
        self, client: httpx.AsyncClient, auth: Auth, app: FastAPI
    ) -> None:
        keys = shared_timestamp_keys()
        await self.add_list_items(app, OWNER, keys)
        first = await self.read_page(client, auth, limit=3)
        newer = [SortKey(_T0 + timedelta(hours=1), f"n-{i}") for i in range(3)]
        await self.add_list_items(app, OWNER, newer)
        ids = [item["id"] for item in first["items"]]
        cursor = first["next_cursor"]
        while cursor is not None:
            page = await self.read_page(client, auth, limit=3, cursor=cursor)
            ids += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
        assert ids == newest_first_ids(keys)


__all__ = ["BAD_PAGING_QUERIES", "PagedListSuite", "newest_first_ids", "shared_timestamp_keys"]
