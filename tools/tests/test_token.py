"""``gridloop token``: for a role and subject, a roster member (--as) or a work order's
assignee (--as-assignee-of), covering further districts (--districts); clear refusals."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from shapely.geometry import box
from typer.testing import CliRunner, Result

from common.auth import DEVELOPMENT_SECRET, Principal, Role, verify_token
from gridloop_tools.cli import token as token_command
from gridloop_tools.cli.main import app
from gridloop_tools.testing.fake_stack import FakeOrder, FakeStack, fake_roster

ENV = {"GRIDLOOP_JWT_SECRET": DEVELOPMENT_SECRET, "COLUMNS": "200"}


def mint(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, ["token", *args], env={**ENV, **(env or {})})


def minted(*args: str) -> Principal:
    result = mint(*args)
    assert result.exit_code == 0, result.output
    return verify_token(DEVELOPMENT_SECRET, result.stdout.strip())


def refused(*args: str, exit_code: int = 2) -> str:
    result = mint(*args)
    assert result.exit_code == exit_code, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.stderr


def test_a_token_for_a_role_and_a_subject() -> None:
    principal = minted("--role", "rider", "--sub", "r-001")
    assert (principal.role, principal.subject, principal.district) == (
        Role.RIDER,
        "r-001",
        "370812",
    )
    assert principal.districts == ()
    principal = minted(
        "--role", "grid_worker", "--sub", "w", "--district", "370811", "--grid", "g1",
        "--districts", "370812,370811", "--districts", "370829",
    )  # fmt: skip
    assert principal.district == "370811"
    assert principal.districts == ("370812", "370829")
    assert principal.grids == ("g1",)


def test_as_a_grid_worker_of_a_demo_district() -> None:
    result = mint("--as", "370811-w-001")
    assert result.exit_code == 0, result.output
    principal = verify_token(DEVELOPMENT_SECRET, result.stdout.strip())
    assert principal.role is Role.GRID_WORKER
    assert (principal.subject, principal.district) == ("370811-w-001", "370811")
    roster = json.loads(
        (token_command.districts_root() / "370811" / "roster.json").read_text(encoding="utf-8")
    )
    worker = next(w for w in roster["grid_workers"] if w["id"] == "370811-w-001")
    assert principal.grids == tuple(worker["grid_ids"])
    assert worker["name"] in result.stderr and "grid_worker in 370811" in result.stderr


def test_as_a_supervisor_covering_both_districts() -> None:
    principal = minted("--as", "370812-d-01", "--districts", "370811,370812")
    assert (principal.role, principal.subject) == (Role.SUPERVISOR, "370812-d-01")
    assert (principal.district, principal.districts) == ("370812", ("370811",))


def test_a_department_member_acts_for_the_department() -> None:
    principal = minted("--as", "370812-chengguan-01")
    assert (principal.role, principal.subject) == (Role.DEPARTMENT, "370812-chengguan")
    assert minted("--as", "370811-fire").subject == "370811-fire"


def test_members_of_another_roster_folder(tmp_path: Path) -> None:
    folder = tmp_path / "440305"
    folder.mkdir()
    roster = fake_roster("440305", ["g-1", "g-2"])
    (folder / "roster.json").write_text(json.dumps(roster), encoding="utf-8")
    principal = minted("--as", "440305-w-2", "--districts-dir", str(tmp_path))
    assert (principal.district, principal.grids) == ("440305", ("g-2",))


def test_unknown_ids_and_bad_requests_are_refused_clearly() -> None:
    assert "unknown roster member 'nobody'" in refused("--as", "nobody")
    assert "not in the roster of district 370811" in refused(
        "--as", "370812-w-001", "--district", "370811"
    )
    assert "6-digit" in refused("--as", "370812-w-001", "--districts", "3708")
    assert "say whom the token is for" in refused("--as", "370812-w-001", "--role", "rider")
    assert "say whom the token is for" in refused()
    assert "--role and --sub go together" in refused("--role", "rider")
    assert "districts folder not found" in refused("--as", "x", "--districts-dir", "/nonexistent")


# --------------------------------------------------------------------------- --as-assignee-of


@pytest.fixture
def dispatch(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStack]:
    """A fake dispatch serving 370812 and 370811 with an order of each kind of assignee."""
    stack = FakeStack(
        districts={
            "370812": [("370812-01-001-1", box(116.8, 35.5, 116.81, 35.51))],
            "370811": [("370811-01-001-1", box(116.6, 35.4, 116.61, 35.41))],
        }
    )
    orders = [
        FakeOrder("wo-w", "370812", "r1", "370812-01-001-1", "dispatched", "0101",
                  {"kind": "grid_worker", "id": "370812-w-001", "name": "杨平红"}),
        FakeOrder("wo-d", "370811", "r2", "370811-01-001-1", "claimed", "0401",
                  {"kind": "department", "id": "370811-traffic", "name": "公安交警大队"}),
        FakeOrder("wo-s", "370811", "r3", "370811-01-001-1", "dispatched", "0101",
                  {"kind": "supervisor", "id": "370811-s-03", "name": "某某"}),
        FakeOrder("wo-new", "370812", "r4", "370812-01-001-1", "pending_review", "0701"),
    ]  # fmt: skip
    stack.orders.update({order.id: order for order in orders})

    def through_the_app(request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=stack.app)
            async with httpx.AsyncClient(transport=transport) as client:
                answer = await client.send(
                    client.build_request(
                        request.method,
                        request.url,
                        headers=request.headers,
                        content=request.content,
                    )
                )
                return httpx.Response(
                    answer.status_code, headers=answer.headers, content=await answer.aread()
                )

        return asyncio.run(send())

    monkeypatch.setattr(
        token_command,
        "http_client",
        lambda: httpx.Client(transport=httpx.MockTransport(through_the_app)),
    )
    yield stack


def test_as_the_grid_worker_an_order_is_assigned_to(dispatch: FakeStack) -> None:
    result = mint("--as-assignee-of", "wo-w", "--dispatch-url", "http://dispatch.test")
    assert result.exit_code == 0, result.output
    principal = verify_token(DEVELOPMENT_SECRET, result.stdout.strip())
    assert (principal.role, principal.subject) == (Role.GRID_WORKER, "370812-w-001")
    assert principal.district == "370812"
    assert "370812-01-001-1" in principal.grids  # the order's grid, and the roster's
    # Dispatch was asked with a service token covering every district it serves.
    (read,) = [r for r in dispatch.requests if r.path == "/v1/workorders/wo-w"]
    assert read.role == "service"


def test_as_the_department_or_supervisor_an_order_is_assigned_to(dispatch: FakeStack) -> None:
    principal = minted("--as-assignee-of", "wo-d", "--districts", "370812")
    assert (principal.role, principal.subject) == (Role.DEPARTMENT, "370811-traffic")
    assert (principal.district, principal.districts) == ("370811", ("370812",))
    principal = minted("--as-assignee-of", "wo-s")
    assert (principal.role, principal.subject, principal.grids) == (
        Role.SUPERVISOR,
        "370811-s-03",
        (),
    )


def test_orders_that_are_unknown_or_unassigned_are_refused(dispatch: FakeStack) -> None:
    assert "unknown work order 'wo-nope'" in refused("--as-assignee-of", "wo-nope")
    assert "has no assignee (it is pending_review)" in refused("--as-assignee-of", "wo-new")


def test_a_dispatch_that_does_not_answer_or_refuses_is_said_so(
    dispatch: FakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = {"GRIDLOOP_JWT_SECRET": "another-secret-of-at-least-32-characters!"}
    result = mint("--as-assignee-of", "wo-w", env=other)
    assert result.exit_code == 1
    assert "refused the service token" in result.stderr

    def refusing(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    monkeypatch.setattr(
        token_command,
        "http_client",
        lambda: httpx.Client(transport=httpx.MockTransport(refusing)),
    )
    stderr = refused("--as-assignee-of", "wo-w", exit_code=1)
    assert "did not answer" in stderr and "GRIDLOOP_DISPATCH_URL" in stderr
