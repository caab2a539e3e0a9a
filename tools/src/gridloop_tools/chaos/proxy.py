"""A TCP proxy between the services and their database that can cut the line.

It runs its own event loop on a thread of the calling process, so it keeps forwarding whatever
the caller does. ``cut(seconds)`` drops every open connection at once (both ends see a reset,
so PostgreSQL ends those sessions and releases their locks) and, for that long, accepts new
connections only to close them; then it forwards again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

_CHUNK = 64 * 1024


@dataclass
class ProxyCounts:
    forwarded: int = 0
    """Connections opened to the upstream."""
    dropped: int = 0
    """Open connections a cut reset."""
    refused: int = 0
    """Connections accepted and closed at once during a cut."""


class TcpProxy:
    def __init__(
        self, upstream_host: str, upstream_port: int, *, listen_host: str = "127.0.0.1"
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host = listen_host
        self.port = 0
        self.counts = ProxyCounts()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._refuse_until = 0.0

    def start(self) -> TcpProxy:
        """Listen on a free port (``self.port``) and forward from a background thread."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            self._server = loop.run_until_complete(asyncio.start_server(self._accept, self.host, 0))
            self.port = int(self._server.sockets[0].getsockname()[1])
            started.set()
            loop.run_forever()

        self._thread = threading.Thread(target=serve, name="gridloop-db-proxy", daemon=True)
        self._thread.start()
        if not started.wait(timeout=10):
            raise RuntimeError("the database proxy did not start listening")
        return self

    def cut(self, seconds: float) -> None:
        """Drop every open connection now and refuse new ones for ``seconds``."""
        self._call(self._cut(seconds))

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None
        self._thread = None

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("the database proxy is not running")
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _cut(self, seconds: float) -> None:
        self._refuse_until = asyncio.get_running_loop().time() + seconds
        open_now = list(self._open)
        self.counts.dropped += len(open_now) // 2
        for writer in open_now:
            writer.transport.abort()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._open):
            writer.transport.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if asyncio.get_running_loop().time() < self._refuse_until:
            self.counts.refused += 1
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self.counts.forwarded += 1
        self._open.update((writer, upstream_writer))
        try:
            await asyncio.gather(
                self._pump(reader, upstream_writer), self._pump(upstream_reader, writer)
            )
        finally:
            self._open.difference_update((writer, upstream_writer))

    @staticmethod
    async def _pump(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
        """Copy until either side closes, then close both: a half-open database connection is
        of no use to anyone."""
        try:
            while data := await source.read(_CHUNK):
                target.write(data)
                await target.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            target.close()
            with contextlib.suppress(ConnectionError, OSError):
                await target.wait_closed()
