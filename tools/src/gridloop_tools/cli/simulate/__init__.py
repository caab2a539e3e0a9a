"""Load and demo simulator: drives a running gridloop stack over HTTP.

Simulated riders (``sim-rider-0001``…) submit 随手拍 reports to the reporting service, some
of them deliberately outside the district. The simulator then follows every report until the
loop closes for it: the report's status is ``filed`` or ``rejected`` *and* the rider's inbox
(notification service) holds a message about it. At the end it reads the riders' point
balances (ledger) and prints a summary: counts, rejection reasons, points awarded and the
end-to-end latency from submission to the first inbox message.

The logic lives in plain functions and classes (:class:`SimulationConfig`,
:func:`run_simulation`, :func:`build_summary`, :func:`render_summary`); :func:`simulate` is
only the typer glue, registered by ``gridloop_tools.cli.main`` as ``gridloop simulate``.
One module a concern: ``config``, ``geometry``, ``planning``, ``outcomes``, ``summary``,
``progress``, ``client`` (HTTP), ``run`` and ``command`` (typer).
"""

from gridloop_tools.cli.simulate.client import describe_error
from gridloop_tools.cli.simulate.command import simulate
from gridloop_tools.cli.simulate.config import (
    SimulationConfig,
    SimulationError,
    StackGoneError,
    StackUnavailableError,
)
from gridloop_tools.cli.simulate.geometry import (
    combined_bounds,
    distance_outside_km,
    load_grids,
    random_point_in,
    random_point_outside,
    read_grids,
)
from gridloop_tools.cli.simulate.outcomes import ReportOutcome, classify_status
from gridloop_tools.cli.simulate.planning import (
    CATEGORY_CODES,
    CATEGORY_TEXTS,
    PlannedReport,
    plan_reports,
    rider_ids,
)
from gridloop_tools.cli.simulate.progress import NullProgress, ProgressReporter, RichProgress
from gridloop_tools.cli.simulate.run import run_simulation
from gridloop_tools.cli.simulate.summary import (
    SimulationSummary,
    build_summary,
    percentile,
    render_summary,
)

__all__ = [
    "CATEGORY_CODES",
    "CATEGORY_TEXTS",
    "NullProgress",
    "PlannedReport",
    "ProgressReporter",
    "ReportOutcome",
    "RichProgress",
    "SimulationConfig",
    "SimulationError",
    "SimulationSummary",
    "StackGoneError",
    "StackUnavailableError",
    "build_summary",
    "classify_status",
    "combined_bounds",
    "describe_error",
    "distance_outside_km",
    "load_grids",
    "percentile",
    "plan_reports",
    "random_point_in",
    "random_point_outside",
    "read_grids",
    "render_summary",
    "rider_ids",
    "run_simulation",
    "simulate",
]
