"""Cursor (keyset) paging: the sort key of a list item and the opaque cursor that carries it.

Lists are read newest first, ties broken by id (both descending), so a page is "the first
``limit`` items whose ``(at, id)`` is below the last item of the previous page". The cursor a
client gets back is that last item's key, signed with the service's secret and encoded as
URL-safe base64: clients cannot forge or edit one, and a cursor of one list is refused by
another. Pure standard library, so service layers may use :class:`SortKey` in their ports.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from datetime import datetime
from typing import NamedTuple

MAX_CURSOR_LENGTH = 512
"""No cursor this module writes comes near it; longer input is refused before decoding."""
_MAC_BYTES = 16
_KEY_CONTEXT = b"gridloop.paging.cursor.v1"
_URL_SAFE_BASE64 = re.compile(r"[A-Za-z0-9_-]+")


class SortKey(NamedTuple):
    """Where an item sits in a newest-first list: its timestamp, then its id."""

    at: datetime
    id: str


class InvalidCursor(ValueError):
    """A cursor that this list did not hand out: malformed, edited or from another list."""


class CursorCodec:
    """Writes and reads the cursors of one list (``scope``, e.g. ``"reports"``)."""

    def __init__(self, secret: str, scope: str) -> None:
        key = hmac.new(secret.encode(), _KEY_CONTEXT, hashlib.sha256).digest()
        self._key = key
        self._scope = scope.encode()

    def encode(self, key: SortKey) -> str:
        if key.at.tzinfo is None:
            raise ValueError("a cursor needs a timezone-aware timestamp")
        payload = json.dumps([key.at.isoformat(), key.id], separators=(",", ":")).encode()
        token = base64.urlsafe_b64encode(self._mac(payload) + payload).decode("ascii")
        return token.rstrip("=")

    def decode(self, cursor: str) -> SortKey:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise InvalidCursor(f"longer than {MAX_CURSOR_LENGTH} characters")
        if not _URL_SAFE_BASE64.fullmatch(cursor):
            raise InvalidCursor("not URL-safe base64")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError) as error:
            raise InvalidCursor("not URL-safe base64") from error
        mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        if not payload or not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidCursor("not a cursor this list handed out")
        try:
            at_text, item_id = json.loads(payload)
            at = datetime.fromisoformat(at_text)
        except (ValueError, TypeError) as error:  # pragma: no cover - only a signed payload
            raise InvalidCursor("unreadable") from error
        if at.tzinfo is None or not isinstance(item_id, str):  # pragma: no cover - as above
            raise InvalidCursor("unreadable")
        return SortKey(at, item_id)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, self._scope + b"\0" + payload, hashlib.sha256).digest()[
            :_MAC_BYTES
        ]
