from __future__ import annotations

import json

import pytest

from common.auth import (
    DEVELOPMENT_SECRET,
    Role,
    TokenError,
    issue_token,
    validate_secret,
    verify_token,
)
from common.contracts.envelope import CloudEvent, EnvelopeError


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
