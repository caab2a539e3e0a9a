"""The built front end: hashed assets cached for a year, pages never cached (so a new release
is picked up at the next visit), everything compressed on the way out."""

from __future__ import annotations

from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

IMMUTABLE = b"public, max-age=31536000, immutable"
REVALIDATE = b"no-cache"


class _CacheHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hashed = scope["path"].startswith("/assets/")

        async def with_cache_control(message: Message) -> None:
            if message["type"] == "http.response.start":
                policy = IMMUTABLE if hashed and message["status"] == 200 else REVALIDATE
                message["headers"] = [*message.get("headers", ()), (b"cache-control", policy)]
            await send(message)

        await self._app(scope, receive, with_cache_control)


def web_app(directory: Path) -> ASGIApp:
    """``/`` the rider's app, ``/console/`` the staff console (each an ``index.html``)."""
    return GZipMiddleware(
        _CacheHeaders(StaticFiles(directory=directory, html=True)), minimum_size=512
    )
