"""Photos of 随手拍 reports: what is accepted (JPEG, PNG, WebP by content, within a byte and a
pixel limit), what is kept of an upload (the re-encoded picture, without metadata, and a
thumbnail, each stored once by its content hash), and who may see one."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from reporting.domain.errors import ReportError

MAX_PHOTOS_PER_REPORT = 3
THUMBNAIL_MAX_SIDE = 320


class PhotoFormat(StrEnum):
    """The formats accepted, by the name the image library gives them."""

    JPEG = "JPEG"
    PNG = "PNG"
    WEBP = "WEBP"

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self]


_MEDIA_TYPES = {
    PhotoFormat.JPEG: "image/jpeg",
    PhotoFormat.PNG: "image/png",
    PhotoFormat.WEBP: "image/webp",
}


@dataclass(frozen=True)
class PhotoLimits:
    max_bytes: int = 10 * 1024 * 1024
    """The largest upload, in bytes."""
    max_pixels: int = 40_000_000
    """The most pixels (width × height, as the image's header declares them)."""


class RefusalReason(StrEnum):
    """Why an upload was refused (also the outcome label of the upload counter)."""

    TYPE = "refused_type"
    SIZE = "refused_size"
    PIXELS = "refused_pixels"


class PhotoRefused(ReportError):
    """An upload that is not kept; :attr:`reason` says why."""

    def __init__(self, reason: RefusalReason, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class PhotoNotFound(ReportError):
    """No such photo, or none the caller may see (the two are not told apart)."""


class InvalidReportField(ReportError):
    """A report refused for one of its fields (answered 422 naming :attr:`field`)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def content_hash(data: bytes) -> str:
    """The SHA-256 of ``data``, in hex: the key a blob is stored under."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class PreparedImage:
    """An upload made fit to keep: oriented upright, re-encoded without any metadata (EXIF
    with its GPS position, XMP, ICC, comments), in the format it came in; with a thumbnail."""

    data: bytes
    format: PhotoFormat
    width: int
    height: int
    thumbnail: bytes
    thumbnail_media_type: str

    @property
    def content_hash(self) -> str:
        return content_hash(self.data)

    @property
    def thumbnail_hash(self) -> str:
        return content_hash(self.thumbnail)


@dataclass(frozen=True)
class Photo:
    id: str
    uploader_id: str
    district: str
    """The uploader's home district when it was uploaded."""
    content_hash: str
    size: int
    media_type: str
    width: int
    height: int
    thumbnail_hash: str
    thumbnail_size: int
    thumbnail_media_type: str
    created_at: datetime

    def reference(self) -> PhotoReference:
        return PhotoReference(self.id, self.content_hash, self.size, self.media_type)


@dataclass(frozen=True)
class PhotoReference:
    """What a report keeps of each of its photos (never the bytes)."""

    id: str
    content_hash: str
    size: int
    media_type: str


@dataclass(frozen=True)
class Viewer:
    """Who asks to see a report or a photo: their subject, whether they are staff
    (supervisors, admins, services), whether they are a department, the districts their token
    covers and, for a grid worker, their grids."""

    subject: str
    staff: bool
    districts: tuple[str, ...]
    grids: tuple[str, ...] = ()
    department: bool = False


@dataclass(frozen=True)
class Referrer:
    """A report that references a photo: whose it is and where."""

    reporter_id: str
    district: str
    grid_id: str | None = None


def may_see_report(viewer: Viewer, referrer: Referrer) -> bool:
    """Its reporter; staff and departments whose token covers its district; a grid worker of
    that district whose grids include the report's grid (the one who goes out to fix it)."""
    if referrer.reporter_id == viewer.subject:
        return True
    if referrer.district not in viewer.districts:
        return False
    if viewer.staff or viewer.department:
        return True
    return referrer.grid_id is not None and referrer.grid_id in viewer.grids


def may_see(photo: Photo, viewer: Viewer, referrers: Iterable[Referrer]) -> bool:
    """The uploader, staff whose token covers the photo's district, and whoever may see a
    report that references the photo."""
    if viewer.subject == photo.uploader_id:
        return True
    if viewer.staff and photo.district in viewer.districts:
        return True
    return any(may_see_report(viewer, referrer) for referrer in referrers)


def check_photo_ids(photo_ids: Sequence[str]) -> None:
    """At most :data:`MAX_PHOTOS_PER_REPORT`, each once."""
    if len(photo_ids) > MAX_PHOTOS_PER_REPORT:
        raise InvalidReportField(
            "photo_ids", f"a report has at most {MAX_PHOTOS_PER_REPORT} photos"
        )
    if len(set(photo_ids)) != len(photo_ids):
        raise InvalidReportField("photo_ids", "a photo is referenced more than once")


def usable_photos(
    photo_ids: Sequence[str], found: dict[str, Photo], reporter_id: str
) -> tuple[PhotoReference, ...]:
    """The references of the report's photos, in the order given; each must exist and have
    been uploaded by the reporter (otherwise they are not told apart: no such photo)."""
    check_photo_ids(photo_ids)
    references = []
    for photo_id in photo_ids:
        photo = found.get(photo_id)
        if photo is None or photo.uploader_id != reporter_id:
            raise InvalidReportField(
                "photo_ids", f"no photo '{photo_id}' uploaded by the reporter (POST /v1/photos)"
            )
        references.append(photo.reference())
    return tuple(references)


@dataclass(frozen=True)
class CaptureWindow:
    """How far in the past a report's ``captured_at`` (taken offline, sent later) may be, and
    how far ahead of the server's clock (the phone's clock may run fast)."""

    max_age: timedelta = timedelta(hours=72)
    clock_skew: timedelta = timedelta(seconds=300)

    def check(self, captured_at: datetime | None, now: datetime) -> None:
        if captured_at is None:
            return
        if captured_at > now + self.clock_skew:
            raise InvalidReportField("captured_at", "captured_at is in the future")
        if captured_at < now - self.max_age:
            hours = self.max_age.total_seconds() / 3600
            raise InvalidReportField(
                "captured_at", f"captured_at is more than {hours:g} hours in the past"
            )


DEFAULT_CAPTURE_WINDOW = CaptureWindow()
