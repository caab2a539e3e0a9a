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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gridloop_tools.dev_sign_in import write_dev_people
from gridloop_tools.embedded_broker import EmbeddedBroker, die_with_parent, free_port
from gridloop_tools.staff import district_codes, districts_root

SERVICES: tuple[str, ...] = ("reporting", "dispatch", "ledger", "notification")
DEFAULT_PORTS: dict[str, int] = {
    "reporting": 8001,
    "dispatch": 8002,
    "ledger": 8003,
    "notification": 8004,
}


GATEWAY = "gateway"
DEFAULT_GATEWAY_PORT = 8000
WEB_DIST = Path(__file__).resolve().parents[3] / "web" / "dist"
"""The built front end of a checkout (``make web``)."""

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
    replica: int = 1
    """1 for the first (or only) process of the service, 2… for further replicas."""

    @property
    def key(self) -> str:
        """``reporting`` for the first replica, ``reporting-2``… for the others: the process's
        key in :attr:`Stack.services` and the name of its log file."""
        return self.name if self.replica == 1 else f"{self.name}-{self.replica}"

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
    """The four services against one broker, with a database URL per service.

    With ``replicas`` > 1 each service runs as that many processes against its one database,
    sharing its consumer groups' partitions; the first replica listens on ``ports[name]``,
    the others on free ports. Relays and scanners elect one leader per database
    (``common.leadership``), which needs PostgreSQL: SQLite allows one process per service.
    """

    data_dir: Path
    database_urls: Mapping[str, str] = field(default_factory=dict)
    kafka_bootstrap_servers: str | None = None
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    jwt_secret: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    broker: EmbeddedBroker | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    """Every service process by its :attr:`ServiceProcess.key`: ``services[name]`` is the
    first replica of ``name``."""
    replicas: int = 1
    gateway_port: int | None = None
    """Also start the gateway (the web front end and ``/api/<service>/…``) on this port, with
    the development sign-in; None: the four services only."""
    web_dir: Path | None = None
    """The built front end the gateway serves; None: the API only."""

    def __post_init__(self) -> None:
        if self.gateway_port is not None:
            self.ports = {**self.ports, GATEWAY: self.gateway_port}

    @property
    def bootstrap_servers(self) -> str:
        if self.kafka_bootstrap_servers:
            return self.kafka_bootstrap_servers
        if self.broker is None:
            raise StackError("the broker is not started")
        return self.broker.bootstrap_servers

    def url(self, service: str) -> str:
        """Where the first replica of ``service`` answers."""
        return self.services[service].url

    def replicas_of(self, service: str) -> list[ServiceProcess]:
        """Every process of ``service``, first replica first."""
        found = [process for process in self.services.values() if process.name == service]
        return sorted(found, key=lambda process: process.replica)

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

    def check_replicas(self) -> None:
        """More than one process per service needs a database several processes can share."""
        if self.replicas < 1:
            raise StackError(f"replicas must be at least 1, not {self.replicas}")
        on_sqlite = [n for n in SERVICES if self.database_url(n).startswith("sqlite")]
        if self.replicas > 1 and on_sqlite:
            raise StackError(
                f"{self.replicas} replicas per service need PostgreSQL: SQLite is a "
                f"single-process database ({', '.join(on_sqlite)} would be on SQLite). Give "
                "every service a postgresql+asyncpg:// database URL, or run one replica"
            )

    def service_env(self, name: str, port: int | None = None) -> dict[str, str]:
        """The environment of a process of ``name`` listening on ``port`` (default: the
        service's port)."""
        if name == GATEWAY:
            return self.gateway_env()
        prefix = name.upper() + "_"
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            f"{prefix}DATABASE_URL": self.database_url(name),
            f"{prefix}PORT": str(port if port is not None else self.ports[name]),
            f"{prefix}HOST": "127.0.0.1",
            f"{prefix}LOG_JSON": "true",
            **self.extra_env,
        }
        if self.jwt_secret:
            env["GRIDLOOP_JWT_SECRET"] = self.jwt_secret
        if name == "dispatch":
            env.setdefault("DISPATCH_DISTRICTS_DIR", "demo")
        if name == "ledger":
            env.setdefault("LEDGER_DISTRICTS_DIR", "demo")
        return env

    def gateway_env(self) -> dict[str, str]:
        """The gateway in development: it signs in anyone of the demo districts' people."""
        env = {
            **os.environ,
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(self.ports[GATEWAY]),
            "GATEWAY_ENVIRONMENT": "development",
            "GATEWAY_DEV_SIGN_IN_FILE": str(self.dev_people_file.resolve()),
            "GATEWAY_LOG_JSON": "true",
            **{f"GATEWAY_{name.upper()}_URL": self.url(name) for name in SERVICES},
            **self.extra_env,
        }
        if self.web_dir is not None:
            env["GATEWAY_WEB_DIR"] = str(self.web_dir.resolve())
        if self.jwt_secret:
            env["GRIDLOOP_JWT_SECRET"] = self.jwt_secret
        return env

    @property
    def dev_people_file(self) -> Path:
        return self.data_dir / "dev-sign-in.json"

    def start(self, timeout: float = 90.0) -> None:
        """Start the broker and every service, and wait until each process is ready. Further
        replicas start once the first ones are ready, so only one process of a service runs
        its migrations and loads its start-up data into an empty database."""
        self.check_replicas()
        self.check_ports_free()
        self.start_broker()
        if self.kafka_bootstrap_servers:
            _create_topics(self.bootstrap_servers)
        for name in SERVICES:
            self.start_service(name)
        self.wait_ready(timeout=timeout)
        self.wait_served(timeout=timeout)
        if self.replicas > 1:
            further = [
                self.start_service(name, replica).key
                for name in SERVICES
                for replica in range(2, self.replicas + 1)
            ]
            self.wait_ready(further, timeout=timeout)
        if self.gateway_port is not None:
            self.start_gateway(timeout=timeout)

    def start_gateway(self, *, timeout: float = 90.0) -> None:
        folder = self.service_env("dispatch").get("DISPATCH_DISTRICTS_DIR")
        write_dev_people(
            districts_root(None if folder in (None, "demo") else Path(folder)),
            self.dev_people_file,
        )
        self.start_service(GATEWAY)
        self.wait_ready([GATEWAY], timeout=timeout)

    def start_service(self, name: str, replica: int = 1) -> ServiceProcess:
        """Start (or start again) replica ``replica`` of ``name``; a restarted replica keeps
        its port."""
        key = name if replica == 1 else f"{name}-{replica}"
        if replica == 1:
            port = self.ports[name]
        elif key in self.services:
            port = self.services[key].port
        else:
            port = free_port()
        service = ServiceProcess(
            name=name,
            port=port,
            env=self.service_env(name, port),
            log_path=self.data_dir / "logs" / f"{key}.log",
            replica=replica,
        )
        service.start()
        self.services[key] = service
        return service

    def districts(self) -> list[str]:
        """The districts dispatch loads at start (its ``DISPATCH_DISTRICTS_DIR``)."""
        folder = self.service_env("dispatch").get("DISPATCH_DISTRICTS_DIR")
        if not folder:
            return []
        root = districts_root(None if folder == "demo" else Path(folder))
        return district_codes(root)

    def wait_served(self, *, timeout: float = 90.0) -> None:
        """Until reporting serves every district dispatch loads: dispatch publishes each one's
        category catalogue at its start, and a report is refused (403) until reporting has
        consumed it."""
        try:
            wait_until_served(self.url("reporting"), self.districts(), timeout=timeout)
        except StackError as error:
            raise StackError(
                f"{error}\n--- dispatch:\n{self.services['dispatch'].tail()}"
            ) from None

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


def wait_until_served(reporting_url: str, districts: Iterable[str], *, timeout: float) -> None:
    """Until the reporting service at ``reporting_url`` serves every one of ``districts``
    (``GET /v1/categories`` lists its catalogue); :class:`StackError` after ``timeout``."""
    wanted = set(districts)
    served: set[str] = set()
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                answer = client.get(f"{reporting_url}/v1/categories")
                served = {catalogue["district"] for catalogue in answer.json()}
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                served = set()
            if wanted <= served:
                return
            time.sleep(0.3)
    raise StackError(
        f"reporting at {reporting_url} serves {sorted(served) or 'no district'} after "
        f"{timeout:.0f}s, not every district expected ({sorted(wanted)}): dispatch has not "
        "published their catalogues"
    )


def _create_topics(bootstrap_servers: str) -> None:
    """Every topic, with the embedded broker's partitions (imported here: the messaging code
    is only needed once a stack starts, not by every CLI command)."""
    from common.messaging.kafka import ensure_topics

    asyncio.run(ensure_topics(bootstrap_servers, partitions=EMBEDDED_PARTITIONS))
