"""Forwarding a browser's request to a service and its answer back, streamed both ways (a
photo upload or a CSV export is never held whole in the gateway)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse

from common.problems import Problem

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
"""Headers that belong to one connection, not to the request: never forwarded (httpx and
uvicorn set their own framing)."""


SERVICE = "gateway"
"""The ``service`` label every gridloop series carries."""


class UpstreamMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "gridloop_gateway_upstream_requests_total",
            "Requests the gateway forwarded to a service, by the answer's status class "
            "(unreachable: no answer; timeout: no answer in time)",
            ["service", "upstream", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "gridloop_gateway_upstream_duration_seconds",
            "Time until a service's answer began",
            ["service", "upstream"],
            registry=registry,
        )

    def observe(self, upstream: str, outcome: str, seconds: float | None = None) -> None:
        self.requests.labels(SERVICE, upstream, outcome).inc()
        if seconds is not None:
            self.duration.labels(SERVICE, upstream).observe(seconds)


class Upstreams:
    """The four services behind ``/api/<name>/``."""

    def __init__(
        self, urls: Mapping[str, str], *, timeout: float, metrics: UpstreamMetrics
    ) -> None:
        self._urls = dict(urls)
        self._metrics = metrics
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            follow_redirects=False,
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._urls)

    async def close(self) -> None:
        await self._client.aclose()

    async def forward(self, name: str, path: str, request: Request) -> StreamingResponse:
        base = self._urls.get(name)
        if base is None:
            raise Problem(
                404,
                "Not Found",
                f"there is no service '{name}' behind /api/ (known: {', '.join(self._urls)})",
            )
        url = httpx.URL(f"{base}/{path}", query=request.url.query.encode("latin-1"))
        outgoing = httpx.Request(
            request.method,
            url,
            headers=_forwarded_headers(request),
            content=_body(request) if request.method not in {"GET", "HEAD"} else None,
        )
        started = time.perf_counter()
        try:
            answer = await self._client.send(outgoing, stream=True)
        except httpx.TimeoutException as error:
            self._metrics.observe(name, "timeout")
            raise Problem(
                504,
                "Gateway Timeout",
                f"the {name} service did not answer in time; try again shortly",
            ) from error
        except httpx.TransportError as error:
            self._metrics.observe(name, "unreachable")
            raise Problem(
                502,
                "Bad Gateway",
                f"the {name} service cannot be reached at the moment; try again shortly",
            ) from error
        self._metrics.observe(name, f"{answer.status_code // 100}xx", time.perf_counter() - started)
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
        return StreamingResponse(
            answer.aiter_raw(),
            status_code=answer.status_code,
            headers=headers,
            background=BackgroundTask(answer.aclose),
        )


def _forwarded_headers(request: Request) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    client = request.client.host if request.client else ""
    prior = request.headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{prior}, {client}" if prior else client
    headers["x-forwarded-proto"] = request.url.scheme
    headers["x-forwarded-host"] = request.headers.get("host", "")
    return headers


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk
