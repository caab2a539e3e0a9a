"""``gridloop run`` as a test starts it: a real launcher process with the broker and the four
services on free ports, as an operator's ``make run``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gridloop_tools.stack import SERVICES, port_in_use

__all__ = ["GRIDLOOP", "RunningLauncher", "four_free_ports", "running_launcher", "wait_for"]

GRIDLOOP = [sys.executable, "-m", "gridloop_tools.cli.main"]
"""The ``gridloop`` command, run by this interpreter."""


def four_free_ports() -> int:
    """The first of four consecutive free ports."""
    return free_ports(4)


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1])
        if first < 65000 and not any(port_in_use(first + i) for i in range(count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports")


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f}s: {what}")


@dataclass(frozen=True)
class RunningLauncher:
    process: subprocess.Popen[str]
    first_port: int
    log: Path
    gateway_port: int

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.first_port + SERVICES.index(service)}"


@contextmanager
def running_launcher(directory: Path, *, timeout: float = 120.0) -> Iterator[RunningLauncher]:
    """``gridloop run --ports-from <free> --data-dir <directory>/data`` with the embedded broker
    and SQLite, until it says it is running; stopped with Ctrl-C (SIGINT) at the end."""
    gateway = free_ports(5)
    first = gateway + 1
    log = directory / "launcher.out"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                *GRIDLOOP,
                "run",
                "--ports-from",
                str(first),
                "--gateway-port",
                str(gateway),
                "--data-dir",
                str(directory / "data"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**env, "COLUMNS": "200"},
        )
    try:
        wait_for(lambda: "is running" in log.read_text(), timeout, "the stack to start")
        yield RunningLauncher(process, first, log, gateway)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
