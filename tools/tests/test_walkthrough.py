"""One work order's life on a real `gridloop run`: a rider reports, the grid worker dispatch
assigned it to claims and resolves, a supervisor fails the fix, the worker does it again, the
supervisor passes it — every token from `gridloop token --as-assignee-of` / `--as`. And the
README's walk-through, run as written against the same stack."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gridloop_tools.testing.launcher import GRIDLOOP, RunningLauncher, running_launcher, wait_for

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLauncher]:
    with running_launcher(tmp_path_factory.mktemp("walkthrough")) as running:
        yield running


def gridloop_token(stack: RunningLauncher, *args: str) -> str:
    """`gridloop token …` as a user runs it: the token on stdout, who it is for on stderr."""
    result = subprocess.run(
        [*GRIDLOOP, "token", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GRIDLOOP_DISPATCH_URL": stack.url("dispatch"), "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("# ") or "--role" in args, result.stderr
    return result.stdout.strip()


def call(method: str, url: str, token: str, body: Any = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
    response = httpx.request(method, url, headers=headers, json=body, timeout=10)
    assert response.status_code in {200, 201}, response.text
    answer: dict[str, Any] = response.json()
    return answer


def filed_work_order(stack: RunningLauncher, rider_token: str) -> str:
    report = call(
        "POST",
        f"{stack.url('reporting')}/v1/reports",
        rider_token,
        {"category": "0501", "lat": 35.55, "lon": 116.83, "text": "楼道飞线充电"},
    )
    found: dict[str, Any] = {}

    def filed() -> bool:
        found.update(
            call("GET", f"{stack.url('reporting')}/v1/reports/{report['id']}", rider_token)
        )
        return found.get("status") != "submitted"

    wait_for(filed, 30, "the report to be triaged")
    assert found["status"] == "dispatched", found
    return str(found["work_order_id"])


def test_one_order_from_claim_to_closed_with_tokens_from_the_cli(stack: RunningLauncher) -> None:
    rider = gridloop_token(stack, "--role", "rider", "--sub", "r-walk", "--district", "370812")
    work_order = filed_work_order(stack, rider)
    orders = f"{stack.url('dispatch')}/v1/workorders"

    worker = gridloop_token(stack, "--as-assignee-of", work_order)
    assert call("POST", f"{orders}/{work_order}/claim", worker)["state"] == "claimed"
    resolved = call("POST", f"{orders}/{work_order}/resolve", worker, {"note": "已拆除飞线"})
    assert resolved["state"] == "resolved"

    supervisor = gridloop_token(stack, "--as", "370812-d-01")
    failed = {"passed": False, "note": "仍有飞线"}
    assert call("POST", f"{orders}/{work_order}/verify", supervisor, failed)["state"] == "rework"
    again = gridloop_token(stack, "--as-assignee-of", work_order)  # still theirs
    assert call("POST", f"{orders}/{work_order}/claim", again)["state"] == "claimed"
    call("POST", f"{orders}/{work_order}/resolve", again, {"note": "已全部拆除"})
    passed = {"passed": True, "note": "现场核查通过"}
    closed = call("POST", f"{orders}/{work_order}/verify", supervisor, passed)
    assert (closed["state"], closed["rework_count"]) == ("closed", 1)
    actions = [step["action"] for step in closed["history"]]
    assert actions[-6:] == ["claim", "resolve", "verify", "claim", "resolve", "verify"]
    assignee = closed["assignee"]["id"]
    assert {step["actor"] for step in closed["history"] if step["action"] == "claim"} == {assignee}

    # 任城区's staff are there too; a token for several districts sees both.
    ren = gridloop_token(stack, "--as", "370811-s-01")
    listing = httpx.get(orders, params={"district": "370812"}, headers=bearer(ren), timeout=10)
    assert listing.status_code == 403
    city = gridloop_token(stack, "--as", "370812-d-01", "--districts", "370811")
    for district in ("370811", "370812"):
        listing = httpx.get(orders, params={"district": district}, headers=bearer(city), timeout=10)
        assert listing.status_code == 200, listing.text


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def readme_walkthrough(stack: RunningLauncher) -> str:
    """The quick start's walk-through blocks (the one with --as-assignee-of and the next),
    pointed at this stack's ports, with `uv run gridloop` as this interpreter's gridloop."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    start = next(i for i, block in enumerate(blocks) if "--as-assignee-of" in block)
    script = "\n".join(blocks[start : start + 2])
    for offset, service in enumerate(("reporting", "dispatch", "ledger", "notification")):
        script = script.replace(f"http://127.0.0.1:{8001 + offset}", stack.url(service))
    return script.replace("uv run gridloop", shlex.join(GRIDLOOP))


def test_the_readme_walkthrough_works_as_written(stack: RunningLauncher) -> None:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_walkthrough(stack)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GRIDLOOP_DISPATCH_URL": stack.url("dispatch"), "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == ["claimed 处置中", "resolved 已处置，待核查", "closed 已结案"], lines
    order = json.loads(lines[3])
    assert order["state"] == "closed" and order["district"] == "370812"
    balance = json.loads(lines[4])  # the points may still be on their way to the ledger
    assert balance.get("rider_id") == "r-001" or balance.get("status") == 404, balance
    districts = json.loads(lines[-1])
    assert {d["code"] for d in districts} == {"370811", "370812"}


def test_simulate_tours_the_whole_intake_of_each_district(stack: RunningLauncher) -> None:
    """`gridloop simulate` against the stack: the riders' reports, then per district a report
    with a photo, the same report again, a withdrawal and an Open311 round trip; and the
    richest rider redeems a demo gift, which the staff hand over. All of it through the
    gateway, as a browser (or an operator with only the ingress) reaches the services."""
    gateway = f"--gateway=http://127.0.0.1:{stack.gateway_port}"
    result = subprocess.run(
        [*GRIDLOOP, "simulate", "--reports", "6", "--riders", "3", "--seed", "5", gateway],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 report(s) with a photo, 2 repeat(s) answered with the earlier report" in (
        result.stdout
    ), result.stdout
    assert "2 Open311 request(s) filed, 2 read back" in result.stdout, result.stdout
    withdrawn = re.search(r"(\d) withdrawn(?: \((\d) too late\))?;", result.stdout)
    assert withdrawn is not None, result.stdout
    assert int(withdrawn[1]) + int(withdrawn[2] or 0) == 2
    assert "redeemed" in result.stdout and "collected; balance checked" in result.stdout, (
        result.stdout
    )
    assert "problem" not in result.stdout
