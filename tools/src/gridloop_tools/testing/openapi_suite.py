"""A service answers as its OpenAPI says, for every caller: tests written once, run by every
service through :class:`~gridloop_tools.testing.service_suite.ServiceContractSuite`.

Two checks. The document lists each operation's errors as problem documents (401 and 403 where
a token is needed, 404 where the path has parameters, 422 where there is input, 400 and 413
where there is a body, 500 and 503 everywhere). And schemathesis generates requests for every
operation from that document — valid ones, invalid ones and the edge cases of each schema —
and sends them to the real app on a real migrated SQLite file, once with a token of each role
and once without one; every response must be documented (status, content type, headers,
body schema), none may be a server error, and what the document calls invalid must be refused,
with a bounded, derandomized number of examples per operation.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, ClassVar

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis import Case
from schemathesis.python import asgi
from schemathesis.python.asgi import ASGIClient

from common.problems import PROBLEM_CONTENT_TYPE, PROBLEM_SCHEMA
from common.service.openapi import PROBLEM_REF
from common.service.settings import ServiceSettings
from common.tokens import Role, issue_token
from gridloop_tools.testing.builders import DISTRICT
from gridloop_tools.testing.shared_suite import SharedSuite

Caller = dict[str, str]
"""The headers that say who calls: an Authorization header, or none."""

CALLERS: tuple[str | None, ...] = (*(role.value for role in Role), None)
"""A token of each role, and no token at all."""
EXAMPLES_PER_OPERATION = 25
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
)
"""What every response must pass: no server error; status, content type, headers and body as
documented; what the document calls invalid (a string for a number, a category code that is
not four digits, a field too long, a missing required header) refused; a method the path does
not serve answered 405 with every method it does in ``Allow``. What the document allows may
still be refused as documented — a well-formed category code that no catalogue lists is a
documented 422 — since valid data is not required to succeed (no ``positive_data_acceptance``):
the data behind a request (a district's catalogue) is not in the document."""
SCHEMATHESIS_CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 370812,
        "generation": {
            "mode": "all",
            "max-examples": EXAMPLES_PER_OPERATION,
            "deterministic": True,
            # The bearer token comes from the test, for one role at a time (or none).
            "with-security-parameters": False,
        },
        # Explicit examples, boundary cases and fuzzing, per operation; no stateful sequences
        # (the operations declare no links).
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            "enabled": False,
            **{name: {"enabled": True} for name in CHECKS},
        },
        "cache": {"enabled": False},
    }
)


def bearer_headers(app: FastAPI, role: str | None) -> Caller:
    if role is None:
        return {}
    token = issue_token(
        app.state.jwt_secret, role=role, subject="rider-1", district=DISTRICT, grids=("G1",)
    )
    return {"Authorization": f"Bearer {token}"}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def answers_as_documented(
    bootstrap: ModuleType, settings: type[ServiceSettings]
) -> Callable[..., None]:
    """The schemathesis test of one service, for its contract test class::

        test_every_operation_answers_as_documented = answers_as_documented(
            bootstrap, LedgerSettings
        )

    The operations are read from the document of an app built here (schemathesis collects one
    test per operation, before any fixture exists); each test then sends its requests to the
    test's own ``app``, as many times over as there are callers."""
    document = bootstrap.create_app(
        settings(database_url="sqlite+aiosqlite:///:memory:", migrate_on_start=False)
    ).openapi()
    schema = schemathesis.openapi.from_dict(document, config=SCHEMATHESIS_CONFIG)

    @schema.parametrize()
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def test(self: OpenApiSuite, case: Case, asgi_client: ASGIClient, caller: Caller) -> None:
        case.call_and_validate(session=asgi_client, base_url=asgi_client.base_url, headers=caller)

    return test


class OpenApiSuite(SharedSuite):
    """The OpenAPI tests; a service's contract class adds the schemathesis test built by
    :func:`answers_as_documented`."""

    _REQUIRED_VALUES: ClassVar[tuple[str, ...]] = ("test_every_operation_answers_as_documented",)
    public_operations: ClassVar[frozenset[tuple[str, str]]] = frozenset({("GET", "/v1/categories")})
    """The operations that may be called without a token (reference data, like Open311)."""

    @pytest.fixture(params=CALLERS, ids=lambda role: role or "no-token")
    def caller(self, request: pytest.FixtureRequest, app: FastAPI) -> Caller:
        """The Authorization header of a token of one role, or no header."""
        return bearer_headers(app, request.param)

    @pytest.fixture
    def asgi_client(self, app: FastAPI) -> ASGIClient:
        """schemathesis' in-process client of the test's app. Made here rather than by
        schemathesis, so the app's lifespan (migrations, broker, relay) never starts: the
        service tests run requests only."""
        # Starlette types the ASGI messages as MutableMapping, schemathesis as dict: the same
        # protocol, spelled differently.
        return asgi.get_client(app)  # type: ignore[arg-type]

    # --- the document -------------------------------------------------------------------------

    def test_every_error_is_documented_as_a_problem(self, app: FastAPI) -> None:
        document = app.openapi()
        schemas = document["components"]["schemas"]
        assert schemas["Problem"] == PROBLEM_SCHEMA
        assert not {"HTTPValidationError", "ValidationError"} & set(schemas)
        for method, path, operation in operations(document):
            responses = operation["responses"]
            errors = {status for status in responses if status[0] in "45"}
            for status in errors:
                content = responses[status]["content"]
                assert content == {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_REF}}}, (
                    method,
                    path,
                    status,
                )
            expected = {"500", "503"}
            if operation.get("security"):
                expected |= {"401", "403"}
            if "{" in path:
                expected.add("404")
            if operation.get("parameters") or "requestBody" in operation:
                expected.add("422")
            if "requestBody" in operation:
                expected |= {"400", "413"}
            assert expected <= errors, (method, path, sorted(expected - errors))

    def test_only_reference_data_is_public(self, app: FastAPI) -> None:
        public = {
            (method, path)
            for method, path, operation in operations(app.openapi())
            if not operation.get("security")
        }
        assert public <= self.public_operations


__all__ = ["CALLERS", "OpenApiSuite", "answers_as_documented", "bearer_headers"]
