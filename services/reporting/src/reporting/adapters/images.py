"""Uploads checked and cleaned with Pillow: the format is told by content (never by the file's
name or the request's Content-Type), the size in bytes and the pixels declared by the header
are checked before anything is decoded, and what is kept is re-encoded from the pixels alone,
turned upright first, so no metadata (EXIF with its GPS position, XMP, ICC, comments) is kept."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from reporting.domain.photos import (
    THUMBNAIL_MAX_SIDE,
    PhotoFormat,
    PhotoLimits,
    PhotoRefused,
    PreparedImage,
    RefusalReason,
)

# Pillow warns of a likely decompression bomb (over Image.MAX_IMAGE_PIXELS) and only raises
# at twice that: here the warning is an error too. The service's own pixel limit (checked from
# the header) is lower by default, so this is a second line.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

ACCEPTED = [str(f) for f in PhotoFormat]
THUMBNAIL_MEDIA_TYPE = "image/webp"
_ENCODING: dict[PhotoFormat, dict[str, object]] = {
    PhotoFormat.JPEG: {"quality": 85, "optimize": True},
    PhotoFormat.PNG: {"optimize": True},
    PhotoFormat.WEBP: {"quality": 85},
}


def _pixels_refused(detail: str) -> PhotoRefused:
    return PhotoRefused(RefusalReason.PIXELS, detail)


def _unreadable() -> PhotoRefused:
    return PhotoRefused(RefusalReason.TYPE, "the file is not a readable JPEG, PNG or WebP image")


def prepare_image(upload: bytes, limits: PhotoLimits) -> PreparedImage:
    """``upload`` checked against ``limits`` and re-encoded; raises :class:`PhotoRefused`."""
    if len(upload) > limits.max_bytes:
        raise PhotoRefused(RefusalReason.SIZE, f"the photo is larger than {limits.max_bytes} bytes")
    try:
        # Reads the header only: the pixels are decoded by load(), after the checks.
        image = Image.open(io.BytesIO(upload), formats=ACCEPTED)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _pixels_refused(f"the image declares too many pixels ({error})") from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise _unreadable() from error
    with image:
        width, height = image.size
        most = _most_pixels(limits)
        if width * height > most:
            raise _pixels_refused(f"the image declares {width}×{height} pixels, more than {most}")
        photo_format = PhotoFormat(str(image.format))
        try:
            image.load()
            upright = ImageOps.exif_transpose(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise _pixels_refused(f"the image has too many pixels ({error})") from error
        except (OSError, ValueError, SyntaxError, EOFError) as error:
            raise _unreadable() from error
    # Nothing of the upload's metadata reaches the encoder: a fresh info, and no exif, icc or
    # xmp argument.
    upright.info = {}
    try:
        data = _encode(upright, photo_format)
        thumbnail = _thumbnail(upright)
    except (OSError, ValueError) as error:  # a pixel layout the encoder does not take
        raise _unreadable() from error
    return PreparedImage(
        data=data,
        format=photo_format,
        width=upright.width,
        height=upright.height,
        thumbnail=thumbnail,
        thumbnail_media_type=THUMBNAIL_MEDIA_TYPE,
    )


def _most_pixels(limits: PhotoLimits) -> int:
    """The service's limit, or Pillow's bomb threshold if that is lower (where Pillow would
    only warn, the service refuses)."""
    pillow = Image.MAX_IMAGE_PIXELS
    return min(limits.max_pixels, pillow) if pillow else limits.max_pixels


def _encode(image: Image.Image, photo_format: PhotoFormat) -> bytes:
    if photo_format is PhotoFormat.JPEG and image.mode not in {"L", "RGB", "CMYK"}:
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format=photo_format.value, **_ENCODING[photo_format])
    return buffer.getvalue()


def _thumbnail(image: Image.Image) -> bytes:
    small = image.copy()
    small.thumbnail((THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE))
    has_alpha = small.mode in {"RGBA", "LA", "PA"} or "transparency" in small.info
    small = small.convert("RGBA" if has_alpha else "RGB")
    small.info = {}
    buffer = io.BytesIO()
    small.save(buffer, format="WEBP", quality=80)
    return buffer.getvalue()
