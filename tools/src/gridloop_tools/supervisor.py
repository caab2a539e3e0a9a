"""Keeping the embedded stack alive: a crashed service is restarted with back-off while the
broker and the other services keep running; a dead embedded broker is restarted on its port.
After repeated crashes in a short time the supervisor gives up, loudly."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from gridloop_tools.stack import Stack

Say = Callable[[str], None]


class GaveUp(RuntimeError):
    """A service kept crashing; the message says which and shows its last log lines."""


@dataclass
class _Restarts:
    crashes: deque[float] = field(default_factory=deque)
    due_at: float | None = None


@dataclass
class Supervisor:
    stack: Stack
    say: Say
    first_delay: float = 1.0
    max_delay: float = 30.0
    crash_limit: int = 5
    crash_window: float = 120.0
    """More than ``crash_limit`` crashes of one service within ``crash_window`` seconds: give up."""
    _restarts: dict[str, _Restarts] = field(default_factory=dict)

    def poll(self) -> None:
        """One look at every process; call it every second or so."""
        now = time.monotonic()
        if not self.stack.broker_running():
            self.say("the embedded broker stopped; starting a new one on the same port")
            self.stack.restart_broker()
            self.say(
                "broker restarted (it keeps data in memory only: each service's relay "
                "publishes again what the broker lost)"
            )
        for name, service in self.stack.services.items():
            state = self._restarts.setdefault(name, _Restarts())
            if service.running():
                continue
            if state.due_at is None:
                self._record_crash(name, service.exit_description(), state, now)
            elif now >= state.due_at:
                state.due_at = None
                service.start()
                self.say(f"{name} restarted (pid {service.pid})")

    def _record_crash(self, name: str, how: str, state: _Restarts, now: float) -> None:
        state.crashes.append(now)
        while state.crashes and now - state.crashes[0] > self.crash_window:
            state.crashes.popleft()
        if len(state.crashes) > self.crash_limit:
            raise GaveUp(
                f"{name} crashed {len(state.crashes)} times in {self.crash_window:.0f} s; "
                f"giving up. Its last log lines:\n{self.stack.services[name].tail()}"
            )
        delay = min(self.max_delay, self.first_delay * 2 ** (len(state.crashes) - 1))
        state.due_at = now + delay
        self.say(f"{name} stopped unexpectedly ({how}); restarting in {delay:.0f} s")
