"""Every operation's OpenAPI lists the errors it can answer, as the server answers them.

FastAPI documents only a 422 (as ``application/json``, with its own ``HTTPValidationError``
schema) and whatever a route declares. :func:`document_problems` rewrites the generated
document once for all routes of a service: each error is ``application/problem+json`` with the
shared ``Problem`` schema, and an operation lists the errors that follow from its shape — 401
and 403 when it needs a bearer token, 404 when its path has parameters, 422 when it takes
input, 400 and 413 when it takes a body, 409 where the route declares it, and 500 and 503
everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from common.problems import PROBLEM_CONTENT_TYPE, PROBLEM_SCHEMA, RETRY_AFTER_SECONDS

BodyLimit = Callable[[str, str], int]
"""(method, path template) -> the largest request body the route accepts, in bytes."""

PROBLEM_REF = "#/components/schemas/Problem"
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

_DESCRIPTIONS = {
    "400": "The body is not valid JSON.",
    "401": "No bearer token, or one that is malformed, expired or not signed by this service.",
    "403": "The token's role or district may not do this.",
    "404": "Nothing under this path is visible to the caller.",
    "409": "The request conflicts with the current state.",
    "413": "The body is larger than this operation accepts.",
    "422": "A parameter or the body is invalid; `errors` names each field.",
    "500": "An unexpected error; it has been logged (without the request's data).",
    "503": "The service cannot reach its database just now; retry after Retry-After seconds.",
}
_HEADERS = {
    "401": {
        "WWW-Authenticate": {
            "description": 'the scheme to authenticate with: Bearer realm="gridloop"',
            "required": True,
            "schema": {"type": "string"},
        }
    },
    "503": {
        "Retry-After": {
            "description": f"seconds to wait before retrying ({RETRY_AFTER_SECONDS})",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}


def document_problems(app: FastAPI, body_limit: BodyLimit) -> None:
    """Make ``app.openapi()`` document every operation's problem responses."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        return add_problem_responses(generate(), body_limit)

    app.openapi = openapi  # type: ignore[method-assign]


def add_problem_responses(document: dict[str, Any], body_limit: BodyLimit) -> dict[str, Any]:
    """Rewrite ``document`` in place (idempotent) and return it."""
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method in _HTTP_METHODS:
                _document_operation(operation, body_limit(method.upper(), path))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    _drop_unreferenced(schemas, _FASTAPI_VALIDATION_SCHEMAS, document)
    return document


def _possible_errors(operation: dict[str, Any]) -> set[str]:
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    errors = {"500", "503"}
    if operation.get("security"):
        errors |= {"401", "403"}
    if any(parameter.get("in") == "path" for parameter in parameters):
        errors.add("404")
    if parameters or has_body:
        errors.add("422")
    if has_body:
        errors |= {"400", "413"}
    return errors


def _document_operation(operation: dict[str, Any], max_body_bytes: int) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    declared = {
        status
        for status, response in responses.items()
        if status[0] in "45" and not _is_fastapi_validation_error(response)
    }
    for status in sorted(_possible_errors(operation) | declared):
        response = responses.setdefault(status, {})
        if status not in declared or not response.get("description"):
            response["description"] = _DESCRIPTIONS.get(status, "An error.")
        if status == "413":
            response["description"] = f"The body is larger than {max_body_bytes} bytes."
        response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_REF}}}
        if status in _HEADERS:
            response["headers"] = _HEADERS[status]


def _is_fastapi_validation_error(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return str(schema.get("$ref", "")).endswith("/HTTPValidationError")


def _drop_unreferenced(
    schemas: dict[str, Any], names: tuple[str, ...], document: dict[str, Any]
) -> None:
    for name in names:
        if name in schemas and f"#/components/schemas/{name}" not in _references(document):
            del schemas[name]


def _references(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _references(value)
        return found
    if isinstance(node, list):
        found = set()
        for item in node:
            found |= _references(item)
        return found
    return set()


__all__ = ["PROBLEM_REF", "BodyLimit", "add_problem_responses", "document_problems"]
