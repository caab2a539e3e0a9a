"""Bearer tokens: who they say is calling, minting and verifying them (no web framework:
tools that mint tokens import only this; the request dependencies are in :mod:`common.auth`).

Tokens are HS256 JWTs signed with the secret in ``GRIDLOOP_JWT_SECRET``. Claims: ``sub`` (the
principal: a rider, a grid worker, a service), ``role``, ``district`` (the home district, a
6-digit admin code), ``districts`` (optional: further districts the token covers, e.g. a city
command centre or a rider who delivers across a district border), ``grids`` (grid ids a grid
worker may act in), ``iss``, ``iat``, ``exp``. Every service serves every district; what a
caller may see and do is decided per resource by the districts the token covers.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Any

import jwt
from pydantic import BaseModel, Field, ValidationError

ISSUER = "gridloop"
ALGORITHM = "HS256"
DEVELOPMENT_SECRET = "gridloop-development-secret-change-me-0123456789"  # noqa: S105
MINIMUM_SECRET_LENGTH = 32


class Role(StrEnum):
    RIDER = "rider"
    GRID_WORKER = "grid_worker"
    DEPARTMENT = "department"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    SERVICE = "service"


class Principal(BaseModel):
    """Who is calling, as asserted by a verified token."""

    subject: str = Field(min_length=1, max_length=128)
    role: Role
    district: str = Field(pattern=r"^\d{6}$")
    districts: tuple[Annotated[str, Field(pattern=r"^\d{6}$")], ...] = ()
    """Further districts the token covers, besides ``district``."""
    grids: tuple[str, ...] = ()

    def is_staff(self) -> bool:
        return self.role in {Role.SUPERVISOR, Role.ADMIN, Role.SERVICE}

    def covers(self, district: str) -> bool:
        return district == self.district or district in self.districts

    @property
    def all_districts(self) -> tuple[str, ...]:
        return (self.district, *(d for d in self.districts if d != self.district))


class TokenError(Exception):
    """A token is missing, malformed, expired or carries bad claims."""


def validate_secret(secret: str) -> str:
    if len(secret) < MINIMUM_SECRET_LENGTH:
        raise ValueError(f"the JWT secret must be at least {MINIMUM_SECRET_LENGTH} characters long")
    return secret


def issue_token(
    secret: str,
    *,
    role: Role | str,
    subject: str,
    district: str,
    grids: tuple[str, ...] | list[str] = (),
    districts: tuple[str, ...] | list[str] = (),
    ttl_seconds: int = 12 * 3600,
    now: float | None = None,
) -> str:
    """Mint a signed token. Used by the ``gridloop token`` command, the simulator and tests."""
    principal = Principal(
        subject=subject,
        role=Role(role),
        district=district,
        districts=tuple(districts),
        grids=tuple(grids),
    )
    issued_at = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": principal.subject,
        "role": principal.role.value,
        "district": principal.district,
        "grids": list(principal.grids),
        "districts": list(principal.districts),
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "iss", "sub"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise TokenError("the bearer token has expired") from error
    except jwt.PyJWTError as error:
        raise TokenError(f"the bearer token is invalid: {error}") from error
    grids = claims.get("grids") or []
    if not isinstance(grids, list) or not all(isinstance(g, str) for g in grids):
        raise TokenError("the bearer token carries invalid claims: grids must be a list of ids")
    districts = claims.get("districts") or []
    if not isinstance(districts, list) or not all(isinstance(d, str) for d in districts):
        raise TokenError(
            "the bearer token carries invalid claims: districts must be a list of codes"
        )
    try:
        return Principal(
            subject=claims["sub"],
            role=claims.get("role"),
            district=claims.get("district"),
            districts=tuple(districts),
            grids=tuple(grids),
        )
    except ValidationError as error:
        fields = ", ".join(str(e["loc"][0]) for e in error.errors())
        raise TokenError(f"the bearer token carries invalid claims: {fields}") from error
