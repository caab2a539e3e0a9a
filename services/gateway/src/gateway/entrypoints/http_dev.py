"""Development sign-in: pick a demo roster member or any rider id and get a token. Mounted only
when ``GATEWAY_ENVIRONMENT=development`` and ``GATEWAY_DEV_SIGN_IN_FILE`` are set; in
production these routes do not exist (404)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from common.problems import Problem
from common.tokens import Role, issue_token
from gateway.adapters.people import DevPeople

DEV_TOKEN_TTL_SECONDS = 12 * 3600


class TokenRequest(BaseModel):
    subject: str = Field(min_length=1, max_length=128)
    role: Literal["rider"] | None = None
    """``rider`` to sign in as any rider id (``rider-…``); omit for a listed staff member."""
    district: str | None = Field(default=None, pattern=r"^\d{6}$")
    """A rider's district (default: the first listed)."""


class TokenAnswer(BaseModel):
    token: str
    name: str
    expires_in: int


def dev_router(people: DevPeople, jwt_secret: str) -> APIRouter:
    router = APIRouter(prefix="/api/dev", tags=["development only"])

    @router.get("/people", response_model=DevPeople, summary="Who the sign-in page offers")
    async def list_people() -> DevPeople:
        return people

    @router.post("/token", response_model=TokenAnswer, summary="A token for a listed person")
    async def mint(request: TokenRequest) -> TokenAnswer:
        if request.role == "rider":
            if not request.subject.startswith("rider-"):
                raise Problem(422, "Unprocessable Content", "a rider's id starts with 'rider-'")
            district = request.district or sorted(people.districts)[0]
            if district not in people.districts:
                raise Problem(
                    422,
                    "Unprocessable Content",
                    f"district {district} is not one of the demo districts "
                    f"({', '.join(sorted(people.districts))})",
                )
            token = issue_token(
                jwt_secret,
                role=Role.RIDER,
                subject=request.subject,
                district=district,
                ttl_seconds=DEV_TOKEN_TTL_SECONDS,
            )
            return TokenAnswer(token=token, name=request.subject, expires_in=DEV_TOKEN_TTL_SECONDS)
        member = people.staff_member(request.subject)
        if member is None:
            raise Problem(
                404,
                "Not Found",
                f"'{request.subject}' is not on a demo roster; riders sign in with role 'rider'",
            )
        token = issue_token(
            jwt_secret,
            role=member.role,
            subject=member.subject,
            district=member.district,
            grids=member.grids,
            ttl_seconds=DEV_TOKEN_TTL_SECONDS,
        )
        return TokenAnswer(token=token, name=member.name, expires_in=DEV_TOKEN_TTL_SECONDS)

    return router
