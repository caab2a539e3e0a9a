"""RFC 9457 problem details for every HTTP error, so no client ever sees a stack trace."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import sqlalchemy as sa
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from common.db import is_unavailable

PROBLEM_CONTENT_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = 5

_log = structlog.get_logger("gridloop.http")

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details: every error response carries one, as "
    "application/problem+json, never a stack trace.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {
            "type": "string",
            "description": "a URI naming the kind of problem; about:blank when the status says it",
        },
        "title": {"type": "string", "description": "a short summary of the kind of problem"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "what went wrong with this request"},
        "instance": {"type": "string", "description": "the path of the request"},
        "errors": {
            "type": "array",
            "description": "422 only: one entry per invalid field",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {
                        "type": "string",
                        "description": "where the input is wrong: a body field (lat), or the "
                        "location and name of a parameter (query.limit, header.Idempotency-Key)",
                    },
                    "message": {"type": "string"},
                },
            },
        },
    },
}
"""The JSON Schema of :func:`problem_response` bodies, published in every service's OpenAPI."""


class Problem(Exception):
    """Raise from a route to answer with ``application/problem+json``."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.headers = headers or {}
        self.extra = extra or {}


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


def not_found(what: str, identifier: str) -> Problem:
    return Problem(status=404, title="Not Found", detail=f"{what} '{identifier}' was not found")


def _describe_validation_error(error: dict[str, Any]) -> dict[str, Any]:
    location = [str(part) for part in error.get("loc", ()) if part != "body"]
    return {"field": ".".join(location) or "body", "message": error.get("msg", "invalid")}


def install_problem_handlers(app: FastAPI) -> None:
    """Map every error a route can raise onto a problem document."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.title,
            exc.detail,
            instance=request.url.path,
            type_=exc.type,
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(error.get("type") == "json_invalid" for error in errors):
            return problem_response(
                400,
                "Malformed JSON",
                "the request body is not valid JSON",
                instance=request.url.path,
            )
        described = [_describe_validation_error(error) for error in errors]
        summary = "; ".join(f"{item['field']}: {item['message']}" for item in described)
        return problem_response(
            422,
            "Invalid request",
            summary,
            instance=request.url.path,
            extra={"errors": described},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return problem_response(
            exc.status_code,
            status_title(exc.status_code),
            str(exc.detail),
            instance=request.url.path,
            headers=headers,
        )

    async def _failure(request: Request, exc: Exception) -> JSONResponse:
        if is_unavailable(exc):
            _log.warning(
                "http.database_unavailable", path=request.url.path, error=type(exc).__name__
            )
            return problem_response(
                503,
                "Service Unavailable",
                "the service cannot reach its database just now; retry shortly (a write "
                "retried with the same Idempotency-Key takes effect once)",
                instance=request.url.path,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        _log.exception("http.unhandled_error", path=request.url.path)
        return problem_response(
            500,
            "Internal Server Error",
            "the server could not complete the request; it has been logged",
            instance=request.url.path,
        )

    # The infrastructure's errors are answered where the routes run; a handler registered for
    # ``Exception`` alone answers from the outermost middleware, which then re-raises and has
    # the server log a traceback for every 503 while the database is away.
    for failure in INFRASTRUCTURE_ERRORS:
        app.add_exception_handler(failure, _failure)
    app.add_exception_handler(Exception, _failure)


INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (
    sa.exc.DBAPIError,
    sa.exc.DisconnectionError,
    sa.exc.TimeoutError,
    OSError,
)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path, for a 405's ``Allow`` (Starlette
    names only the methods of the first route that matched the path)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


def status_title(status: int) -> str:
    """The standard reason phrase of ``status``, as a problem's title."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
