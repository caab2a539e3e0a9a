"""The contract every gridloop service keeps, as tests written once: the operational endpoints,
bearer-token authentication, problem responses for unknown routes, and a consumer that
dead-letters poison messages and keeps its partition flowing. (A service that serves a paged
list also runs :class:`~gridloop_tools.testing.paged_list_suite.PagedListSuite`.)

A service runs the suite by subclassing :class:`ServiceContractSuite` in its own test tree (the
fixtures come from :mod:`gridloop_tools.testing.service_fixtures` through its conftest) and
supplying what differs between services::

    class TestLedgerServiceContract(ServiceContractSuite):
        protected_path = "/v1/accounts/rider-1/balance"
        consumed_topic = Topic.WORKORDERS
        invalid_field = "work_order_id"

        async def valid_event(self, client, auth): ...
        def invalid_event(self): ...
        async def assert_valid_event_applied(self, client, auth, app): ...

A subclass that leaves out a value or a hook fails when its module is imported, so the suite
cannot silently run for fewer services than it should.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import httpx
import jwt
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from common.contracts.envelope import CloudEvent
from common.contracts.topics import Topic
from common.messaging.consumer import EventConsumer
from common.tokens import issue_token
from gridloop_tools.testing.builders import DISTRICT
from gridloop_tools.testing.openapi_suite import OpenApiSuite
from gridloop_tools.testing.service_fixtures import (
    Auth,
    CountingBody,
    DeadLetter,
    Deliver,
    ServiceUnderTest,
    assert_problem,
)

UNPARSEABLE = b"{not json"


def metric_sample(metrics_text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels``, or None."""
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


