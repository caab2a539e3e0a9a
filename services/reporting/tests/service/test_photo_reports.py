"""Reports with photos on the real app: photo ids in the JSON body, photos inline in a
multipart body, categories that require a photo, and the capture time of an offline report."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from PIL import Image

from common.auth import issue_token
from common.contracts.envelope import CloudEvent
from common.contracts.topics import Topic
from gridloop_tools.testing.builders import (
    district_catalogue_published,
    keyed_event,
    published_category,
)
from gridloop_tools.testing.service_fixtures import Auth, Deliver, assert_problem

REPORT = {"category": "0101", "lat": 35.5531, "lon": 116.8287, "text": "3号楼2单元楼道堆放杂物"}


def picture(color: tuple[int, int, int] = (200, 40, 40), kind: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), color).save(buffer, kind)
    return buffer.getvalue()


async def uploaded(client: httpx.AsyncClient, headers: dict[str, str], data: bytes) -> str:
    response = await client.post(
        "/v1/photos", files={"file": ("p.jpg", data, "image/jpeg")}, headers=headers
    )
    assert response.status_code in (200, 201), response.text
    photo_id: str = response.json()["id"]
    return photo_id


async def submit(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> httpx.Response:
    return await client.post("/v1/reports", json={**REPORT, **fields}, headers=headers)


async def submitted_events(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.runtime.engine.connect() as connection:
        payloads = (
            await connection.execute(
                sa.text("SELECT payload FROM outbox WHERE event_type = 'gridloop.report.submitted'")
            )
        ).scalars()
        return [CloudEvent.from_bytes(payload).data for payload in payloads]


def field_of(body: dict[str, Any]) -> str:
    field: str = body["errors"][0]["field"]
    return field


# --- photo ids in the JSON body ------------------------------------------------------------------


async def test_a_report_references_the_riders_photos(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    first = await uploaded(client, auth(), picture((255, 0, 0)))
    second = await uploaded(client, auth(), picture((0, 0, 255), "PNG"))
    response = await submit(client, auth(), photo_ids=[first, second])
    assert response.status_code == 201, response.text
    report = response.json()
    assert [p["id"] for p in report["photos"]] == [first, second]
    assert report["photos"][1]["media_type"] == "image/png"
    assert report["photos"][0]["url"] == f"/v1/photos/{first}"
    assert report["photos"][0]["thumbnail_url"] == f"/v1/photos/{first}/thumbnail"
    assert set(report["photos"][0]) == {
        "id",
        "content_hash",
        "size",
        "media_type",
        "url",
        "thumbnail_url",
    }
    shown = (await client.get(f"/v1/reports/{report['id']}", headers=auth())).json()
    assert shown["photos"] == report["photos"]
    listed = (await client.get("/v1/reports", headers=auth())).json()["items"]
    assert listed[0]["photos"] == report["photos"]
    [event] = await submitted_events(app)
    assert [p["id"] for p in event["photos"]] == [first, second]
    assert set(event["photos"][0]) == {"id", "content_hash", "size", "media_type"}
    assert event["photos"][0]["content_hash"] == report["photos"][0]["content_hash"]


async def test_a_report_without_photos_stays_as_it_was(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    report = (await submit(client, auth())).json()
    assert report["photos"] == []
    assert report["captured_at"] is None
    assert report["occurred_at"] == report["submitted_at"]
    [event] = await submitted_events(app)
    assert event["photos"] == [] and event["captured_at"] is None


async def test_another_riders_photo_or_an_unknown_one_is_422_naming_photo_ids(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    theirs = await uploaded(client, auth(subject="rider-2"), picture())
    for photo_ids in ([theirs], ["no-such-photo"]):
        body = assert_problem(await submit(client, auth(), photo_ids=photo_ids), 422)
        assert field_of(body) == "photo_ids"


async def test_photo_ids_are_at_most_three_each_once(client: httpx.AsyncClient, auth: Auth) -> None:
    ids = [await uploaded(client, auth(), picture((i * 60, 0, 0))) for i in range(4)]
    for photo_ids in (ids, [ids[0], ids[0]]):
        body = assert_problem(await submit(client, auth(), photo_ids=photo_ids), 422)
        assert field_of(body).startswith("photo_ids")
    assert (await submit(client, auth(), photo_ids=ids[:3])).status_code == 201


async def test_the_reporter_and_district_staff_see_a_reports_photos(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    photo_id = await uploaded(client, auth(), picture())
    assert (await submit(client, auth(), photo_ids=[photo_id])).status_code == 201
    supervisor = issue_token(
        app.state.jwt_secret, role="supervisor", subject="370812-d-01", district="370812"
    )
    for headers in (auth(), {"Authorization": f"Bearer {supervisor}"}):
        assert (await client.get(f"/v1/photos/{photo_id}", headers=headers)).status_code == 200
    assert_problem(await client.get(f"/v1/photos/{photo_id}", headers=auth(subject="r-9")), 404)


# --- photos inline: multipart/form-data ----------------------------------------------------------


def form(**overrides: str) -> dict[str, str]:
    fields = {key: str(value) for key, value in REPORT.items()}
    return {**fields, **overrides}


async def test_a_report_with_its_photos_inline(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI, _photos_in_the_test_directory: Path
) -> None:
    files = [
        ("photo", ("a.jpg", picture((255, 0, 0)), "image/jpeg")),
        ("photo", ("b.png", picture((0, 255, 0), "PNG"), "application/octet-stream")),
    ]
    headers = {**auth(), "Idempotency-Key": "inline-1"}
    response = await client.post("/v1/reports", data=form(), files=files, headers=headers)
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["category"] == "0101" and report["lat"] == 35.5531
    assert [p["media_type"] for p in report["photos"]] == ["image/jpeg", "image/png"]
    for photo in report["photos"]:
        assert (await client.get(photo["url"], headers=auth())).status_code == 200
    [event] = await submitted_events(app)
    assert len(event["photos"]) == 2
    # A retry with the same key answers the same report; the photos are stored once.
    again = await client.post("/v1/reports", data=form(), files=files, headers=headers)
    assert again.status_code == 201 and again.json()["id"] == report["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    stored = [p for p in _photos_in_the_test_directory.rglob("*") if p.is_file()]  # noqa: ASYNC240
    assert len(stored) == 4


async def test_an_inline_report_is_checked_like_a_json_one(
    client: httpx.AsyncClient, auth: Auth
) -> None:
    photo = [("photo", ("a.jpg", picture(), "image/jpeg"))]
    not_an_image = [("photo", ("a.jpg", b"plain text, not a picture", "image/jpeg"))]
    cases = [
        (form(lat="north"), photo, 422, "lat"),
        (form(category="9"), photo, 422, "category"),
        (form(category="0000"), photo, 422, "category"),
        (form(), [], 422, "photo"),
        (form(), not_an_image, 415, None),
        (form(captured_at="2020-01-01T00:00:00+08:00"), photo, 422, "captured_at"),
        ({**form(), "extra": "x"}, photo, 422, "extra"),
    ]
    for fields, files, status, field in cases:
        # Without a photo the fields themselves go as parts, so the body is still multipart.
        parts: list[tuple[str, tuple[str | None, bytes | str, str] | tuple[None, str]]] = list(
            files
        ) or [(name, (None, value)) for name, value in fields.items()]
        data = fields if files else None
        response = await client.post("/v1/reports", data=data, files=parts, headers=auth())
        body = assert_problem(response, status)
        if field:
            assert field_of(body) == field, body


async def test_an_inline_report_needs_a_rider(client: httpx.AsyncClient, auth: Auth) -> None:
    files = [("photo", ("a.jpg", picture(), "image/jpeg"))]
    response = await client.post(
        "/v1/reports", data=form(), files=files, headers=auth(role="supervisor")
    )
    assert_problem(response, 403)


async def test_the_json_route_keeps_its_body_limit(client: httpx.AsyncClient, auth: Auth) -> None:
    """Only multipart bodies get the photos' room; a JSON body keeps the 64 KiB limit."""
    response = await submit(client, auth(), text="长" * 40_000)
    assert_problem(response, 413, "larger than 65536 bytes")


