"""Per-request observability as a plain ASGI middleware: the correlation id in and out, metrics
and one access log line per request. (Starlette's ``BaseHTTPMiddleware`` costs a task group
and two memory streams per request; this costs a dict lookup.)"""

from __future__ import annotations

import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.logging import CORRELATION_HEADER, new_correlation_id
from common.metrics import HttpMetrics

_log = structlog.get_logger("gridloop.service")
_CORRELATION = CORRELATION_HEADER.lower().encode()
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        correlation_id = _header(scope, _CORRELATION) or new_correlation_id()
        correlation_id = correlation_id[:128]
        encoded = correlation_id.encode("latin-1", errors="replace")
        started = time.perf_counter()
        status = 500

        async def send_with_correlation(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (_CORRELATION, encoded)]
            await send(message)

        with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
            try:
                await self._app(scope, receive, send_with_correlation)
            finally:
                elapsed = time.perf_counter() - started
                route = scope.get("route")
                template = getattr(route, "path", "unmatched")
                method = scope["method"]
                self._metrics.observe(method, template, status, elapsed)
                if template not in _QUIET_ROUTES:
                    _log.info(
                        "http.request",
                        method=method,
                        route=template,
                        status=status,
                        duration_ms=round(elapsed * 1000, 1),
                    )


def _header(scope: Scope, name: bytes) -> str | None:
    headers: Any = scope.get("headers") or ()
    for key, value in headers:
        if key == name:
            return str(value.decode("latin-1"))
    return None
