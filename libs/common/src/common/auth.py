"""Bearer-token authentication of the services' requests: FastAPI dependencies that verify the
token (:mod:`common.tokens`) and decide what its principal may see.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from common.problems import Problem
from common.tokens import (
    ALGORITHM,
    DEVELOPMENT_SECRET,
    ISSUER,
    MINIMUM_SECRET_LENGTH,
    Principal,
    Role,
    TokenError,
    issue_token,
    validate_secret,
    verify_token,
)

__all__ = [
    "ALGORITHM",
    "DEVELOPMENT_SECRET",
    "ISSUER",
    "MINIMUM_SECRET_LENGTH",
    "Principal",
    "Role",
    "TokenError",
    "authorise_own_data",
    "authorise_rider_data",
    "current_principal",
    "issue_token",
    "optional_principal",
    "require_roles",
    "validate_secret",
    "verify_token",
]

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
