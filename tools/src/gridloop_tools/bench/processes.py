"""CPU time and peak memory of the processes under test, read from ``/proc`` (Linux).

CPU is user + system time of the process (all its threads), so a difference over the
measured window is what the process spent on the load. Peak memory is the kernel's resident
high-water mark (``VmHWM``): the most the process ever held, not a sample that might miss a
spike. Where ``/proc`` is missing (not Linux) nothing is measured, and the figures say so.

PostgreSQL serves each connection from a backend process titled ``postgres: … <user>
<database> <client>``; the CPU of the backends of the run's own databases is what the server
spent on the stack (shared processes — WAL writer, checkpointer — are not counted).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ProcessSample",
    "WatchedProcess",
    "backends_cpu",
    "cpu_seconds",
    "peak_rss_bytes",
    "sample",
]

PROC = Path("/proc")


@dataclass(frozen=True)
class WatchedProcess:
    label: str
    """``reporting``, ``reporting-2``, ``broker``, ``bench`` …"""
    group: str
    """What it belongs to in the figures: the service name, ``broker`` or ``bench``."""
    pid: int


@dataclass(frozen=True)
class ProcessSample:
    cpu_seconds: float | None
    peak_rss_bytes: int | None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` so far (None if it is gone or not on Linux)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def peak_rss_bytes(pid: int) -> int | None:
    """The resident-set high-water mark of ``pid`` (None if it is gone or not on Linux)."""
    try:
        status = (PROC / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # kB
    return None


def sample(processes: Mapping[str, WatchedProcess]) -> dict[str, ProcessSample]:
    """CPU so far and peak RSS of every process, by label."""
    return {
        label: ProcessSample(cpu_seconds(process.pid), peak_rss_bytes(process.pid))
        for label, process in processes.items()
    }


def backends_cpu(databases: frozenset[str]) -> dict[int, float]:
    """CPU seconds so far of every local PostgreSQL backend serving one of ``databases``, by
    pid (empty if none is found, or not on Linux)."""
    found: dict[int, float] = {}
    if not databases:
        return found
    try:
        entries = [entry for entry in PROC.iterdir() if entry.name.isdigit()]
    except OSError:
        return found
    for entry in entries:
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        words = title.split()
        if title.startswith("postgres: ") and databases.intersection(words):
            spent = cpu_seconds(int(entry.name))
            if spent is not None:
                found[int(entry.name)] = spent
    return found
