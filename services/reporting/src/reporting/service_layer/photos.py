"""Use cases of photos: a rider (or staff) uploads one; someone asks to see one. The blobs are
kept behind :class:`PhotoBlobStore` (a directory or an S3 bucket), the records in the unit of
work's :class:`~reporting.service_layer.unit_of_work.PhotoStore`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

import structlog

from common.messaging.ports import WriteConflict
from reporting.domain.photos import (
    Photo,
    PhotoLimits,
    PhotoNotFound,
    PreparedImage,
    Viewer,
    may_see,
)
from reporting.service_layer.unit_of_work import AbstractReportingUnitOfWork

_log = structlog.get_logger("gridloop.reporting.photos")


class PhotoBlobStore(Protocol):
    """Bytes kept by their SHA-256 (hex): the same content is stored once."""

    async def put(self, content_hash: str, data: bytes, media_type: str) -> bool:
        """Keep ``data`` under ``content_hash``; False if it was kept already."""
        ...

    async def get(self, content_hash: str) -> bytes | None: ...


class ImagePreparer(Protocol):
    def __call__(self, upload: bytes, limits: PhotoLimits) -> PreparedImage:
        """Check ``upload`` (by content, within ``limits``) and re-encode it; raises
        :class:`~reporting.domain.photos.PhotoRefused`."""
        ...


class UploadOutcome(StrEnum):
    STORED = "stored"
    DEDUPLICATED = "deduplicated"
    """The same picture was stored already (by anyone): no new blob."""


@dataclass(frozen=True)
class Uploaded:
    photo: Photo
    outcome: UploadOutcome
    created: bool
    """False when the uploader had uploaded the same picture before: the same photo again."""


@dataclass(frozen=True)
class PhotoService:
    """What the photo use cases need besides a unit of work."""

    blobs: PhotoBlobStore
    prepare: ImagePreparer
    limits: PhotoLimits

    async def prepared(self, upload: bytes) -> PreparedImage:
        """``upload`` checked and re-encoded, off the event loop (decoding is CPU work)."""
        return await asyncio.to_thread(self.prepare, upload, self.limits)


async def upload_photo(
    upload: bytes,
    *,
    uploader_id: str,
    district: str,
    service: PhotoService,
    unit_of_work: Callable[[], AbstractReportingUnitOfWork],
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Uploaded:
    """Check and clean the picture, keep its bytes and its thumbnail by content hash and record
    the photo as the uploader's; the same uploader sending the same picture again gets the
    photo recorded the first time."""
    image = await service.prepared(upload)
    earlier = await _uploaded_before(unit_of_work, uploader_id, image.content_hash)
    if earlier is not None:
        return Uploaded(earlier, UploadOutcome.DEDUPLICATED, created=False)
    written = await service.blobs.put(image.content_hash, image.data, image.format.media_type)
    await service.blobs.put(image.thumbnail_hash, image.thumbnail, image.thumbnail_media_type)
    photo = Photo(
        id=new_id(),
        uploader_id=uploader_id,
        district=district,
        content_hash=image.content_hash,
        size=len(image.data),
        media_type=image.format.media_type,
        width=image.width,
        height=image.height,
        thumbnail_hash=image.thumbnail_hash,
        thumbnail_size=len(image.thumbnail),
        thumbnail_media_type=image.thumbnail_media_type,
        created_at=datetime.now(UTC),
    )
    try:
        async with unit_of_work() as uow:
            await uow.photos.add(photo)
            await uow.commit()
    except WriteConflict:
        # The same uploader sent the same picture twice at once, and the other one won.
        earlier = await _uploaded_before(unit_of_work, uploader_id, image.content_hash)
        if earlier is None:
            raise
        return Uploaded(earlier, UploadOutcome.DEDUPLICATED, created=False)
    outcome = UploadOutcome.STORED if written else UploadOutcome.DEDUPLICATED
    _log.info("photo.uploaded", photo_id=photo.id, size=photo.size, outcome=outcome.value)
    return Uploaded(photo, outcome, created=True)


async def _uploaded_before(
    unit_of_work: Callable[[], AbstractReportingUnitOfWork], uploader_id: str, content_hash: str
) -> Photo | None:
    async with unit_of_work() as uow:
        return await uow.photos.by_uploader_and_hash(uploader_id, content_hash)


@dataclass(frozen=True)
class PhotoContent:
    photo: Photo
    data: bytes
    media_type: str
    etag: str


async def photo_content(
    photo_id: str,
    viewer: Viewer,
    *,
    thumbnail: bool,
    service: PhotoService,
    unit_of_work: Callable[[], AbstractReportingUnitOfWork],
) -> PhotoContent:
    """The picture (or its thumbnail), if ``viewer`` may see it; else :class:`PhotoNotFound`."""
    async with unit_of_work() as uow:
        photo = await uow.photos.get(photo_id)
        referrers = await uow.photos.referrers(photo_id) if photo is not None else []
    if photo is None or not may_see(photo, viewer, referrers):
        raise PhotoNotFound(f"no photo '{photo_id}'")
    wanted = photo.thumbnail_hash if thumbnail else photo.content_hash
    data = await service.blobs.get(wanted)
    if data is None:
        _log.error("photo.blob_missing", photo_id=photo_id, content_hash=wanted)
        raise PhotoNotFound(f"no photo '{photo_id}'")
    media_type = photo.thumbnail_media_type if thumbnail else photo.media_type
    return PhotoContent(photo, data, media_type, wanted)
