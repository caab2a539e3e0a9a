"""The one thread that starts and stops the run's processes.

A child started with ``die_with_parent`` is killed when the *thread* that started it ends
(Linux delivers the parent-death signal per thread), so every restart — the supervisor's, the
replay's — happens on this thread, which lives until the stack is stopped. Between commands it
polls the supervisor and fires the faults that are due.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gridloop_tools.chaos.faults import FaultSchedule
from gridloop_tools.stack import Stack
from gridloop_tools.supervisor import Supervisor

T = TypeVar("T")
Say = Callable[[str], None]


@dataclass
class StackKeeper:
    stack: Stack
    supervisor: Supervisor
    faults: FaultSchedule
    say: Say
    tick: float = 0.25
    error: BaseException | None = None
    """Why the keeper stopped early (the supervisor gave up, a fault could not be done)."""
    _commands: queue.Queue[tuple[Callable[[], Any] | None, Future[Any]]] = field(
        default_factory=queue.Queue
    )
    _thread: threading.Thread | None = None

    def start(self) -> StackKeeper:
        self._thread = threading.Thread(target=self._run, name="gridloop-chaos", daemon=True)
        self._thread.start()
        return self

    def call(self, command: Callable[[], T], timeout: float = 300.0) -> T:
        """Run ``command`` on the keeper's thread, between two supervisor polls."""
        future: Future[T] = Future()
        self._commands.put((command, future))
        return future.result(timeout=timeout)

    def wait_all_fired(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.faults.pending and self.error is None and time.monotonic() < deadline:
            time.sleep(self.tick)
        return not self.faults.pending

    def close(self) -> None:
        """Stop the stack from the keeper's thread (no supervisor poll in between), then end
        the thread."""
        if self._thread is None or not self._thread.is_alive():
            self.stack.stop()
            return
        self._commands.put((None, Future()))
        self._thread.join(timeout=120)

    def _run(self) -> None:
        while True:
            try:
                command, future = self._commands.get(timeout=self.tick)
            except queue.Empty:
                pass
            else:
                if command is None:
                    self.stack.stop()
                    return
                try:
                    future.set_result(command())
                except BaseException as error:
                    future.set_exception(error)
                continue
            if self.error is not None:
                continue
            try:
                self.supervisor.poll()
                self.faults.fire_due(self.stack)
            except Exception as error:
                self.error = error
                self.say(f"the stack can no longer be kept running: {error}")