class ServiceContractSuite(OpenApiSuite):
    """The shared tests; each service's ``Test…Contract`` subclass supplies the values below."""

    protected_path: ClassVar[str]
    """An endpoint that needs a bearer token and that ``protected_role`` may use."""
    protected_method: ClassVar[str] = "GET"
    protected_role: ClassVar[str] = "rider"
    """The role of the token that gets through (as subject ``rider-1``)."""
    consumed_topic: ClassVar[Topic]
    """The topic the poison-message test feeds."""
    invalid_field: ClassVar[str]
    """A field the dead-letter error of :meth:`invalid_event` names."""

    _REQUIRED_VALUES: ClassVar[tuple[str, ...]] = (
        "protected_path",
        "consumed_topic",
        "invalid_field",
    )
    _REQUIRED_HOOKS: ClassVar[tuple[str, ...]] = (
        "valid_event",
        "invalid_event",
        "assert_valid_event_applied",
    )

    # --- what each service supplies -----------------------------------------------------------

    def protected_body(self) -> Any:
        """The JSON body ``protected_role`` sends to ``protected_path`` (None: no body)."""
        return None

    async def valid_event(self, client: httpx.AsyncClient, auth: Auth) -> CloudEvent:
        """Arrange what the consumer needs (through the API), then the event it should apply."""
        raise NotImplementedError

    def invalid_event(self) -> CloudEvent:
        """An event of a type the consumer handles, whose data does not validate."""
        raise NotImplementedError

    async def assert_valid_event_applied(
        self, client: httpx.AsyncClient, auth: Auth, app: FastAPI
    ) -> None:
        """Fail unless the event from :meth:`valid_event` took effect."""
        raise NotImplementedError

    # --- helpers ------------------------------------------------------------------------------

    async def call_protected(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> httpx.Response:
        return await client.request(
            self.protected_method, self.protected_path, json=self.protected_body(), headers=headers
        )

    # --- operational endpoints ----------------------------------------------------------------

    async def test_healthz(
        self, client: httpx.AsyncClient, service_under_test: ServiceUnderTest
    ) -> None:
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "service": service_under_test.name}

    async def test_metrics_exposes_gridloop_series(
        self, client: httpx.AsyncClient, service_under_test: ServiceUnderTest
    ) -> None:
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        assert "gridloop_http_requests_total" in text
        backlog = metric_sample(text, "gridloop_outbox_backlog", service=service_under_test.name)
        assert backlog == 0.0, text

    async def test_an_unknown_route_is_a_problem_404(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/v1/nothing-here"), 404)

    async def test_a_body_declared_over_the_limit_is_413_unread(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        limit: int = app.state.runtime.settings.max_body_bytes
        body = CountingBody(limit + 1)
        headers = {"Content-Type": "application/json", "Content-Length": str(body.total_bytes)}
        response = await client.post("/v1/nothing-here", content=body, headers=headers)
        assert_problem(response, 413, f"larger than {limit} bytes")
        assert body.read == 0

    # --- authentication -----------------------------------------------------------------------

    async def test_a_valid_token_gets_through(self, client: httpx.AsyncClient, auth: Auth) -> None:
        response = await self.call_protected(client, auth(role=self.protected_role))
        assert response.is_success, response.text

    async def test_missing_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await self.call_protected(client, {})
        assert_problem(response, 401, "bearer token is required")
        assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_a_non_bearer_scheme_is_401(self, client: httpx.AsyncClient) -> None:
        response = await self.call_protected(client, {"Authorization": "Basic cmlkZXI6c2VjcmV0"})
        assert_problem(response, 401, "bearer token is required")

    @pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c"])
    async def test_a_garbage_token_is_401(self, client: httpx.AsyncClient, token: str) -> None:
        response = await self.call_protected(client, {"Authorization": f"Bearer {token}"})
        assert_problem(response, 401, "invalid")

    async def test_a_token_signed_with_another_secret_is_401(
        self, client: httpx.AsyncClient
    ) -> None:
        token = issue_token(
            "another-secret-that-is-long-enough-0123456789",
            role=self.protected_role,
            subject="rider-1",
            district=DISTRICT,
        )
        response = await self.call_protected(client, {"Authorization": f"Bearer {token}"})
        assert_problem(response, 401, "Signature verification failed")

    async def test_an_expired_token_is_401(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        token = issue_token(
            app.state.jwt_secret,
            role=self.protected_role,
            subject="rider-1",
            district=DISTRICT,
            ttl_seconds=60,
            now=time.time() - 3600,
        )
        response = await self.call_protected(client, {"Authorization": f"Bearer {token}"})
        assert_problem(response, 401, "expired")

    async def test_a_token_with_an_unknown_role_is_401(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        now = int(time.time())
        claims = {
            "iss": "gridloop",
            "sub": "rider-1",
            "role": "janitor",
            "district": DISTRICT,
            "iat": now,
            "exp": now + 60,
        }
        token = jwt.encode(claims, app.state.jwt_secret, algorithm="HS256")
        response = await self.call_protected(client, {"Authorization": f"Bearer {token}"})
        assert_problem(response, 401, "invalid claims", "role")

    # --- the consumer -------------------------------------------------------------------------

    async def test_poison_messages_go_to_dead_letter_and_the_partition_keeps_flowing(
        self,
        client: httpx.AsyncClient,
        auth: Auth,
        app: FastAPI,
        consumer: EventConsumer[Any],
        deliver: Deliver,
        dead_letters: list[DeadLetter],
        service_under_test: ServiceUnderTest,
    ) -> None:
        valid = await self.valid_event(client, auth)
        invalid = self.invalid_event()
        assert invalid.type in consumer.handlers, "the invalid event must be of a handled type"

        await deliver(UNPARSEABLE, self.consumed_topic)
        await deliver(invalid, self.consumed_topic)
        await deliver(valid, self.consumed_topic)

        reasons = [headers["gridloop-dlq-reason"] for *_, headers in dead_letters]
        assert reasons == ["unparseable", "invalid"]
        poison = [UNPARSEABLE, invalid.to_bytes()]
        for offset, (topic, key, value, headers) in enumerate(dead_letters):
            assert topic == Topic.DEADLETTER.value
            assert (key, value) == (b"k", poison[offset])
            assert headers["gridloop-dlq-original-topic"] == self.consumed_topic.value
            assert headers["gridloop-dlq-original-partition"] == "0"
            assert headers["gridloop-dlq-original-offset"] == str(offset)
            assert headers["gridloop-dlq-consumer"] == service_under_test.name
            assert headers["gridloop-dlq-error"]
        assert self.invalid_field in dead_letters[1][3]["gridloop-dlq-error"]
        await self.assert_valid_event_applied(client, auth, app)
        text = (await client.get("/metrics")).text
        counted = metric_sample(
            text,
            "gridloop_dead_letters_total",
            consumer=service_under_test.name,
            reason="invalid",
        )
        assert counted == 1.0, text


__all__ = ["ServiceContractSuite", "metric_sample"]
