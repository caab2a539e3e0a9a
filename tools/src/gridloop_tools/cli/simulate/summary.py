"""Folding the outcomes of a run into its summary, and rendering that as a table."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rich.markup import escape
from rich.table import Table

from gridloop_tools.cli.simulate.intake import IntakeTally
from gridloop_tools.cli.simulate.lives import DistrictLives
from gridloop_tools.cli.simulate.outcomes import ReportOutcome
from gridloop_tools.cli.simulate.redeem import RedemptionTally

__all__ = [
    "MAX_ERROR_DETAILS",
    "SimulationSummary",
    "build_summary",
    "percentile",
    "render_summary",
]

MAX_ERROR_DETAILS = 5


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); ``None`` without samples."""
    if not values:
        return None
    if not 0.0 <= q <= 100.0:
        raise ValueError("q must be between 0 and 100")
    ordered = sorted(values)
    rank = math.ceil(q / 100.0 * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


@dataclass(frozen=True)
class SimulationSummary:
    seed: int
    planned: int
    planned_outside: int
    submitted: int
    submission_errors: int
    error_details: tuple[str, ...]
    filed: int
    rejected: int
    rejection_reasons: dict[str, int]
    outside_rejected: int
    pending: int
    pending_report_ids: tuple[str, ...]
    completed: int
    points_before: int | None
    points_after: int | None
    inbox_messages: int
    latencies_ms: tuple[float, ...]
    wall_time_s: float
    warnings: tuple[str, ...] = ()
    #: Seconds from the first POST until the last submission answered (None: unknown).
    submit_time_s: float | None = None
    #: Seconds from the first POST until the last loop closed (None: no loop closed).
    close_time_s: float | None = None
    #: Reports planned per rider district (empty when the grids name no district).
    districts: dict[str, int] = field(default_factory=dict)
    #: With --play-staff: how the work orders' lives went, per district.
    lives: dict[str, DistrictLives] | None = None
    #: The intake tour (None: not run).
    intake: IntakeTally | None = None
    #: A gift redeemed by the run's richest rider, and collected (None: not tried).
    redemption: RedemptionTally | None = None

    @property
    def still_open(self) -> int:
        """Work orders of the run not closed (or otherwise ended) by the end."""
        return sum(d.still_open for d in (self.lives or {}).values())

    @property
    def points_awarded(self) -> int | None:
        if self.points_before is None or self.points_after is None:
            return None
        return self.points_after - self.points_before

    @property
    def latency_p50_ms(self) -> float | None:
        return percentile(self.latencies_ms, 50)

    @property
    def latency_p95_ms(self) -> float | None:
        return percentile(self.latencies_ms, 95)

    @property
    def latency_max_ms(self) -> float | None:
        return max(self.latencies_ms) if self.latencies_ms else None

    @property
    def submit_throughput(self) -> float:
        """Reports accepted by reporting per second of the submission phase."""
        duration = self.submit_time_s if self.submit_time_s is not None else self.wall_time_s
        return self.submitted / duration if duration > 0 else 0.0

    @property
    def throughput(self) -> float:
        """Reports whose loop closed (status + inbox) per second, until the last one closed."""
        duration = self.close_time_s if self.close_time_s is not None else self.wall_time_s
        return self.completed / duration if duration > 0 else 0.0

    @property
    def ok(self) -> bool:
        intake_ok = self.intake is None or not self.intake.problems
        return (
            self.submission_errors == 0 and self.pending == 0 and self.still_open == 0 and intake_ok
        )

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def _sum_balances(balances: Mapping[str, int | None]) -> int | None:
    values = list(balances.values())
    if any(value is None for value in values):
        return None
    return sum(value for value in values if value is not None)


def build_summary(
    outcomes: Sequence[ReportOutcome],
    *,
    seed: int,
    wall_time_s: float,
    balances_before: Mapping[str, int | None],
    balances_after: Mapping[str, int | None],
    warnings: Sequence[str] = (),
    submit_time_s: float | None = None,
    lives: Mapping[str, DistrictLives] | None = None,
    intake: IntakeTally | None = None,
    redemption: RedemptionTally | None = None,
) -> SimulationSummary:
    """Fold the per-report outcomes and the balances into the run's summary."""
    errors = [outcome for outcome in outcomes if outcome.report_id is None]
    submitted = [outcome for outcome in outcomes if outcome.report_id is not None]
    filed = [outcome for outcome in submitted if outcome.status_class == "filed"]
    rejected = [outcome for outcome in submitted if outcome.status_class == "rejected"]
    pending = [outcome for outcome in submitted if not outcome.done]
    reasons = Counter(outcome.rejection_reason or "unspecified" for outcome in rejected)
    latencies = tuple(
        latency for outcome in submitted if (latency := outcome.latency_ms) is not None
    )
    starts = [outcome.started_at for outcome in submitted if outcome.started_at is not None]
    closes = [
        outcome.first_inbox_at
        for outcome in submitted
        if outcome.done and outcome.first_inbox_at is not None
    ]
    close_time = max(closes) - min(starts) if starts and closes else None
    details: list[str] = []
    for outcome in errors:
        if len(details) >= MAX_ERROR_DETAILS:
            break
        details.append(outcome.error or "unknown error")
    return SimulationSummary(
        seed=seed,
        planned=len(outcomes),
        planned_outside=sum(1 for outcome in outcomes if outcome.planned.outside),
        submitted=len(submitted),
        submission_errors=len(errors),
        error_details=tuple(details),
        filed=len(filed),
        rejected=len(rejected),
        rejection_reasons=dict(reasons.most_common()),
        outside_rejected=sum(1 for outcome in rejected if outcome.planned.outside),
        pending=len(pending),
        pending_report_ids=tuple(outcome.report_id or "" for outcome in pending),
        completed=sum(1 for outcome in submitted if outcome.done),
        points_before=_sum_balances(balances_before),
        points_after=_sum_balances(balances_after),
        inbox_messages=sum(len(outcome.inbox_item_ids) for outcome in submitted),
        latencies_ms=latencies,
        wall_time_s=wall_time_s,
        warnings=tuple(warnings),
        submit_time_s=submit_time_s,
        close_time_s=close_time,
        districts=dict(Counter(o.planned.district for o in outcomes if o.planned.district)),
        lives=dict(lives) if lives is not None else None,
        intake=intake,
        redemption=redemption,
    )


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} s"


