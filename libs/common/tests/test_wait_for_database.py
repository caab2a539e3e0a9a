"""A service starting while its database is out of reach waits for it; a database that answers
with a configuration error (no such database) is not waited for."""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa

from common.db import create_engine, wait_until_reachable
from gridloop_tools.chaos.proxy import TcpProxy


async def test_waits_while_the_database_is_out_of_reach_then_returns(postgres_url: str) -> None:
    url = sa.make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    proxy.cut(1.0)
    through_proxy = url.set(host=proxy.host, port=proxy.port)
    engine = create_engine(through_proxy.render_as_string(hide_password=False))
    waits: list[str] = []
    started = time.monotonic()
    try:
        await asyncio.wait_for(
            wait_until_reachable(
                engine, lambda error, delay: waits.append(type(error).__name__), first_delay=0.05
            ),
            20,
        )
    finally:
        await engine.dispose()
        proxy.stop()
    assert len(waits) >= 2, waits
    assert time.monotonic() - started >= 1.0


async def test_a_database_that_does_not_exist_is_an_error_not_a_wait(postgres_url: str) -> None:
    url = sa.make_url(postgres_url).set(database="gridloop_no_such_database")
    engine = create_engine(url.render_as_string(hide_password=False))
    waits: list[float] = []
    try:
        with pytest.raises(sa.exc.DBAPIError, match="does not exist"):
            await asyncio.wait_for(
                wait_until_reachable(engine, lambda _, delay: waits.append(delay)), 10
            )
    finally:
        await engine.dispose()
    assert waits == []
