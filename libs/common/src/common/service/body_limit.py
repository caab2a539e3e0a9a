"""A ceiling on request bodies, so no client makes a service read megabytes before it refuses.

:class:`RequestBodyLimit` is pure ASGI middleware. A request whose ``Content-Length`` is over
the limit of its route is answered 413 at once, before any of the body is read; a body sent
without a length (chunked) is counted as the app reads it, and the read that crosses the limit
ends the request with 413 without reading the rest. Each service has a default limit
(``<PREFIX>MAX_BODY_BYTES``); a route that needs more says so with :func:`allow_body_bytes`,
for every body it takes or only for bodies of one media type (an upload in
``multipart/form-data`` beside the same route's JSON, which keeps the default).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.problems import problem_response, status_title

DEFAULT_MAX_BODY_BYTES = 64 * 1024
_LIMIT_ATTRIBUTE = "__gridloop_max_body_bytes__"

EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])


def allow_body_bytes(
    max_bytes: int, *, media_type: str | None = None
) -> Callable[[EndpointT], EndpointT]:
    """Decorate a route's endpoint (below ``@router.put(...)``) to let it take bodies of up to
    ``max_bytes`` instead of the service default — of any media type, or only those whose
    ``Content-Type`` is ``media_type`` (e.g. ``multipart/form-data``)."""
    if max_bytes < 1:
        raise ValueError("a body limit is at least one byte")

    def mark(endpoint: EndpointT) -> EndpointT:
        setattr(endpoint, _LIMIT_ATTRIBUTE, (max_bytes, media_type))
        return endpoint

    return mark


class RequestBodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body crosses the limit; FastAPI passes an
    HTTPException through its body parsing, so the problem handlers answer it with a 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {max_bytes} bytes")


@dataclass(frozen=True)
class RouteBodyLimit:
    methods: frozenset[str]
    path: re.Pattern[str]
    path_template: str
    max_bytes: int
    media_type: str | None = None
    """The limit holds only for bodies of this media type (any if None)."""

    def applies_to(self, content_type: str | None) -> bool:
        if self.media_type is None:
            return True
        declared = (content_type or "").split(";", 1)[0].strip().lower()
        return declared == self.media_type


def route_body_limits(routers: Iterable[APIRouter]) -> list[RouteBodyLimit]:
    """The routes whose endpoint was decorated with :func:`allow_body_bytes`."""
    return [
        RouteBodyLimit(
            methods=frozenset(route.methods or ()),
            path=route.path_regex,
            path_template=route.path,
            max_bytes=getattr(route.endpoint, _LIMIT_ATTRIBUTE)[0],
            media_type=getattr(route.endpoint, _LIMIT_ATTRIBUTE)[1],
        )
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and hasattr(route.endpoint, _LIMIT_ATTRIBUTE)
    ]


class BodyLimits:
    """The limit of each route: its own where it has one, the default elsewhere."""

    def __init__(self, default: int, routes: Sequence[RouteBodyLimit] = ()) -> None:
        self.default = default
        self.routes = tuple(routes)

    def for_request(self, method: str, path: str, content_type: str | None = None) -> int:
        for route in self.routes:
            if (
                method in route.methods
                and route.path.fullmatch(path)
                and route.applies_to(content_type)
            ):
                return route.max_bytes
        return self.default

    def for_operation(self, method: str, path_template: str) -> int:
        """The limit an operation documents: that of bodies of any media type."""
        for route in self.routes:
            if (
                method in route.methods
                and route.path_template == path_template
                and route.media_type is None
            ):
                return route.max_bytes
        return self.default


class RequestBodyLimit:
    """ASGI middleware refusing bodies over the limit with a 413 problem."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type = Headers(scope=scope).get("content-type")
        max_bytes = self.limits.for_request(scope["method"], scope["path"], content_type)
        declared = _content_length(scope)
        if declared is not None and declared > max_bytes:
            await _refuse(scope, receive, send, max_bytes)
            return
        received = 0
        response_started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise RequestBodyTooLarge(max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except RequestBodyTooLarge:
            # Read outside FastAPI's body parsing, so no handler answered it: answer here.
            if response_started:
                raise
            await _refuse(scope, receive, send, max_bytes)


async def _refuse(scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
    response = problem_response(
        413,
        status_title(413),
        f"the request body is larger than {max_bytes} bytes",
        instance=scope["path"],
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "BodyLimits",
    "RequestBodyLimit",
    "RequestBodyTooLarge",
    "allow_body_bytes",
    "route_body_limits",
]
