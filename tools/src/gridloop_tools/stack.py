"""Starting the whole system on one machine: a broker and the four services as processes.

Used by ``gridloop run`` (``make run``) and by the cross-service integration tests, so the
tests exercise exactly what an operator starts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gridloop_tools.embedded_broker import EmbeddedBroker, die_with_parent

SERVICES: tuple[str, ...] = ("reporting", "dispatch", "ledger", "notification")
DEFAULT_PORTS: dict[str, int] = {
    "reporting": 8001,
    "dispatch": 8002,
    "ledger": 8003,
    "notification": 8004,
}


EMBEDDED_PARTITIONS = 6
"""Partitions per topic in embedded mode, as on Kubernetes, so replicas can share them."""


class StackError(RuntimeError):
    pass


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    instance_id: str = ""
    """Handed to the process as GRIDLOOP_INSTANCE_ID and echoed by its /healthz, so readiness
    proves the answer comes from this very process (not another stack on the port)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.instance_id = uuid.uuid4().hex
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", self.name],
            env={**self.env, "GRIDLOOP_INSTANCE_ID": self.instance_id},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.close()

    def is_ready(self, client: httpx.Client) -> bool:
        """This process answers /healthz with its own instance id, and /readyz is green."""
        try:
            health = client.get(f"{self.url}/healthz")
            if health.status_code != 200 or health.json().get("instance") != self.instance_id:
                return False
            return client.get(f"{self.url}/readyz").status_code == 200
        except (httpx.HTTPError, ValueError):
            return False

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def exit_description(self) -> str:
        code = self.process.poll() if self.process is not None else None
        if code is None:
            return "not started"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"

    def kill(self) -> None:
        """SIGKILL: the crash case, no chance to finish anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


@dataclass
class Stack:
    """The four services against one broker, with a database URL per service."""

    data_dir: Path
    database_urls: Mapping[str, str] = field(default_factory=dict)
    kafka_bootstrap_servers: str | None = None
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    jwt_secret: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    broker: EmbeddedBroker | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def bootstrap_servers(self) -> str:
        if self.kafka_bootstrap_servers:
            return self.kafka_bootstrap_servers
        if self.broker is None:
            raise StackError("the broker is not started")
        return self.broker.bootstrap_servers

    def url(self, service: str) -> str:
        return self.services[service].url

    def database_url(self, service: str) -> str:
        return self.database_urls.get(
            service, f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.db').resolve()}"
        )

    def start_broker(self) -> None:
        if self.kafka_bootstrap_servers:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port = self.broker.port if self.broker is not None else None
        broker = EmbeddedBroker(log_path=self.data_dir / "broker.log")
        if port is not None:
            broker.port = port  # a restart keeps the address the services know
        self.broker = broker.start()
        _create_topics(self.bootstrap_servers)

    def restart_broker(self) -> None:
        """Stop the embedded broker (everything it held is gone: memory only) and start a new
        one on the same port with empty topics. The services reconnect by themselves."""
        if self.broker is None:
            raise StackError("there is no embedded broker to restart")
        self.broker.stop()
        self.start_broker()

    def broker_running(self) -> bool:
        return self.broker is None or self.broker.running()

    def check_ports_free(self) -> None:
        taken = [f"{name} :{port}" for name, port in self.ports.items() if port_in_use(port)]
        if taken:
            raise StackError(
                "ports already in use: " + ", ".join(taken) + " — another gridloop (or another "
                "program) is listening there; stop it, or choose other ports"
            )

    def service_env(self, name: str) -> dict[str, str]:
        prefix = name.upper() + "_"
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            f"{prefix}DATABASE_URL": self.database_url(name),
            f"{prefix}PORT": str(self.ports[name]),
            f"{prefix}HOST": "127.0.0.1",
            f"{prefix}LOG_JSON": "true",
            **self.extra_env,
        }
        if self.jwt_secret:
            env["GRIDLOOP_JWT_SECRET"] = self.jwt_secret
        if name == "dispatch":
            env.setdefault("DISPATCH_DISTRICTS_DIR", "demo")
        return env

    def start(self, timeout: float = 90.0) -> None:
        self.check_ports_free()
        self.start_broker()
        if self.kafka_bootstrap_servers:
            _create_topics(self.bootstrap_servers)
        for name in SERVICES:
            self.start_service(name)
        self.wait_ready(timeout=timeout)

    def start_service(self, name: str) -> ServiceProcess:
        service = ServiceProcess(
            name=name,
            port=self.ports[name],
            env=self.service_env(name),
            log_path=self.data_dir / "logs" / f"{name}.log",
        )
        service.start()
        self.services[name] = service
        return service

    def wait_ready(self, names: list[str] | None = None, *, timeout: float = 90.0) -> None:
        pending = list(names or self.services)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5) as client:
            while pending and time.monotonic() < deadline:
                for name in list(pending):
                    service = self.services[name]
                    if not service.running():
                        raise StackError(f"{name} exited during start:\n{service.tail()}")
                    if service.is_ready(client):
                        pending.remove(name)
                if pending:
                    time.sleep(0.3)
        if pending:
            details = "\n".join(f"--- {n}:\n{self.services[n].tail()}" for n in pending)
            raise StackError(f"not ready after {timeout:.0f}s: {', '.join(pending)}\n{details}")

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()
        if self.broker is not None:
            self.broker.stop()


def _create_topics(bootstrap_servers: str) -> None:
    """Every topic, with the embedded broker's partitions (imported here: the messaging code
    is only needed once a stack starts, not by every CLI command)."""
    from common.messaging.kafka import ensure_topics

    asyncio.run(ensure_topics(bootstrap_servers, partitions=EMBEDDED_PARTITIONS))
