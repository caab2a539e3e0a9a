"""Cursors: what a list hands out it reads back; anything else is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from common.paging import MAX_CURSOR_LENGTH, CursorCodec, InvalidCursor, SortKey

SECRET = "a-secret-that-is-long-enough-for-tests-0123"
KEY = SortKey(datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC), "rep-7")


def test_a_cursor_reads_back_as_the_key_it_was_made_of() -> None:
    codec = CursorCodec(SECRET, "reports")
    cursor = codec.encode(KEY)
    assert cursor.isascii() and "=" not in cursor and "/" not in cursor and "+" not in cursor
    assert codec.decode(cursor) == KEY


def test_the_instant_survives_any_offset() -> None:
    codec = CursorCodec(SECRET, "reports")
    shanghai = KEY.at.astimezone(timezone(timedelta(hours=8)))
    assert codec.decode(codec.encode(SortKey(shanghai, KEY.id))).at == KEY.at


@pytest.mark.parametrize(
    "other",
    [CursorCodec(SECRET, "inbox"), CursorCodec("another-secret-long-enough-0123456789", "reports")],
    ids=["another list", "another secret"],
)
def test_a_cursor_is_refused_by_another_list_or_secret(other: CursorCodec) -> None:
    with pytest.raises(InvalidCursor):
        other.decode(CursorCodec(SECRET, "reports").encode(KEY))


@pytest.mark.parametrize("cursor", ["", "not base64!", "AAAA", "A" * (MAX_CURSOR_LENGTH + 1)])
def test_what_no_list_handed_out_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        CursorCodec(SECRET, "reports").decode(cursor)


def test_a_timestamp_without_a_timezone_makes_no_cursor() -> None:
    with pytest.raises(ValueError, match="timezone"):
        CursorCodec(SECRET, "reports").encode(SortKey(datetime(2026, 3, 1), "x"))
