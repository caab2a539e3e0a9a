"""A local stand-in for the WeChat API (api.weixin.qq.com) that answers as its documentation
says: ``GET /cgi-bin/token`` and ``POST /cgi-bin/message/subscribe/send``, with the documented
error codes (40013 invalid appid, 40001 invalid credential, 42001 access_token expired, 43101
user refused, 45009 daily quota reached, 47003 bad data)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gridloop_tools.testing.webhook_receiver import free_port


@dataclass
class WeChatStandIn:
    appid: str = "wx-test-app"
    secret: str = "wx-test-secret"  # noqa: S105 - the stand-in's own test credential
    expires_in: int = 7200
    refusing: set[str] = field(default_factory=set)
    """openids whose one-time subscription is used up or refused (43101)."""
    quota: int | None = None
    """Sends left today (45009 once spent); None: unlimited."""
    busy: int = 0
    """The next sends answered -1 (system busy)."""
    tokens_issued: list[str] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    sent: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""

    def expire_tokens(self) -> None:
        """Every token issued so far is no longer valid (as after its 7200 s, or a refetch)."""
        self.valid_tokens.clear()

    async def token(self, request: Request) -> JSONResponse:
        query = request.query_params
        if query.get("grant_type") != "client_credential":
            return JSONResponse({"errcode": 40002, "errmsg": "invalid grant_type"})
        if query.get("appid") != self.appid:
            return JSONResponse({"errcode": 40013, "errmsg": "invalid appid"})
        if query.get("secret") != self.secret:
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        token = f"ACCESS_TOKEN_{len(self.tokens_issued) + 1}"
        self.tokens_issued.append(token)
        self.valid_tokens = {token}  # fetching again invalidates the previous token
        return JSONResponse({"access_token": token, "expires_in": self.expires_in})

    async def send(self, request: Request) -> JSONResponse:
        token = request.query_params.get("access_token", "")
        if token not in self.valid_tokens:
            if token in self.tokens_issued:
                return JSONResponse({"errcode": 42001, "errmsg": "access_token expired"})
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        body = await request.json()
        if not (
            body.get("touser") and body.get("template_id") and isinstance(body.get("data"), dict)
        ):
            return JSONResponse({"errcode": 47003, "errmsg": "argument invalid!"})
        if self.busy:
            self.busy -= 1
            return JSONResponse({"errcode": -1, "errmsg": "system error"})
        if body["touser"] in self.refusing:
            return JSONResponse({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
        if self.quota is not None:
            if self.quota <= 0:
                return JSONResponse({"errcode": 45009, "errmsg": "reach max api daily quota limit"})
            self.quota -= 1
        self.sent.append(body)
        return JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": len(self.sent)})


@contextlib.asynccontextmanager
async def running(standin: WeChatStandIn) -> AsyncIterator[WeChatStandIn]:
    port = free_port()
    app = Starlette(
        routes=[
            Route("/cgi-bin/token", standin.token, methods=["GET"]),
            Route("/cgi-bin/message/subscribe/send", standin.send, methods=["POST"]),
        ]
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False
        )
    )
    task = asyncio.create_task(server.serve())
    # uvicorn offers no event to await for its startup; poll its flag (a few milliseconds).
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    standin.base_url = f"http://127.0.0.1:{port}"
    try:
        yield standin
    finally:
        server.should_exit = True
        await task
