"""Bearer-token authentication shared by every service.

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
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError

from common.problems import Problem

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


_bearer = HTTPBearer(auto_error=False)


def _unauthorized(detail: str) -> Problem:
    return Problem(
        status=401,
        title="Unauthorized",
        detail=detail,
        headers={"WWW-Authenticate": 'Bearer realm="gridloop"'},
    )


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """FastAPI dependency: the verified caller, or a 401 problem."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("a bearer token is required (Authorization: Bearer <jwt>)")
    return _verified(request, credentials.credentials)


async def optional_principal(request: Request) -> Principal | None:
    """FastAPI dependency of a public route: the verified caller if the request carries a
    bearer token, None if it carries none. The route documents no security (anyone may call
    it); a token that is there but invalid is still a 401 problem."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("a bearer token is required (Authorization: Bearer <jwt>)")
    return _verified(request, token.strip())


def _verified(request: Request, token: str) -> Principal:
    secret: str = request.app.state.jwt_secret
    try:
        return verify_token(secret, token)
    except TokenError as error:
        raise _unauthorized(str(error)) from error


def require_roles(*roles: Role) -> Any:
    """FastAPI dependency factory: the caller must hold one of ``roles`` (403 otherwise)."""
    allowed = frozenset(roles)

    async def dependency(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Problem(
                status=403,
                title="Forbidden",
                detail=f"role '{principal.role.value}' may not do this; allowed roles: {names}",
            )
        return principal

    return Depends(dependency)


def authorise_rider_data(principal: Principal, rider_id: str, what: str) -> None:
    """A rider sees only their own ``what``; supervisors, admins and services see any rider's;
    other roles see none."""
    if principal.role is Role.RIDER and principal.subject != rider_id:
        raise Problem(403, "Forbidden", f"a rider may only see their own {what}")
    if principal.role not in {Role.RIDER, Role.SUPERVISOR, Role.ADMIN, Role.SERVICE}:
        raise Problem(403, "Forbidden", f"role '{principal.role.value}' may not see {what}")


def authorise_own_data(principal: Principal, owner_id: str, what: str) -> None:
    """Whoever the data is for sees their own ``what``, whatever their role (a rider, a grid
    worker, a department, a supervisor); supervisors, admins and services see anyone's; nobody
    else sees another's."""
    if principal.subject == owner_id or principal.is_staff():
        return
    raise Problem(403, "Forbidden", f"a {principal.role.value} may only see their own {what}")
