"""How photos are shown over HTTP: an upload's answer, and a report's photo references."""

from __future__ import annotations

from pydantic import BaseModel, Field

from reporting.domain.photos import Photo, PhotoReference


def photo_url(photo_id: str) -> str:
    return f"/v1/photos/{photo_id}"


def thumbnail_url(photo_id: str) -> str:
    return f"/v1/photos/{photo_id}/thumbnail"


class ReportPhotoView(BaseModel):
    """A photo of a report (the bytes at ``url``, for those who may see them)."""

    id: str
    content_hash: str = Field(description="SHA-256 of the stored bytes, hex (also the ETag)")
    size: int = Field(description="bytes")
    media_type: str = Field(description="image/jpeg, image/png or image/webp")
    url: str
    thumbnail_url: str

    @classmethod
    def of(cls, reference: PhotoReference) -> ReportPhotoView:
        return cls(
            id=reference.id,
            content_hash=reference.content_hash,
            size=reference.size,
            media_type=reference.media_type,
            url=photo_url(reference.id),
            thumbnail_url=thumbnail_url(reference.id),
        )


class PhotoView(ReportPhotoView):
    """An uploaded photo: upright, re-encoded without metadata (no EXIF, no GPS position)."""

    width: int = Field(description="pixels, upright")
    height: int = Field(description="pixels, upright")

    @classmethod
    def of_photo(cls, photo: Photo) -> PhotoView:
        return cls(
            **ReportPhotoView.of(photo.reference()).model_dump(),
            width=photo.width,
            height=photo.height,
        )


MULTIPART_REPORT_DOC: dict[str, object] = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "title": "SubmitReportWithPhotos",
                    "description": "The same report with its photos inline: the fields of the "
                    "JSON body as form fields (without photo_ids) and 1–3 image parts named "
                    "`photo`, each checked and stored as POST /v1/photos does.",
                    "type": "object",
                    "required": ["category", "lat", "lon", "text", "photo"],
                    "properties": {
                        "category": {"type": "string", "pattern": r"^\d{4}$"},
                        "lat": {"type": "number", "minimum": -90, "maximum": 90},
                        "lon": {"type": "number", "minimum": -180, "maximum": 180},
                        "text": {"type": "string", "minLength": 1, "maxLength": 500},
                        "captured_at": {"type": "string", "format": "date-time"},
                        "photo": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "minItems": 1,
                            "maxItems": 3,
                        },
                    },
                }
            }
        }
    },
    "responses": {
        "415": {"description": "A photo of the multipart form is not a JPEG, PNG or WebP image."}
    },
}
"""The multipart form of POST /v1/reports, added to the JSON body in its OpenAPI."""
