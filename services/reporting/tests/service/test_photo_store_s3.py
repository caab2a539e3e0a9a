"""The S3 photo store against a real S3 HTTP endpoint (moto's server on a local port): blobs
round-trip, each content is one object, and the app keeps its photos there when a bucket is
configured."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from fastapi import FastAPI
from moto.server import ThreadedMotoServer
from PIL import Image

from gridloop_tools.testing.service_fixtures import Auth, serving
from reporting.adapters.photo_store import S3PhotoStore

BUCKET = "gridloop-photos"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An empty bucket; the AWS credentials come from the usual environment variables."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "gridloop-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "gridloop-test-secret")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    yield client
    for listed in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=listed["Key"])
    client.delete_bucket(Bucket=BUCKET)


def keys(client: Any) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


async def test_a_blob_round_trips_and_is_kept_once(s3_endpoint: str, bucket: Any) -> None:
    store = S3PhotoStore(BUCKET, endpoint_url=s3_endpoint, region=REGION)
    data = b"\xff\xd8 some jpeg bytes"
    digest = hashlib.sha256(data).hexdigest()
    assert await store.get(digest) is None
    assert await store.put(digest, data, "image/jpeg") is True
    assert await store.put(digest, data, "image/jpeg") is False
    assert await store.get(digest) == data
    assert keys(bucket) == [f"photos/{digest[:2]}/{digest}"]
    head = bucket.head_object(Bucket=BUCKET, Key=f"photos/{digest[:2]}/{digest}")
    assert head["ContentType"] == "image/jpeg"


async def test_the_app_keeps_photos_in_the_configured_bucket(
    s3_endpoint: str,
    bucket: Any,
    monkeypatch: pytest.MonkeyPatch,
    build_app: Callable[[], FastAPI],
    auth: Auth,
) -> None:
    monkeypatch.setenv("REPORTING_PHOTO_S3_BUCKET", BUCKET)
    monkeypatch.setenv("REPORTING_PHOTO_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("REPORTING_PHOTO_S3_REGION", REGION)
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), (9, 99, 199)).save(buffer, "JPEG")
    files = {"file": ("p.jpg", buffer.getvalue(), "image/jpeg")}
    async with serving(build_app()) as client:
        first = await client.post("/v1/photos", files=files, headers=auth(subject="rider-1"))
        other = await client.post("/v1/photos", files=files, headers=auth(subject="rider-2"))
        assert (first.status_code, other.status_code) == (201, 201)
        photo = first.json()
        served = await client.get(photo["url"], headers=auth(subject="rider-1"))
    assert hashlib.sha256(served.content).hexdigest() == photo["content_hash"]
    digest = photo["content_hash"]
    stored = keys(bucket)
    assert f"photos/{digest[:2]}/{digest}" in stored
    assert len(stored) == 2  # the picture and its thumbnail, once for both riders