def _intake_rows(table: Table, intake: IntakeTally) -> None:
    table.add_row(
        "intake tour",
        f"{intake.reports_with_photos} report(s) with a photo, "
        f"{intake.duplicates_answered} repeat(s) answered with the earlier report",
    )
    late = f" ({intake.withdrawals_too_late} too late)" if intake.withdrawals_too_late else ""
    table.add_row(
        "  · withdrawn / Open311",
        f"{intake.withdrawn} withdrawn{late}; {intake.open311_filed} Open311 request(s) filed, "
        f"{intake.open311_read_back} read back",
    )
    for problem in intake.problems:
        table.add_row("  · [red]problem[/]", escape(problem))


def _redemption_rows(table: Table, redemption: RedemptionTally) -> None:
    if redemption.redeemed:
        value = (
            f"{redemption.rider_id} redeemed {redemption.gift_name} for {redemption.cost} "
            "points, collected; balance checked"
        )
    else:
        value = f"nothing redeemed: {redemption.note}"
    table.add_row("gift redemption", escape(value))
    for problem in redemption.problems:
        table.add_row("  · [red]problem[/]", escape(problem))


def render_summary(summary: SimulationSummary) -> Table:
    """The summary as a two-column rich table."""
    table = Table(title="gridloop simulation", show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    inside = summary.planned - summary.planned_outside
    table.add_row("seed", str(summary.seed))
    table.add_row(
        "reports planned",
        f"{summary.planned} ({inside} inside, {summary.planned_outside} outside every grid)",
    )
    if len(summary.districts) > 1:
        table.add_row(
            "riders' districts",
            ", ".join(f"{code}: {count} reports" for code, count in summary.districts.items()),
        )
    table.add_row("submitted", str(summary.submitted))
    errors = str(summary.submission_errors)
    table.add_row("submission errors", f"[red]{errors}[/]" if summary.submission_errors else errors)
    for detail in summary.error_details:
        table.add_row("  · error", escape(detail))
    table.add_row("filed", str(summary.filed))
    table.add_row(
        "rejected",
        f"{summary.rejected} (of which {summary.outside_rejected} planned outside)",
    )
    for reason, count in summary.rejection_reasons.items():
        table.add_row(f"  · {escape(reason)}", str(count))
    pending = str(summary.pending)
    if summary.pending_report_ids:
        shown = ", ".join(summary.pending_report_ids[:MAX_ERROR_DETAILS])
        more = "…" if summary.pending > MAX_ERROR_DETAILS else ""
        pending = f"[yellow]{summary.pending}[/] ({escape(shown)}{more})"
    table.add_row("still pending", pending)
    if summary.points_awarded is None:
        points = "unknown (a balance could not be read)"
    else:
        points = f"{summary.points_awarded} ({summary.points_before} → {summary.points_after})"
    table.add_row("points awarded", points)
    table.add_row("inbox messages received", str(summary.inbox_messages))
    table.add_row(
        "latency submit → inbox p50 / p95 / max",
        " / ".join(
            _ms(value)
            for value in (summary.latency_p50_ms, summary.latency_p95_ms, summary.latency_max_ms)
        ),
    )
    for code, lives in (summary.lives or {}).items():
        still_open = f"[yellow]{lives.still_open}[/]" if lives.still_open else "0"
        table.add_row(
            f"work orders {code}",
            f"{lives.orders}: {lives.closed} closed ({lives.reworked} reworked), "
            f"{still_open} still open",
        )
        times = lives.close_times_s
        table.add_row(
            "  · submit → closed p50 / p95 / max",
            " / ".join(
                _s(value)
                for value in (
                    percentile(times, 50),
                    percentile(times, 95),
                    max(times, default=None),
                )
            ),
        )
    if summary.intake is not None:
        _intake_rows(table, summary.intake)
    if summary.redemption is not None:
        _redemption_rows(table, summary.redemption)
    table.add_row("wall time", f"{summary.wall_time_s:.2f} s")
    table.add_row(
        "throughput",
        f"{summary.throughput:.1f} loops closed/s, {summary.submit_throughput:.1f} submitted/s",
    )
    for warning in summary.warnings:
        table.add_row("[yellow]warning[/]", escape(warning))
    return table
