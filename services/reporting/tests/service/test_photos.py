"""Photos over HTTP on the real app: uploads checked by content, cleaned of metadata, turned
upright and stored once by content hash; served only to those who may see them. The images are
made here with Pillow."""

from __future__ import annotations

import hashlib
import io
import resource
import struct
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import ExifTags, Image, PngImagePlugin

from common.auth import issue_token
from gridloop_tools.testing.builders import keyed_event, work_order_filed, work_order_resolved
from gridloop_tools.testing.service_fixtures import Auth, Deliver, assert_problem, serving
from gridloop_tools.testing.service_suite import metric_sample

MIB = 1024 * 1024


def jpeg(
    size: tuple[int, int] = (64, 48),
    *,
    color: tuple[int, int, int] = (200, 40, 40),
    gps: bool = False,
    orientation: int | None = None,
) -> bytes:
    """A JPEG, with an EXIF GPS position and an EXIF orientation if asked."""
    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "gridloop-test-camera"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps_ifd[ExifTags.GPS.GPSLatitudeRef] = "N"
        gps_ifd[ExifTags.GPS.GPSLatitude] = (35.0, 33.0, 11.0)
        gps_ifd[ExifTags.GPS.GPSLongitudeRef] = "E"
        gps_ifd[ExifTags.GPS.GPSLongitude] = (116.0, 49.0, 43.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def png(size: tuple[int, int] = (40, 30), mode: str = "RGBA") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (10, 120, 200, 128) if mode == "RGBA" else 7).save(buffer, "PNG")
    return buffer.getvalue()