# --- a category that requires a photo -------------------------------------------------------------


async def test_a_category_may_require_a_photo(
    client: httpx.AsyncClient, auth: Auth, deliver: Deliver
) -> None:
    required = published_category("0101").model_copy(update={"photo_required": True})
    catalogue = district_catalogue_published(
        revision=2, categories=[required, published_category("0201")]
    )
    await deliver(keyed_event(catalogue), Topic.DISTRICTS)
    listed = (await client.get("/v1/categories?district=370812")).json()[0]["categories"]
    assert {c["code"]: c["photo_required"] for c in listed} == {"0101": True, "0201": False}
    body = assert_problem(await submit(client, auth()), 422, "needs at least one photo")
    assert field_of(body) == "photo_ids"
    assert (await submit(client, auth(), category="0201")).status_code == 201
    photo_id = await uploaded(client, auth(), picture())
    assert (await submit(client, auth(), photo_ids=[photo_id])).status_code == 201


# --- offline capture ----------------------------------------------------------------------------


async def test_a_report_captured_offline_shows_when_it_occurred(
    client: httpx.AsyncClient, auth: Auth, app: FastAPI
) -> None:
    captured = datetime.now(UTC) - timedelta(hours=5)
    response = await submit(client, auth(), captured_at=captured.isoformat())
    assert response.status_code == 201, response.text
    report = response.json()
    assert datetime.fromisoformat(report["captured_at"]) == captured
    assert report["occurred_at"] == report["captured_at"]
    [event] = await submitted_events(app)
    assert datetime.fromisoformat(event["captured_at"]) == captured


async def test_captured_at_is_bounded(client: httpx.AsyncClient, auth: Auth) -> None:
    now = datetime.now(UTC)
    slightly_ahead = now + timedelta(seconds=60)
    assert (await submit(client, auth(), captured_at=slightly_ahead.isoformat())).status_code == 201
    for captured_at, needle in (
        ((now - timedelta(hours=73)).isoformat(), "more than 72 hours in the past"),
        ((now + timedelta(minutes=10)).isoformat(), "in the future"),
        ("2026-01-01T08:00:00", "timezone"),
        ("yesterday", ""),
    ):
        body = assert_problem(await submit(client, auth(), captured_at=captured_at), 422, needle)
        assert field_of(body) == "captured_at"
