"""Failures answered as problems: the database away is a 503 with Retry-After, handled where
the routes run (no traceback from the server); anything else a 500 that says nothing inside."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from common.problems import install_problem_handlers


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/database-away")
    async def database_away() -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))

    @app.get("/connection-reset")
    async def connection_reset() -> None:
        raise ConnectionResetError("reset by peer")

    @app.get("/pool-exhausted")
    async def pool_exhausted() -> None:
        raise sa.exc.TimeoutError("QueuePool limit of size 20 overflow 0 reached")

    @app.get("/bug")
    async def bug() -> None:
        raise KeyError("secret-detail")

    return app


def test_an_unreachable_database_is_a_503_answered_without_reraising() -> None:
    # raise_server_exceptions: an error answered only by the outermost middleware is re-raised
    # to the server (which logs a traceback); this client would raise it here.
    client = TestClient(_app(), raise_server_exceptions=True)
    for path in ("/database-away", "/connection-reset", "/pool-exhausted"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert response.headers["content-type"] == "application/problem+json"
        assert int(response.headers["retry-after"]) > 0
        assert response.json()["status"] == 503


def test_an_unexpected_error_is_a_500_that_reveals_nothing() -> None:
    client = TestClient(_app(), raise_server_exceptions=False)
    response = client.get("/bug")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret-detail" not in response.text
