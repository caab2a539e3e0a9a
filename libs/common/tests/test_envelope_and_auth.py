from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from starlette.requests import Request

from common.auth import (
    DEVELOPMENT_SECRET,
    Principal,
    Role,
    TokenError,
    authorise_own_data,
    issue_token,
    optional_principal,
    validate_secret,
    verify_token,
)
from common.contracts.envelope import CloudEvent, EnvelopeError
from common.problems import Problem


def event(**overrides: object) -> CloudEvent:
    values: dict[str, object] = {
        "type": "gridloop.report.submitted",
        "source": "/gridloop/370812/reporting",
        "subject": "rep-1",
        "district": "370812",
        "correlationid": "c-1",
        "sequence": 1,
        "data": {"report_id": "rep-1"},
    }
    values.update(overrides)
    return CloudEvent.model_validate(values)


def test_a_cloud_event_round_trips_in_structured_json_mode() -> None:
    original = event()
    document = json.loads(original.to_bytes())
    assert document["specversion"] == "1.0"
    assert document["datacontenttype"] == "application/json"
    assert CloudEvent.from_bytes(original.to_bytes()) == original


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty message"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"specversion": "1.0"}).encode(), "not a valid CloudEvent"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_unreadable_messages_say_why(raw: bytes, message: str) -> None:
    with pytest.raises(EnvelopeError, match=message):
        CloudEvent.from_bytes(raw)


@pytest.mark.parametrize(
    "override",
    [{"type": "report.submitted"}, {"district": "37081"}, {"sequence": -1}, {"subject": ""}],
)
def test_envelope_attributes_are_validated(override: dict[str, object]) -> None:
    with pytest.raises(EnvelopeError):
        CloudEvent.from_bytes(json.dumps({**json.loads(event().to_bytes()), **override}).encode())


def test_a_token_carries_role_district_and_grids() -> None:
    token = issue_token(
        DEVELOPMENT_SECRET, role="grid_worker", subject="w-1", district="370812", grids=["g-1"]
    )
    principal = verify_token(DEVELOPMENT_SECRET, token)
    assert (principal.subject, principal.role, principal.district, principal.grids) == (
        "w-1",
        Role.GRID_WORKER,
        "370812",
        ("g-1",),
    )


def test_expired_and_foreign_tokens_are_refused() -> None:
    expired = issue_token(
        DEVELOPMENT_SECRET, role="rider", subject="r", district="370812", ttl_seconds=60, now=0
    )
    with pytest.raises(TokenError, match="expired"):
        verify_token(DEVELOPMENT_SECRET, expired)
    foreign = issue_token("x" * 40, role="rider", subject="r", district="370812")
    with pytest.raises(TokenError, match="invalid"):
        verify_token(DEVELOPMENT_SECRET, foreign)


def test_a_grids_claim_that_is_not_a_list_is_refused() -> None:
    import time

    import jwt

    now = int(time.time())
    token = jwt.encode(
        {
            "iss": "gridloop",
            "sub": "w",
            "role": "grid_worker",
            "district": "370812",
            "grids": "g-1",
            "iat": now,
            "exp": now + 3600,
        },
        DEVELOPMENT_SECRET,
        algorithm="HS256",
    )
    with pytest.raises(TokenError, match="grids"):
        verify_token(DEVELOPMENT_SECRET, token)


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        validate_secret("too-short")


# --- what a caller may see --------------------------------------------------------------------


def principal(role: str, subject: str = "me") -> Principal:
    return Principal(subject=subject, role=Role(role), district="370812")


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_everyone_sees_their_own_data(role: str) -> None:
    authorise_own_data(principal(role, "me"), "me", "inbox")


@pytest.mark.parametrize("role", ["supervisor", "admin", "service"])
def test_staff_see_anyones_data(role: str) -> None:
    authorise_own_data(principal(role), "rider-1", "inbox")


@pytest.mark.parametrize("role", ["rider", "grid_worker", "department"])
def test_nobody_else_sees_anothers_data(role: str) -> None:
    with pytest.raises(Problem) as refused:
        authorise_own_data(principal(role), "someone-else", "inbox")
    assert refused.value.status == 403
    assert refused.value.detail == f"a {role} may only see their own inbox"


def request_with(headers: dict[str, str]) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(jwt_secret=DEVELOPMENT_SECRET))
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return Request({"type": "http", "headers": raw, "app": app})


async def test_a_public_route_takes_a_caller_without_a_token_as_nobody() -> None:
    assert await optional_principal(request_with({})) is None


async def test_a_public_route_knows_a_caller_by_a_valid_token() -> None:
    token = issue_token(
        DEVELOPMENT_SECRET, role="rider", subject="r-1", district="370812", districts=["370811"]
    )
    found = await optional_principal(request_with({"Authorization": f"Bearer {token}"}))
    assert found is not None
    assert (found.subject, found.all_districts) == ("r-1", ("370812", "370811"))


@pytest.mark.parametrize("header", ["Bearer nonsense", "Basic cmlkZXI6c2VjcmV0", "Bearer "])
async def test_a_public_route_still_refuses_a_bad_token(header: str) -> None:
    with pytest.raises(Problem) as refused:
        await optional_principal(request_with({"Authorization": header}))
    assert refused.value.status == 401
    assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")
