"""``gridloop token``: a development bearer token for a role and subject, for a roster member
(``--as``), or for whoever a work order is assigned to (``--as-assignee-of``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from common.tokens import DEVELOPMENT_SECRET, Role, issue_token, validate_secret
from gridloop_tools.cli.simulate.client import describe_error, response_json, transport_reason
from gridloop_tools.cli.simulate.config import DEFAULT_DISPATCH_URL, DEFAULT_DISTRICT
from gridloop_tools.staff import (
    DAY,
    StaffError,
    StaffMember,
    assignee_member,
    districts_root,
    find_member,
    load_roster,
)

__all__ = ["http_client", "token"]

SERVICE_SUBJECT = "gridloop-token"
errors = Console(stderr=True)


class TokenRequestError(Exception):
    """What the user asked for cannot be minted; ``exit_code`` 2 for a bad request (unknown
    id, conflicting options), 1 when dispatch could not be asked."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def http_client() -> httpx.Client:
    """The client that reads dispatch (tests replace it)."""
    return httpx.Client(timeout=10.0)


def token(
    role: Annotated[
        Role | None,
        typer.Option(help="rider, grid_worker, department, supervisor, admin, service; with --sub"),
    ] = None,
    sub: Annotated[
        str | None, typer.Option(help="subject: rider id, worker id, service name (with --role)")
    ] = None,
    as_member: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="a roster member's id (grid worker, supervisor, department or one of its "
            "members): their role, district and grids come from the roster",
        ),
    ] = None,
    assignee_of: Annotated[
        str | None,
        typer.Option(
            "--as-assignee-of",
            help="a work order id: the token of whoever dispatch says it is assigned to",
        ),
    ] = None,
    district: Annotated[
        str | None,
        typer.Option(
            help=f"6-digit district code (default {DEFAULT_DISTRICT}; with --as, the roster "
            "member's district)"
        ),
    ] = None,
    districts: Annotated[
        list[str] | None,
        typer.Option(
            "--districts",
            help="further districts the token covers: codes, comma-separated or repeated",
        ),
    ] = None,
    grid: Annotated[
        list[str] | None, typer.Option(help="grid id a grid worker covers; repeat")
    ] = None,
    ttl: Annotated[int, typer.Option(help="lifetime in seconds", min=60)] = DAY // 2,
    dispatch_url: Annotated[
        str,
        typer.Option(envvar="GRIDLOOP_DISPATCH_URL", help="dispatch, for --as-assignee-of"),
    ] = DEFAULT_DISPATCH_URL,
    districts_dir: Annotated[
        Path | None,
        typer.Option(
            "--districts-dir",
            file_okay=False,
            help="rosters to look members up in: a folder per district code with "
            "roster.json, like DISPATCH_DISTRICTS_DIR (default: the demo districts)",
        ),
    ] = None,
) -> None:
    """Print a development bearer token signed with GRIDLOOP_JWT_SECRET.

    Either --role and --sub, or --as a roster member, or --as-assignee-of a work order."""
    secret = os.environ.get("GRIDLOOP_JWT_SECRET", DEVELOPMENT_SECRET)
    try:
        validate_secret(secret)
        extra = _district_codes(districts or [])
        if district is not None:
            _district_codes([district])
        modes = [m for m in (role or sub, as_member, assignee_of) if m]
        if len(modes) != 1:
            raise TokenRequestError(
                "say whom the token is for: --role and --sub, or --as MEMBER, or "
                "--as-assignee-of WORK_ORDER (one of them)"
            )
        if as_member or assignee_of:
            if as_member:
                codes = [district] if district else None
                member = find_member(as_member, districts_root(districts_dir), codes)
            else:
                member = _assignee(str(assignee_of), dispatch_url, secret, districts_dir)
            value = member.token(secret, districts=extra, grids=grid or [], ttl_seconds=ttl)
            errors.print(f"[dim]# {escape(member.describe())}[/]", soft_wrap=True)
        else:
            if role is None or not sub:
                raise TokenRequestError("--role and --sub go together")
            home = district or DEFAULT_DISTRICT
            value = issue_token(
                secret,
                role=role,
                subject=sub,
                district=home,
                districts=[d for d in extra if d != home],
                grids=grid or [],
                ttl_seconds=ttl,
            )
    except TokenRequestError as error:
        _fail(str(error), error.exit_code)
    except StaffError as error:
        _fail(str(error), 2)
    except ValueError as error:
        _fail(f"cannot mint the token: {error}", 2)
    print(value)


def _fail(message: str, exit_code: int) -> NoReturn:
    errors.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(exit_code)


def _district_codes(values: list[str]) -> list[str]:
    codes = [code.strip() for value in values for code in value.split(",") if code.strip()]
    bad = [code for code in codes if not (len(code) == 6 and code.isdigit())]
    if bad:
        raise TokenRequestError(f"not a 6-digit district code: {', '.join(bad)}")
    return codes


def _assignee(
    work_order_id: str, dispatch_url: str, secret: str, districts_dir: Path | None
) -> StaffMember:
    """Read the order from dispatch with a service token covering every district it serves,
    then its assignee's roster entry."""
    base = dispatch_url.rstrip("/")
    with http_client() as client:
        served = _get(client, f"{base}/v1/districts", None, base)
        codes = [str(d["code"]) for d in served if isinstance(d, dict) and "code" in d]
        if not codes:
            raise TokenRequestError(f"dispatch at {base} serves no district yet", 1)
        service = issue_token(
            secret,
            role=Role.SERVICE,
            subject=SERVICE_SUBJECT,
            district=codes[0],
            districts=codes[1:],
            ttl_seconds=300,
        )
        order = _get(client, f"{base}/v1/workorders/{work_order_id}", service, base)
    assignee = order.get("assignee")
    if not isinstance(assignee, dict):
        raise TokenRequestError(
            f"work order {work_order_id} has no assignee (it is {order.get('state', '?')})"
        )
    district, grid_id = str(order["district"]), str(order["grid_id"])
    root = districts_root(districts_dir)
    roster = load_roster(root, district) if (root / district / "roster.json").is_file() else None
    return assignee_member(assignee, district=district, grid_id=grid_id, roster=roster)


def _get(client: httpx.Client, url: str, bearer: str | None, base: str) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    try:
        response = client.get(url, headers=headers)
    except httpx.TransportError as error:
        raise TokenRequestError(
            f"dispatch at {base} did not answer ({transport_reason(error)}); is the stack "
            "running? (--dispatch-url or GRIDLOOP_DISPATCH_URL)",
            1,
        ) from error
    if response.status_code == 404 and "/v1/workorders/" in url:
        raise TokenRequestError(f"unknown work order '{url.rsplit('/', 1)[-1]}' at {base}")
    if response.status_code in {401, 403}:
        raise TokenRequestError(
            f"dispatch at {base} refused the service token ({describe_error(response)}); "
            "does GRIDLOOP_JWT_SECRET match the stack's?",
            1,
        )
    body = response_json(response)
    if response.status_code != 200 or body is None:
        raise TokenRequestError(f"dispatch at {base}: {describe_error(response)}", 1)
    return body
