"""Where photo bytes are kept, by their SHA-256: a directory (the default) or an S3-compatible
bucket. Either keeps each content once; a blob once written is never changed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

_HASH = re.compile(r"^[0-9a-f]{64}$")


def _checked(content_hash: str) -> str:
    if not _HASH.fullmatch(content_hash):
        raise ValueError(f"not a SHA-256 in hex: {content_hash!r}")
    return content_hash


class FilesystemPhotoStore:
    """Blobs as files ``<root>/<ab>/<cd>/<hash>`` (sharded by the hash's first bytes), each
    written to a temporary file in the same directory and renamed into place, so a reader
    never sees half a file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, content_hash: str) -> Path:
        digest = _checked(content_hash)
        return self.root / digest[:2] / digest[2:4] / digest

    async def put(self, content_hash: str, data: bytes, media_type: str) -> bool:
        return await asyncio.to_thread(self._put, content_hash, data)

    async def get(self, content_hash: str) -> bytes | None:
        return await asyncio.to_thread(self._get, content_hash)

    def _put(self, content_hash: str, data: bytes) -> bool:
        path = self.path_of(content_hash)
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        return True

    def _get(self, content_hash: str) -> bytes | None:
        try:
            return self.path_of(content_hash).read_bytes()
        except FileNotFoundError:
            return None


class S3PhotoStore:
    """Blobs as objects ``<prefix><ab>/<hash>`` of an S3-compatible bucket (AWS, MinIO, Ceph…),
    through boto3 (its blocking calls run in a worker thread). Credentials come the usual way
    (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, an instance role)."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        prefix: str = "photos/",
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(retries={"mode": "standard", "max_attempts": 3}),
        )

    def key_of(self, content_hash: str) -> str:
        digest = _checked(content_hash)
        return f"{self.prefix}{digest[:2]}/{digest}"

    async def put(self, content_hash: str, data: bytes, media_type: str) -> bool:
        return await asyncio.to_thread(self._put, content_hash, data, media_type)

    async def get(self, content_hash: str) -> bytes | None:
        return await asyncio.to_thread(self._get, content_hash)

    def _put(self, content_hash: str, data: bytes, media_type: str) -> bool:
        key = self.key_of(content_hash)
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
            return False
        except ClientError as error:
            if not _missing(error):
                raise
        self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=media_type)
        return True

    def _get(self, content_hash: str) -> bytes | None:
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=self.key_of(content_hash))
        except ClientError as error:
            if _missing(error):
                return None
            raise
        body: bytes = answer["Body"].read()
        return body


def _missing(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}
