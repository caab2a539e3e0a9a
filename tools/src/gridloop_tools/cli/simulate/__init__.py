"""Load and demo simulator: drives a running gridloop stack over HTTP.

Simulated riders (``sim-rider-0001``…), spread over the districts (each rider's token covers
their own), submit 随手拍 reports to the reporting service: inside their district's grids, some
deliberately outside every grid. The simulator then follows every report until the loop
closes for it: the report's status is ``filed`` or ``rejected`` *and* the rider's inbox
(notification service) holds a message about it. With ``play_staff`` it also plays the
districts' grid workers, departments and supervisors (``lives``): every work order the reports
opened is claimed, resolved and verified — some sent back for rework — until it is closed. At
the end it reads the riders' point balances (ledger) and prints a summary: counts, rejection
reasons, points awarded, the end-to-end latency from submission to the first inbox message
and, with the staff, each district's closed, reworked and still open orders and the time from
submission to closing.

The logic lives in plain functions and classes (:class:`SimulationConfig`,
:func:`run_simulation`, :func:`build_summary`, :func:`render_summary`); :func:`simulate` is
only the typer glue, registered by ``gridloop_tools.cli.main`` as ``gridloop simulate``.
One module a concern: ``config``, ``geometry``, ``planning``, ``outcomes``, ``lives`` (the
staff), ``summary``, ``progress``, ``client`` (HTTP), ``run`` and ``command`` (typer).
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
    read_district_grids,
    read_grids,
)
from gridloop_tools.cli.simulate.lives import DistrictLives, OrderLife, StaffPlayer, fold_lives
from gridloop_tools.cli.simulate.outcomes import ReportOutcome, classify_status
from gridloop_tools.cli.simulate.planning import (
    CATEGORY_CODES,
    CATEGORY_TEXTS,
    PlannedReport,
    plan_reports,
    rider_districts,
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
    "DistrictLives",
    "NullProgress",
    "OrderLife",
    "PlannedReport",
    "ProgressReporter",
    "ReportOutcome",
    "RichProgress",
    "SimulationConfig",
    "SimulationError",
    "SimulationSummary",
    "StackGoneError",
    "StackUnavailableError",
    "StaffPlayer",
    "build_summary",
    "classify_status",
    "combined_bounds",
    "describe_error",
    "distance_outside_km",
    "fold_lives",
    "load_grids",
    "percentile",
    "plan_reports",
    "random_point_in",
    "random_point_outside",
    "read_district_grids",
    "read_grids",
    "render_summary",
    "rider_districts",
    "rider_ids",
    "run_simulation",
    "simulate",
]
