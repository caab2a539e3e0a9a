"""WeChat subscribe messages (订阅消息) through the official HTTP API, with httpx.

- ``GET {base}/cgi-bin/token?grant_type=client_credential&appid=…&secret=…`` →
  ``{"access_token", "expires_in"}`` (seconds, up to 7200); the token is cached and fetched
  again ``refresh_margin`` seconds before it expires (or when WeChat says it is no longer valid).
- ``POST {base}/cgi-bin/message/subscribe/send?access_token=…`` with ``touser`` (the openid),
  ``template_id``, ``page``, ``data`` (``{"thing1": {"value": "…"}, …}``), ``miniprogram_state``
  and ``lang`` → ``{"errcode": 0, "errmsg": "ok", "msgid": …}``.

Error codes: 40001 (invalid credential) and 42001 (access_token expired) fetch a new token and
send once more; -1 (system busy), HTTP 5xx and timeouts are transient; 43101 (the user refused,
or their one-time subscription is used up) and 45009 (the daily quota is reached) — and any
other code — are terminal for this channel: the message stays in the inbox.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from notification.domain.delivery import SendResult

TOKEN_INVALID = frozenset({40001, 42001})
SYSTEM_BUSY = -1


class WeChatTokenError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"wechat token {errcode}: {errmsg}")
        self.errcode = errcode


class WeChatClient:
    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        base_url: str = "https://api.weixin.qq.com",
        client: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        miniprogram_state: str = "formal",
        lang: str = "zh_CN",
    ) -> None:
        self._appid = appid
        self._secret = secret
        self._base = base_url.rstrip("/")
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._margin = refresh_margin
        self._clock = clock
        self._state = miniprogram_state
        self._lang = lang
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def access_token(self, stale: str | None = None) -> str:
        """The cached token, fetched anew if it is near expiry or is ``stale`` (refused)."""
        async with self._lock:
            fresh = self._token is not None and self._clock() < self._expires_at - self._margin
            if fresh and self._token != stale:
                assert self._token is not None
                return self._token
            response = await self._client.get(
                f"{self._base}/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self._appid,
                    "secret": self._secret,
                },
            )
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            if "access_token" not in body:
                raise WeChatTokenError(int(body.get("errcode", -1)), str(body.get("errmsg", "")))
            self._token = str(body["access_token"])
            self._expires_at = self._clock() + float(body.get("expires_in", 7200))
            return self._token

    async def send(
        self, openid: str, template_id: str, data: dict[str, Any], page: str | None
    ) -> SendResult:
        message = {
            "touser": openid,
            "template_id": template_id,
            "data": data,
            "miniprogram_state": self._state,
            "lang": self._lang,
            **({"page": page} if page else {}),
        }
        stale: str | None = None
        for _ in range(2):
            try:
                token = await self.access_token(stale)
                response = await self._client.post(
                    f"{self._base}/cgi-bin/message/subscribe/send",
                    params={"access_token": token},
                    json=message,
                )
            except WeChatTokenError as error:
                if error.errcode == SYSTEM_BUSY:
                    return SendResult.retry(str(error))
                return SendResult.refused(str(error))
            except httpx.TimeoutException:
                return SendResult.retry("timeout")
            except httpx.HTTPError as error:
                return SendResult.retry(f"{type(error).__name__}: {error}"[:300])
            if response.status_code >= 500:
                return SendResult.retry(f"HTTP {response.status_code}", response.status_code)
            body: dict[str, Any] = response.json()
            errcode = int(body.get("errcode", 0))
            if errcode == 0:
                return SendResult.sent(response.status_code)
            error_text = f"wechat {errcode}: {body.get('errmsg', '')}"[:300]
            if errcode in TOKEN_INVALID:
                stale = token
                continue
            if errcode == SYSTEM_BUSY:
                return SendResult.retry(error_text)
            return SendResult.refused(error_text)
        return SendResult.retry(error_text)
