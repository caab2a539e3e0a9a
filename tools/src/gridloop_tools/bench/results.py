"""The figures of one run, computed from what was submitted, what arrived and what the
processes spent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gridloop_tools.bench.listener import FILED, MERGED, REJECTED, Arrival
from gridloop_tools.bench.load import Submitted
from gridloop_tools.bench.processes import ProcessSample, WatchedProcess
from gridloop_tools.cli.simulate.summary import percentile
from gridloop_tools.stack import SERVICES

if TYPE_CHECKING:
    from gridloop_tools.bench.anchor import AnchorResult


__all__ = ["BenchResult", "LoopCounts", "ProcessFigures", "Quantiles", "compute"]

MIB = 1024 * 1024


@dataclass(frozen=True)
class Quantiles:
    """Seconds; None without samples."""

    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Quantiles:
        return cls(
            percentile(values, 50),
            percentile(values, 95),
            percentile(values, 99),
            max(values) if values else None,
        )


@dataclass(frozen=True)
class LoopCounts:
    planned: int
    accepted: int
    """Answered 201 with a report id."""
    failed: int
    """Not accepted (any other answer, or none), or not sent."""
    filed: int
    merged: int
    rejected: int
    unclosed: int
    """Accepted, but no closing message arrived in time."""

    @property
    def closed(self) -> int:
        return self.filed + self.merged + self.rejected


@dataclass(frozen=True)
class ProcessFigures:
    label: str
    group: str
    cpu_seconds: float | None
    """CPU spent in the measured window (None: not measured, or the process was replaced)."""
    peak_rss_mib: float | None


@dataclass
class BenchResult:
    date: str
    backend: str
    replicas: int
    mode: str
    """``closed, concurrency 32`` or ``open, 150/s``."""
    counts: LoopCounts
    window_seconds: float
    submit: Quantiles
    loop: Quantiles
    """Submission (due) to the reporter's closing message read from the broker."""
    processes: list[ProcessFigures]
    anchor: AnchorResult | None
    load_average: tuple[float, float, float]
    """Before the run started anything (1, 5, 15 minutes): how busy the machine was with
    other work."""
    rss_limit_mib: float
    retries: int = 0
    """Submissions sent again (same Idempotency-Key) after a connection error."""
    postgres_cpu_seconds: float | None = None
    """CPU the PostgreSQL backends of the run's databases spent in the window (local server
    only)."""
    exited: list[str] = field(default_factory=list)
    """Processes of the stack that were gone at the end of the window."""
    errors: list[str] = field(default_factory=list)
    """Examples of failed submissions, each with how often it happened."""

    @property
    def loops_per_second(self) -> float:
        return self.counts.closed / self.window_seconds if self.window_seconds > 0 else 0.0

    def cpu_ms_per_loop(self, group: str) -> float | None:
        spent = [p.cpu_seconds for p in self.processes if p.group == group]
        if not spent or any(s is None for s in spent) or not self.counts.closed:
            return None
        return 1000 * sum(s for s in spent if s is not None) / self.counts.closed

    @property
    def postgres_cpu_ms_per_loop(self) -> float | None:
        if self.postgres_cpu_seconds is None or not self.counts.closed:
            return None
        return 1000 * self.postgres_cpu_seconds / self.counts.closed

    @property
    def services_cpu_ms_per_loop(self) -> float | None:
        each = [self.cpu_ms_per_loop(name) for name in SERVICES]
        return None if any(v is None for v in each) else sum(v for v in each if v is not None)

    def peak_rss_mib(self, group: str) -> float | None:
        peaks = [p.peak_rss_mib for p in self.processes if p.group == group]
        known = [peak for peak in peaks if peak is not None]
        return max(known) if known else None

    @property
    def ratio(self) -> float | None:
        """loops/s ÷ the anchor's tx/s on 8 connections."""
        if self.anchor is None or not self.anchor.tx_per_second.get(8):
            return None
        return self.loops_per_second / self.anchor.tx_per_second[8]

    @property
    def problems(self) -> list[str]:
        """What makes this run fail: loops not closed, reports not filed, memory over budget."""
        found: list[str] = []
        counts = self.counts
        if counts.failed:
            found.append(f"{counts.failed} of {counts.planned} submissions failed")
        if counts.unclosed:
            found.append(f"{counts.unclosed} accepted reports never reached their reporter")
        if counts.rejected:
            found.append(f"{counts.rejected} reports were rejected (planned inside the grids)")
        over = [
            f"{p.label} {p.peak_rss_mib:.0f} MiB"
            for p in self.processes
            if p.group in SERVICES and p.peak_rss_mib is not None
            if p.peak_rss_mib >= self.rss_limit_mib
        ]
        if self.exited:
            found.append(f"processes gone during the run: {', '.join(self.exited)}")
        if over:
            found.append(f"over the {self.rss_limit_mib:.0f} MiB budget: {', '.join(over)}")
        return found

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["counts"]["closed"] = self.counts.closed
        document["loops_per_second"] = self.loops_per_second
        document["cpu_ms_per_loop"] = {
            **{name: self.cpu_ms_per_loop(name) for name in (*SERVICES, "broker", "bench")},
            "postgres": self.postgres_cpu_ms_per_loop,
            "services": self.services_cpu_ms_per_loop,
        }
        document["ratio"] = self.ratio
        document["problems"] = self.problems
        return document


def compute(
    *,
    planned: int,
    submitted: Sequence[Submitted],
    arrivals: Mapping[str, Arrival],
    window: tuple[float, float],
    before: Mapping[str, ProcessSample],
    after: Mapping[str, ProcessSample],
    watched: Mapping[str, WatchedProcess],
    **details: Any,
) -> BenchResult:
    """The figures of the ``planned`` measured reports, of which ``submitted`` were sent
    (a closed loop stops sending once a loop did not close). ``window`` is (start, end) in
    ``perf_counter()`` time; ``details`` are the other fields of :class:`BenchResult`."""
    accepted = {s.report_id: s for s in submitted if s.report_id is not None}
    closing = Counter(arrivals[i].template for i in accepted if i in arrivals)
    counts = LoopCounts(
        planned=planned,
        accepted=len(accepted),
        failed=planned - len(accepted),
        filed=closing[FILED],
        merged=closing[MERGED],
        rejected=closing[REJECTED],
        unclosed=len(accepted) - closing.total(),
    )
    loops = [arrivals[i].seen - s.due for i, s in accepted.items() if i in arrivals]
    errors = Counter(s.error for s in submitted if s.error)
    if planned > len(submitted):
        errors["not sent: a loop before did not close"] = planned - len(submitted)
    return BenchResult(
        counts=counts,
        window_seconds=window[1] - window[0],
        submit=Quantiles.of(
            [s.submit_seconds for s in accepted.values() if s.submit_seconds is not None]
        ),
        loop=Quantiles.of(loops),
        processes=[_figures(process, before, after) for process in watched.values()],
        errors=[f"{error} (×{count})" for error, count in errors.most_common(3)],
        **details,
    )


def _figures(
    process: WatchedProcess,
    before: Mapping[str, ProcessSample],
    after: Mapping[str, ProcessSample],
) -> ProcessFigures:
    first, last = before.get(process.label), after.get(process.label)
    cpu = None
    if first and last and first.cpu_seconds is not None and last.cpu_seconds is not None:
        cpu = last.cpu_seconds - first.cpu_seconds
    peak = last.peak_rss_bytes if last is not None else None
    return ProcessFigures(process.label, process.group, cpu, None if peak is None else peak / MIB)
