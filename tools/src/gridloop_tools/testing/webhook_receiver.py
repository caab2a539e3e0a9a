"""A real local HTTP receiver for webhook tests: it verifies each request's gridloop signature
(HMAC-SHA256 over ``<timestamp>.<body>``) on its own and answers with the statuses it is told to."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Received:
    delivery_id: str
    timestamp: str
    signatures: list[str]
    body: dict[str, Any]
    valid_with: list[str]
    """Which of the receiver's secrets a signature matched."""


@dataclass
class Receiver:
    secrets: list[str]
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    """Status and headers for the next requests, in order; 200 once they run out."""
    received: list[Received] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        timestamp = request.headers["X-Gridloop-Timestamp"]
        signatures = [
            part.removeprefix("v1=") for part in request.headers["X-Gridloop-Signature"].split(",")
        ]
        valid_with = [
            secret
            for secret in self.secrets
            if any(
                hmac.compare_digest(
                    hmac.new(
                        secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256
                    ).hexdigest(),
                    signature,
                )
                for signature in signatures
            )
        ]
        self.received.append(
            Received(
                delivery_id=request.headers["X-Gridloop-Delivery"],
                timestamp=timestamp,
                signatures=signatures,
                body=json.loads(raw),
                valid_with=valid_with,
            )
        )
        if not valid_with:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        status, headers = self.answers.pop(0) if self.answers else (200, {})
        return JSONResponse({"ok": status < 300}, status_code=status, headers=headers)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def running(receiver: Receiver) -> AsyncIterator[Receiver]:
    port = free_port()
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False
        )
    )
    task = asyncio.create_task(server.serve())
    # uvicorn offers no event to await for its startup; poll its flag (a few milliseconds).
    while not server.started:
        if task.done():
            task.result()  # the server failed to start: raise why
        await asyncio.sleep(0.01)
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
