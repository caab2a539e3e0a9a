"""The fault plan of a chaos run and carrying it out.

A plan is drawn from the seed alone: each fault happens once a given share of the reports has
been accepted (not at a wall-clock time), so the same seed hits the same stage of the run on a
fast or a slow machine.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from gridloop_tools.chaos.proxy import TcpProxy
from gridloop_tools.stack import Stack

Say = Callable[[str], None]
FaultKind = Literal["kill", "broker_restart", "database_cut"]

EARLIEST = 0.05
LATEST = 0.9
"""Faults fall between these shares of accepted reports: never before work is in flight."""


@dataclass(frozen=True)
class Fault:
    at: float
    """Share of the reports accepted when the fault is due (0–1)."""
    kind: FaultKind
    target: str
    """A service name, ``broker`` or ``database``."""
    seconds: float = 0.0
    """How long a database cut lasts."""

    def describe(self) -> str:
        if self.kind == "kill":
            return f"SIGKILL {self.target}"
        if self.kind == "broker_restart":
            return "SIGKILL the embedded broker (the supervisor starts an empty one)"
        return f"cut every database connection for {self.seconds:g} s"


def plan_faults(
    rng: random.Random,
    *,
    services: Sequence[str],
    kills: int,
    broker_restarts: int,
    cut_seconds: float,
) -> list[Fault]:
    """``kills`` SIGKILLs of each service, ``broker_restarts`` broker restarts and, if
    ``cut_seconds`` > 0, one database cut, at seeded-random shares of the run, in order."""
    faults = [
        Fault(round(rng.uniform(EARLIEST, LATEST), 4), "kill", name)
        for name in services
        for _ in range(kills)
    ]
    faults += [
        Fault(round(rng.uniform(EARLIEST, LATEST), 4), "broker_restart", "broker")
        for _ in range(broker_restarts)
    ]
    if cut_seconds > 0:
        at = round(rng.uniform(EARLIEST, LATEST), 4)
        faults.append(Fault(at, "database_cut", "database", cut_seconds))
    return sorted(faults, key=lambda fault: (fault.at, fault.kind, fault.target))


@dataclass(frozen=True)
class Executed:
    fault: Fault
    seconds: float
    """Seconds since the injector started."""
    progress: float
    """Share of reports accepted at that moment."""


@dataclass
class FaultSchedule:
    """Carries out ``plan`` against ``stack`` as the run progresses; ``fire_due`` is called
    on the thread that owns the stack's processes (:class:`StackKeeper`).

    A fault whose target is down (a service the supervisor has not restarted yet, a broker not
    back yet) waits until it is up again, so every planned fault really hits something.
    """

    plan: Sequence[Fault]
    progress: Callable[[], float]
    say: Say
    proxy: TcpProxy | None = None
    executed: list[Executed] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def pending(self) -> list[Fault]:
        return list(self.plan[len(self.executed) :])

    def fire_due(self, stack: Stack) -> None:
        progress = self.progress()
        for fault in self.pending:
            if fault.at > progress or not self._fire(fault, stack):
                return
            elapsed = time.monotonic() - self.started
            self.executed.append(Executed(fault, elapsed, progress))
            self.say(f"{elapsed:7.1f} s  {progress:6.1%} accepted  {fault.describe()}")

    def _fire(self, fault: Fault, stack: Stack) -> bool:
        """Carry out ``fault``; False if its target is not up yet (try again next tick)."""
        if fault.kind == "kill":
            service = stack.services[fault.target]
            if not service.running():
                return False
            service.kill()
            return True
        if fault.kind == "broker_restart":
            broker = stack.broker
            if broker is None or not broker.running():
                return False
            broker.kill()
            return True
        if self.proxy is None:
            raise RuntimeError("a database cut needs the database proxy")
        self.proxy.cut(fault.seconds)
        return True