def webp(size: tuple[int, int] = (50, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (0, 160, 60)).save(buffer, "WEBP")
    return buffer.getvalue()


def noise_png(side: int) -> bytes:
    """A PNG that compresses badly: about ``side``² bytes."""
    buffer = io.BytesIO()
    Image.effect_noise((side, side), 90).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def png_bomb(side: int = 20_000) -> bytes:
    """A valid PNG of ``side``×``side`` black pixels (1 bit each): a few tens of kilobytes
    that would take ``side``² bytes of memory once decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" * (1 + side // 8)
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    *,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
) -> httpx.Response:
    return await client.post(
        "/v1/photos", files={"file": (filename, data, content_type)}, headers=headers
    )


def staff(app: FastAPI, district: str, subject: str = "370812-d-01") -> dict[str, str]:
    token = issue_token(app.state.jwt_secret, role="supervisor", subject=subject, district=district)
    return {"Authorization": f"Bearer {token}"}


def stored_files(photo_dir: Path) -> list[Path]:
    return sorted(p for p in photo_dir.rglob("*") if p.is_file())


def uploads_counted(metrics: str, outcome: str) -> float | None:
    return metric_sample(
        metrics, "gridloop_photos_uploaded_total", service="reporting", outcome=outcome
    )


# --- what is kept of an upload ------------------------------------------------------------------


async def test_an_upload_answers_201_with_the_photo(
    client: httpx.AsyncClient, auth: Auth, _photos_in_the_test_directory: Path
) -> None:
    response = await upload(client, auth(), jpeg())
    assert response.status_code == 201, response.text
    photo: dict[str, Any] = response.json()
    assert photo["media_type"] == "image/jpeg"
    assert (photo["width"], photo["height"]) == (64, 48)
    assert photo["url"] == f"/v1/photos/{photo['id']}"
    assert photo["thumbnail_url"] == f"/v1/photos/{photo['id']}/thumbnail"
    assert response.headers["Location"] == photo["url"]
    digest = photo["content_hash"]
    on_disk = _photos_in_the_test_directory / digest[:2] / digest[2:4] / digest
    assert hashlib.sha256(on_disk.read_bytes()).hexdigest() == digest
    assert on_disk.stat().st_size == photo["size"]


async def test_the_gps_position_and_all_exif_are_stripped(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    sent = jpeg(gps=True)
    assert Image.open(io.BytesIO(sent)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    photo = (await upload(client, auth(), sent)).json()
    kept = (await client.get(photo["url"], headers=auth())).content
    assert hashlib.sha256(kept).hexdigest() == photo["content_hash"]
    image = Image.open(io.BytesIO(kept))
    assert image.format == "JPEG"
    assert not image.getexif()
    assert b"Exif" not in kept
    assert b"gridloop-test-camera" not in kept


@pytest.mark.parametrize(("make", "media_type"), [(png, "image/png"), (webp, "image/webp")])
async def test_png_and_webp_are_kept_in_their_format(
    client: httpx.AsyncClient, auth: Auth, make: Callable[[], bytes], media_type: str
) -> None:
    response = await upload(client, auth(), make(), filename="x.jpg", content_type="image/jpeg")
    assert response.status_code == 201, response.text
    photo = response.json()
    assert photo["media_type"] == media_type
    served = await client.get(photo["url"], headers=auth())
    assert served.headers["content-type"] == media_type
    assert Image.open(io.BytesIO(served.content)).format == media_type.split("/")[1].upper()


async def test_a_photo_taken_sideways_is_turned_upright(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    """EXIF Orientation 6: the camera was turned; the pixels are stored 40×60, shown 60×40…
    once turned, the photo is as tall as the stored pixels were wide."""
    photo = (await upload(client, auth(), jpeg((60, 40), orientation=6))).json()
    assert (photo["width"], photo["height"]) == (40, 60)
    kept = Image.open(io.BytesIO((await client.get(photo["url"], headers=auth())).content))
    assert kept.size == (40, 60)
    assert ExifTags.Base.Orientation not in kept.getexif()


async def test_a_thumbnail_is_made(client: httpx.AsyncClient, auth: Auth) -> None:
    photo = (await upload(client, auth(), jpeg((1000, 500)))).json()
    response = await client.get(photo["thumbnail_url"], headers=auth())
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(response.content)).size == (320, 160)


# --- what is refused --------------------------------------------------------------------------


async def test_a_text_file_named_jpg_is_refused(client: httpx.AsyncClient, auth: Auth) -> None:
    text = "这不是图片 — not an image at all\n".encode() * 20
    response = await upload(client, auth(), text, filename="hazard.jpg")
    body = assert_problem(response, 415, "not a readable JPEG, PNG or WebP")
    assert body["reason"] == "refused_type"
    metrics = (await client.get("/metrics")).text
    assert uploads_counted(metrics, "refused_type") == 1.0


@pytest.mark.parametrize("kind", ["GIF", "BMP"])
async def test_other_image_formats_are_refused(
    client: httpx.AsyncClient, auth: Auth, kind: str
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, kind)
    assert_problem(await upload(client, auth(), buffer.getvalue()), 415)


async def test_a_truncated_jpeg_is_refused(client: httpx.AsyncClient, auth: Auth) -> None:
    whole = jpeg((300, 300))
    assert_problem(await upload(client, auth(), whole[: len(whole) // 3]), 415)


async def test_a_decompression_bomb_is_refused_from_its_header(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    """20000×20000 pixels in 60 kB: refused from the header, before any pixel is decoded (it
    would take 400 MB): the process's peak memory does not grow by anything near that."""
    bomb = png_bomb()
    assert len(bomb) < 100_000
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    response = await upload(client, auth(), bomb, filename="bomb.png", content_type="image/png")
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    body = assert_problem(response, 422, "pixels")
    assert body["reason"] == "refused_pixels"
    assert body["errors"][0]["field"] == "file"
    assert (peak_after - peak_before) * 1024 < 100 * MIB  # ru_maxrss is in KiB on Linux
    metrics = (await client.get("/metrics")).text
    assert uploads_counted(metrics, "refused_pixels") == 1.0


async def test_the_pixel_limit_is_a_setting(
    monkeypatch: pytest.MonkeyPatch, build_app: Callable[[], FastAPI], auth: Auth
) -> None:
    monkeypatch.setenv("REPORTING_PHOTO_MAX_PIXELS", "10000")
    async with serving(build_app()) as client:
        assert (await upload(client, auth(), jpeg((100, 100)))).status_code == 201
        assert_problem(await upload(client, auth(), jpeg((101, 100))), 422, "more than 10000")


async def test_the_byte_limit_is_a_setting(
    monkeypatch: pytest.MonkeyPatch, build_app: Callable[[], FastAPI], auth: Auth
) -> None:
    monkeypatch.setenv("REPORTING_PHOTO_MAX_BYTES", "5000")
    small, large = jpeg((16, 16)), noise_png(100)
    assert len(small) < 5000 < len(large)
    async with serving(build_app()) as client:
        assert (await upload(client, auth(), small)).status_code == 201
        body = assert_problem(await upload(client, auth(), large), 413, "larger than 5000")
        assert body["reason"] == "refused_size"
        huge = b"\xff\xd8" + b"\x00" * (2 * MIB)
        assert_problem(await upload(client, auth(), huge), 413)
        metrics = (await client.get("/metrics")).text
    assert uploads_counted(metrics, "refused_size") == 1.0  # the other never reached the app


async def test_the_photo_route_takes_more_than_the_default_body_limit(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    """The service's body limit (64 KiB) would refuse most photos; the route allows the
    photo limit (10 MiB by default) and checks the file itself."""
    noisy = noise_png(400)
    assert len(noisy) > 64 * 1024
    response = await upload(client, auth(), noisy, content_type="image/png")
    assert response.status_code == 201, response.text


async def test_without_a_file_part_it_is_422(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.post("/v1/photos", data={"other": "x"}, headers=auth())
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "file"


async def test_an_upload_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_problem(await upload(client, {}, jpeg()), 401)


# --- stored once --------------------------------------------------------------------------------


async def test_the_same_picture_is_stored_once(
    client: httpx.AsyncClient, auth: Auth, _photos_in_the_test_directory: Path
) -> None:
    picture = jpeg(gps=True)
    first = await upload(client, auth(subject="rider-1"), picture)
    again = await upload(client, auth(subject="rider-1"), picture, filename="other-name.jpg")
    other = await upload(client, auth(subject="rider-2"), picture)
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert again.json() == first.json()
    assert other.json()["id"] != first.json()["id"]
    assert other.json()["content_hash"] == first.json()["content_hash"]
    files = stored_files(_photos_in_the_test_directory)
    assert len(files) == 2  # the picture and its thumbnail, once each
    metrics = (await client.get("/metrics")).text
    assert uploads_counted(metrics, "stored") == 1.0
    assert uploads_counted(metrics, "deduplicated") == 2.0
    stored_bytes = metric_sample(metrics, "gridloop_photo_bytes_stored_total", service="reporting")
    assert stored_bytes == first.json()["size"]


# --- who may see a photo ------------------------------------------------------------------------


async def test_the_uploader_gets_the_bytes_with_etag_and_private_caching(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    photo = (await upload(client, auth(), jpeg())).json()
    response = await client.get(photo["url"], headers=auth())
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["etag"] == f'"{photo["content_hash"]}"'
    assert response.headers["cache-control"].startswith("private")
    headers = {**auth(), "If-None-Match": response.headers["etag"]}
    assert (await client.get(photo["url"], headers=headers)).status_code == 304


async def test_another_rider_and_staff_of_another_district_get_404(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    photo = (await upload(client, auth(subject="rider-1"), jpeg())).json()
    for path in (photo["url"], photo["thumbnail_url"]):
        assert_problem(await client.get(path, headers=auth(subject="rider-2")), 404)
        assert_problem(await client.get(path, headers=staff(app, "370811", "370811-d-01")), 404)
        assert_problem(await client.get(path, headers=auth(role="grid_worker", subject="w")), 404)
        assert (await client.get(path, headers=staff(app, "370812"))).status_code == 200
    assert_problem(await client.get("/v1/photos/no-such-photo", headers=auth()), 404)


async def test_a_photo_needs_a_token(client: httpx.AsyncClient, auth: Auth) -> None:
    photo = (await upload(client, auth(), jpeg())).json()
    assert_problem(await client.get(photo["url"]), 401)


async def test_an_image_over_the_pixel_limit_is_refused_before_decoding(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    """8000×8000 is under Pillow's own bomb threshold but over the service's 40 million
    pixels: the service refuses it from what the header declares."""
    response = await upload(client, auth(), png_bomb(8000), content_type="image/png")
    body = assert_problem(response, 422, "declares 8000×8000 pixels, more than 40000000")
    assert body["reason"] == "refused_pixels"


async def test_over_pillows_own_bomb_threshold_is_refused_too(
    client: httpx.AsyncClient, auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where Pillow would only warn of a decompression bomb, the service refuses."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        response = await upload(client, auth(), jpeg((100, 80)))
    body = assert_problem(response, 422, "more than 5000")
    assert body["reason"] == "refused_pixels"


@pytest.mark.parametrize("kind", ["PNG", "WEBP"])
async def test_png_and_webp_metadata_is_stripped(
    client: httpx.AsyncClient, auth: Auth, kind: str
) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "gridloop-test-camera"
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] = "N"
    buffer = io.BytesIO()
    extra: dict[str, Any] = {"exif": exif, "xmp": b"<x:xmpmeta>gridloop-test-xmp</x:xmpmeta>"}
    if kind == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_text("Comment", "gridloop-test-comment")
        extra["pnginfo"] = text
    Image.new("RGB", (30, 30), (1, 2, 3)).save(buffer, kind, **extra)
    sent = buffer.getvalue()
    assert b"gridloop-test-camera" in sent
    photo = (await upload(client, auth(), sent)).json()
    kept = (await client.get(photo["url"], headers=auth())).content
    for marker in (b"gridloop-test-camera", b"gridloop-test-xmp", b"gridloop-test-comment"):
        assert marker not in kept
    assert not Image.open(io.BytesIO(kept)).getexif()


async def test_the_grid_workers_evidence_shows_on_the_resolved_step_to_the_reporter(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    worker = auth(role="grid_worker", subject="gw-1")
    evidence = await client.post(
        "/v1/photos", files={"file": ("after.jpg", jpeg(), "image/jpeg")}, headers=worker
    )
    assert evidence.status_code == 201, evidence.text
    photo_id = evidence.json()["id"]
    rider = auth(subject="rider-1")
    report = await client.post(
        "/v1/reports",
        json={"category": "0101", "lat": 35.5531, "lon": 116.8287, "text": "楼道杂物"},
        headers=rider,
    )
    report_id = report.json()["id"]
    order = "wo-evidence"
    await deliver(
        keyed_event(work_order_filed(report_id=report_id, work_order_id=order), sequence=1)
    )
    resolved = work_order_resolved(
        report_id=report_id, work_order_id=order, evidence=[photo_id, "not-a-photo"]
    )
    await deliver(keyed_event(resolved, sequence=2))

    timeline = (await client.get(f"/v1/reports/{report_id}", headers=rider)).json()["timeline"]
    step = next(s for s in timeline if s["step"] == "resolved")
    assert step["photos"] == [
        {
            "id": photo_id,
            "url": f"/v1/photos/{photo_id}",
            "thumbnail_url": f"/v1/photos/{photo_id}/thumbnail",
        }
    ]
    assert (await client.get(f"/v1/photos/{photo_id}", headers=rider)).status_code == 200
    stranger = auth(subject="rider-2")
    assert (await client.get(f"/v1/photos/{photo_id}", headers=stranger)).status_code == 404
    await deliver(keyed_event(resolved, sequence=2))  # redelivered: nothing doubles
    again = (await client.get(f"/v1/reports/{report_id}", headers=rider)).json()["timeline"]
    assert [s["step"] for s in again].count("resolved") == 1


async def test_the_grid_worker_of_the_reports_grid_and_the_districts_departments_see_its_photos(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    rider = auth(subject="rider-1")
    photo = (await upload(client, rider, jpeg())).json()
    report = await client.post(
        "/v1/reports",
        json={
            "category": "0101",
            "lat": 35.5531,
            "lon": 116.8287,
            "text": "楼道杂物",
            "photo_ids": [photo["id"]],
        },
        headers=rider,
    )
    assert report.status_code == 201, report.text
    report_id = report.json()["id"]
    filed = work_order_filed(report_id=report_id, work_order_id="wo-grid")
    await deliver(keyed_event(filed, sequence=1))
    grid = (await client.get(f"/v1/reports/{report_id}", headers=rider)).json()["grid_id"]
    assert grid

    in_grid = auth(role="grid_worker", subject="gw-1", grids=(grid,))
    other_grid = auth(role="grid_worker", subject="gw-2", grids=("370812-99-999-9",))
    department = auth(role="department", subject="370812-d-01")
    department_elsewhere = auth(role="department", subject="370811-d-01", district="370811")
    for headers, allowed in (
        (in_grid, True),
        (department, True),
        (other_grid, False),
        (department_elsewhere, False),
    ):
        seen = await client.get(f"/v1/reports/{report_id}", headers=headers)
        picture = await client.get(photo["url"], headers=headers)
        thumbnail = await client.get(photo["thumbnail_url"], headers=headers)
        expected = 200 if allowed else 404
        assert (seen.status_code, picture.status_code, thumbnail.status_code) == (
            expected,
            expected,
            expected,
        ), headers
