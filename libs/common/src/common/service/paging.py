"""Cursor paging over HTTP: the ``limit`` and ``cursor`` query parameters of a list and the
page it answers with (``items``, ``limit``, ``next_cursor``). See :mod:`common.paging`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Query, Request
from pydantic import BaseModel, Field

from common.paging import MAX_CURSOR_LENGTH, CursorCodec, InvalidCursor, SortKey
from common.problems import Problem

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

ItemT = TypeVar("ItemT")
ViewT = TypeVar("ViewT", bound=BaseModel)


@dataclass(frozen=True)
class PageRequest:
    """What a list request asks for: ``limit`` items after the ``after`` key (None: the
    newest)."""

    limit: int
    after: SortKey | None
    codec: CursorCodec

    @property
    def fetch(self) -> int:
        """How many rows to read: one more than the page shows tells whether another
        follows, so the last page says so (``next_cursor`` null) instead of a trailing empty
        page."""
        return self.limit + 1

    def split(
        self, fetched: Sequence[ItemT], key: Callable[[ItemT], SortKey]
    ) -> tuple[list[ItemT], str | None]:
        """The items of this page and the cursor of the next one (None at the end)."""
        shown = list(fetched[: self.limit])
        if len(fetched) <= self.limit or not shown:
            return shown, None
        return shown, self.codec.encode(key(shown[-1]))


class CursorPage(BaseModel, Generic[ViewT]):
    """One page of a newest-first list."""

    items: list[ViewT]
    limit: int = Field(description="the page size asked for")
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )

    @classmethod
    def of(
        cls,
        request: PageRequest,
        fetched: Sequence[ItemT],
        *,
        key: Callable[[ItemT], SortKey],
        view: Callable[[ItemT], ViewT],
        **fields: Any,
    ) -> Self:
        """The page ``request`` asked for, from the rows read with ``request.fetch``: each
        shown through ``view``; ``fields`` are the page's own other fields."""
        shown, next_cursor = request.split(fetched, key)
        return cls(
            items=[view(item) for item in shown],
            limit=request.limit,
            next_cursor=next_cursor,
            **fields,
        )


def invalid_cursor(reason: str) -> Problem:
    message = f"invalid cursor ({reason}); pass a next_cursor from this list, or none to start"
    return Problem(
        422,
        "Invalid request",
        f"query.cursor: {message}",
        extra={"errors": [{"field": "query.cursor", "message": message}]},
    )


def page_request(list_name: str) -> Callable[..., Awaitable[PageRequest]]:
    """A FastAPI dependency reading ``limit`` and ``cursor`` for the list ``list_name``
    (cursors are signed per list: one list's cursor is refused by another)."""

    async def dependency(
        request: Request,
        limit: Annotated[
            int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page")
        ] = DEFAULT_PAGE_SIZE,
        cursor: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=MAX_CURSOR_LENGTH,
                description="the `next_cursor` of the previous page; omit for the newest",
            ),
        ] = None,
    ) -> PageRequest:
        codec = CursorCodec(request.app.state.jwt_secret, list_name)
        try:
            after = codec.decode(cursor) if cursor is not None else None
        except InvalidCursor as error:
            raise invalid_cursor(str(error)) from error
        return PageRequest(limit=limit, after=after, codec=codec)

    return dependency


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "CursorPage",
    "PageRequest",
    "page_request",
]
