"""`gridloop run` as an operator starts it: its services never outlive it, a crashed service
comes back, and ports held by something else are a clear refusal, not a false "running"."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gridloop_tools.stack import SERVICES, ServiceProcess, port_in_use
from gridloop_tools.testing.launcher import (
    GRIDLOOP,
    RunningLauncher,
    four_free_ports,
    running_launcher,
    wait_for,
)

pytestmark = pytest.mark.integration


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(child) for child in text)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[RunningLauncher]:
    with running_launcher(tmp_path) as running:
        yield running


def test_a_crashed_service_is_restarted_and_nothing_outlives_a_killed_launcher(
    launcher: RunningLauncher,
) -> None:
    process, first, log = launcher.process, launcher.first_port, launcher.log
    reporting = f"http://127.0.0.1:{first}"
    gateway = f"http://127.0.0.1:{launcher.gateway_port}"
    before = httpx.get(f"{reporting}/healthz").json()["instance"]
    children = children_of(process.pid)
    assert len(children) == 6  # the broker, four services and the gateway
    # The gateway routes to the services it was started with, and offers the demo people.
    assert httpx.get(f"{gateway}/api/reporting/healthz").json()["instance"] == before
    people = httpx.get(f"{gateway}/api/dev/people").json()
    assert {"370811-w-001", "admin-370812"} <= {member["subject"] for member in people["staff"]}

    victim = next(
        pid for pid in children if b"-m\x00reporting" in Path(f"/proc/{pid}/cmdline").read_bytes()
    )
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: "reporting restarted" in log.read_text(), 30, "the restart")

    def answers_as_a_new_instance() -> bool:
        try:
            health = httpx.get(f"{reporting}/healthz").json()
            return bool(
                health["instance"] != before and httpx.get(f"{reporting}/readyz").is_success
            )
        except httpx.HTTPError:
            return False

    wait_for(answers_as_a_new_instance, 60, "the new reporting process to be ready")
    assert "stopped unexpectedly (killed by SIGKILL)" in log.read_text()
    assert process.poll() is None  # the launcher and the rest kept running

    children = children_of(process.pid)
    process.kill()  # SIGKILL: no chance to clean up
    process.wait()
    wait_for(lambda: not any(alive(pid) for pid in children), 15, "every child to die")
    wait_for(
        lambda: (
            not any(port_in_use(first + i) for i in range(len(SERVICES)))
            and not port_in_use(launcher.gateway_port)
        ),
        15,
        "the ports to be free",
    )


def test_ports_held_by_another_program_are_refused_clearly(tmp_path: Path) -> None:
    first = four_free_ports()
    holder = socket.socket()
    holder.bind(("127.0.0.1", first + 2))
    holder.listen()
    try:
        result = subprocess.run(
            [*GRIDLOOP, "run", "--ports-from", str(first), "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "200"},
        )
    finally:
        holder.close()
    assert result.returncode == 1
    assert f"ledger :{first + 2}" in result.stderr
    assert "already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_readiness_counts_only_the_launchers_own_process() -> None:
    """Another process answering on the port (with another instance id) is not ready."""
    service = ServiceProcess("reporting", 1, {}, Path("/dev/null"), instance_id="mine")

    def someone_else(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok", "instance": "theirs"})
        return httpx.Response(200, json={"status": "ready"})

    with httpx.Client(transport=httpx.MockTransport(someone_else)) as client:
        assert service.is_ready(client) is False

    def ourselves(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok", "instance": "mine"})
        return httpx.Response(200, json={"status": "ready"})

    with httpx.Client(transport=httpx.MockTransport(ourselves)) as client:
        assert service.is_ready(client) is True
