"""The rules of photos, on their own: who may see one, which photo ids a report may carry, how
old a report's capture time may be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reporting.domain.photos import (
    CaptureWindow,
    InvalidReportField,
    Photo,
    Referrer,
    Viewer,
    may_see,
    usable_photos,
)

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def photo(photo_id: str = "p-1", uploader: str = "rider-1", district: str = "370812") -> Photo:
    return Photo(
        id=photo_id,
        uploader_id=uploader,
        district=district,
        content_hash="a" * 64,
        size=100,
        media_type="image/jpeg",
        width=4,
        height=3,
        thumbnail_hash="b" * 64,
        thumbnail_size=10,
        thumbnail_media_type="image/webp",
        created_at=NOW,
    )


@pytest.mark.parametrize(
    ("viewer", "referrers", "allowed"),
    [
        (Viewer("rider-1", False, ("370812",)), [], True),
        (Viewer("rider-2", False, ("370812",)), [], False),
        (Viewer("rider-2", False, ("370812",)), [Referrer("rider-2", "370812")], True),
        (Viewer("sup", True, ("370812",)), [], True),
        (Viewer("sup", True, ("370811",)), [], False),
        (Viewer("sup", True, ("370811",)), [Referrer("rider-1", "370811")], True),
        (Viewer("worker", False, ("370812",)), [Referrer("rider-1", "370812")], False),
        # The grid worker of the report's grid goes out to it: they see its photos.
        (
            Viewer("worker", False, ("370812",), grids=("g-1",)),
            [Referrer("rider-1", "370812", "g-1")],
            True,
        ),
        (
            Viewer("worker", False, ("370812",), grids=("g-2",)),
            [Referrer("rider-1", "370812", "g-1")],
            False,
        ),
        (
            Viewer("worker", False, ("370811",), grids=("g-1",)),
            [Referrer("rider-1", "370812", "g-1")],
            False,
        ),
        (Viewer("dept", False, ("370812",), department=True), [Referrer("r", "370812")], True),
        (Viewer("dept", False, ("370811",), department=True), [Referrer("r", "370812")], False),
    ],
)
def test_who_may_see_a_photo(viewer: Viewer, referrers: list[Referrer], allowed: bool) -> None:
    assert may_see(photo(), viewer, referrers) is allowed


def test_a_report_carries_only_its_reporters_photos_each_once_at_most_three() -> None:
    mine = {f"p-{i}": photo(f"p-{i}") for i in range(4)}
    theirs = {"q": photo("q", uploader="rider-2")}
    assert [r.id for r in usable_photos(["p-1", "p-0"], mine, "rider-1")] == ["p-1", "p-0"]
    for ids, found in (
        (["q"], theirs),
        (["missing"], mine),
        (["p-0", "p-0"], mine),
        (["p-0", "p-1", "p-2", "p-3"], mine),
    ):
        with pytest.raises(InvalidReportField) as refused:
            usable_photos(ids, found, "rider-1")
        assert refused.value.field == "photo_ids"


def test_a_capture_time_within_the_window_is_accepted() -> None:
    window = CaptureWindow(max_age=timedelta(hours=72), clock_skew=timedelta(minutes=5))
    for captured in (None, NOW, NOW - timedelta(hours=72), NOW + timedelta(minutes=5)):
        window.check(captured, NOW)
    for captured in (NOW - timedelta(hours=72, seconds=1), NOW + timedelta(minutes=5, seconds=1)):
        with pytest.raises(InvalidReportField) as refused:
            window.check(captured, NOW)
        assert refused.value.field == "captured_at"
