"""综合评价 over HTTP: ``GET /v1/stats`` — a district's (or a street's, a grid's, a
department's) figures for a period, as JSON or CSV, for the supervisors and admins of the
districts their token covers; and ``GET /v1/districts/{district}/grid-load`` — each grid's open
and overdue orders now, for a staff console's map."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from common.auth import Principal, Role, require_roles
from common.problems import Problem
from dispatch.domain.statistics import (
    MAX_SPAN_DAYS,
    SATISFIED_FROM,
    Figures,
    Period,
    PeriodError,
    parse_day,
)
from dispatch.service_layer.districts import DistrictRegistry
from dispatch.service_layer.statistics import (
    GridWorkloadStore,
    Statistics,
    StatisticsStore,
    StatsScope,
    StreetUnknown,
    grid_workload,
    statistics,
)

Overseer = Annotated[Principal, require_roles(Role.SUPERVISOR, Role.ADMIN)]
CommandCentre = Annotated[Principal, require_roles(Role.SUPERVISOR, Role.ADMIN, Role.SERVICE)]
DistrictCode = Annotated[str, Path(pattern=r"^\d{6}$", description="6-digit district code")]
CSV_TYPE = "text/csv"
DAY = r"^\d{4}-\d{2}-\d{2}$"

DEFINITIONS = f"""\
综合评价 of the orders of the districts the token covers (or of `district`, which it must cover),
narrowed to a `street`, a `grid` or the orders now assigned to a `department` if asked.

**Period**: whole Asia/Shanghai days `from` to `to`, both included (default: the month of `to`
so far; `to` defaults to today); at most {MAX_SPAN_DAYS} days. **Cut-off**: the period's end,
or now if it has not ended; an order's life is looked at up to the cut-off only.

Counted by when the event happened (in the period):

- `reports` 上报数 — reports triaged in the period: those that became a work order (filed or
  sent to review) + `merged` + those refused at triage.
- `merged` 并单数 — reports attached to an open order in the period.
- `rejected` 不予立案数 — reports refused at triage (outside the district's grids, reporter of
  another district, unknown or inactive category) + orders refused after review, in the
  period. Reports refused at triage have no street, grid or assignee: with `street`, `grid` or
  `department` they do not count, and a point outside every district's grids counts nowhere.

The cohort — orders **filed (立案) in the period**, i.e. whose entry into `filed` (at triage,
or when a supervisor accepted it after review) falls in the period:

- `filed` 立案数 — the cohort.
- `due` 应结案数 — orders of the cohort, not voided (作废), that were closed by the cut-off or
  whose current handling deadline (the clock of the last dispatch, rework or reopening) is at
  or before the cut-off.
- `closed` 结案数 — orders of the cohort closed (verified; rated or not) by the cut-off; an
  order reopened since counts again once closed again.
- `closed_on_time` 按期结案数 — of those, closed no later than their handling deadline.
- `reworked` 返工数 — orders among the due that failed verification (返工) at least once.
- `closing_rate` 结案率 = closed / due; `on_time_closing_rate` 按期结案率 = closed_on_time / due;
  `rework_rate` 返工率 = reworked / due (null when due is 0; four decimals).
- `average_claim_seconds` 平均签收时长 — over the `claimed` orders of the cohort (claimed by
  the cut-off): first claim minus first dispatch.
- `average_handling_seconds` 平均处置时长 — over the closed orders: closing minus first
  dispatch (the whole handling, reworks and verification included).
- `satisfaction_rate` 满意率 = satisfied / rated — over the `rated` orders of the cohort
  (rated by the cut-off); satisfied = a rating of at least {SATISFIED_FROM} (of 5).

Now, whatever the period: `open_now` — orders in an open state; `overdue_now` — open orders
whose clock runs (not waiting for review, not resolved and waiting for verification) and whose
handling deadline has passed.

`total` adds up the districts (its rates and averages are computed from the summed counts).
CSV (`Accept: text/csv` or `format=csv`, which wins over `Accept`): a header row, one row per
district, then a row `all` for the total; an empty cell is a rate or average over nothing."""


class StatsFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


class FiguresView(BaseModel):
    reports: int = Field(description="上报数")
    filed: int = Field(description="立案数")
    merged: int = Field(description="并单数")
    rejected: int = Field(description="不予立案数")
    due: int = Field(description="应结案数")
    closed: int = Field(description="结案数")
    closed_on_time: int = Field(description="按期结案数")
    reworked: int = Field(description="返工数")
    closing_rate: float | None = Field(description="结案率 = closed / due")
    on_time_closing_rate: float | None = Field(description="按期结案率 = closed_on_time / due")
    rework_rate: float | None = Field(description="返工率 = reworked / due")
    claimed: int = Field(description="orders of the cohort claimed by the cut-off")
    average_claim_seconds: float | None = Field(description="平均签收时长")
    average_handling_seconds: float | None = Field(description="平均处置时长")
    rated: int = Field(description="orders of the cohort rated by the cut-off")
    satisfied: int = Field(description=f"rated at least {SATISFIED_FROM} (of 5)")
    satisfaction_rate: float | None = Field(description="满意率 = satisfied / rated")
    open_now: int = Field(description="orders in an open state now")
    overdue_now: int = Field(description="open orders past their handling deadline now")


class DistrictFiguresView(FiguresView):
    district: str
    name: str


class PeriodView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from", description="first day (Asia/Shanghai), included")
    to: date = Field(description="last day (Asia/Shanghai), included")
    start: datetime
    end: datetime = Field(description="the moment after the last day (excluded)")
    cutoff: datetime = Field(description="the end, or the moment asked if the period has not ended")


class ScopeView(BaseModel):
    districts: list[str]
    street: str | None
    grid: str | None
    department: str | None


class StatisticsView(BaseModel):
    period: PeriodView
    scope: ScopeView
    total: FiguresView
    districts: list[DistrictFiguresView]


class GridWorkloadView(BaseModel):
    grid_id: str
    open: int = Field(description="在办数: the grid's orders in an open state now")
    overdue: int = Field(
        description="超期数: of those, the ones whose clock runs and whose handling deadline "
        "has passed"
    )


class DistrictGridWorkloadView(BaseModel):
    district: str
    street: str | None = Field(description="the street asked for, or null for the whole district")
    as_of: datetime = Field(description="the moment the orders were counted")
    grids: list[GridWorkloadView] = Field(
        description="every grid of the district (of the street), in the order of its grid file"
    )


GRID_LOAD = """\
For each grid of the district (of `street` if given), in the order of its grid file: `open`
(在办数) — its orders in an open state now (not closed, rated, voided or refused after review;
waiting for review counts), and `overdue` (超期数) — those of them whose handling clock runs
(not waiting for review, not resolved and waiting for verification) and whose handling deadline
has passed. A grid without open orders is listed with zeros. The same counts as `open_now` and
`overdue_now` of `GET /v1/stats?district=…&grid=…`, taken at once for every grid by one grouped
query.

For supervisors, admins and services whose token covers the district (403 otherwise, and for
grid workers and departments); 404 for a district without grids or a street none of its grids
lies in."""

FIGURE_FIELDS = list(FiguresView.model_fields)
CSV_COLUMNS = ["district", "name", "from", "to", *FIGURE_FIELDS]


def build_stats_router(
    store: StatisticsStore,
    workload: GridWorkloadStore,
    registry: DistrictRegistry,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["statistics"])

    @router.get(
        "/stats",
        response_model=StatisticsView,
        summary="综合评价: a period's figures per district and in total (JSON or CSV)",
        description=DEFINITIONS,
        responses={
            200: {
                "content": {
                    CSV_TYPE: {
                        "schema": {"type": "string"},
                        "example": ",".join(CSV_COLUMNS),
                    }
                }
            }
        },
    )
    async def get_statistics(
        principal: Overseer,
        district: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
        street: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        grid: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
        department: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
        from_: Annotated[
            str | None, Query(alias="from", pattern=DAY, description="first day, YYYY-MM-DD")
        ] = None,
        to: Annotated[str | None, Query(pattern=DAY, description="last day, YYYY-MM-DD")] = None,
        format_: Annotated[StatsFormat | None, Query(alias="format")] = None,
        accept: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> Response:
        districts = principal.all_districts
        if district is not None:
            if not principal.covers(district):
                raise Problem(403, "Forbidden", f"the token does not cover district {district}")
            districts = (district,)
        now = clock()
        try:
            period = Period.of(parse_day(from_, "from"), parse_day(to, "to"), now=now)
        except PeriodError as error:
            raise Problem(
                422,
                "Invalid request",
                f"query.{error.field}: {error}",
                extra={"errors": [{"field": f"query.{error.field}", "message": str(error)}]},
            ) from error
        scope = StatsScope(districts, street=street, grid_id=grid, department=department)
        found = await statistics(scope, period, store, now=now)
        wants_csv = format_ is StatsFormat.CSV or (
            format_ is None and CSV_TYPE in (accept or "").lower()
        )
        if wants_csv:
            return _csv(found, registry)
        view = _view(found, registry)
        return JSONResponse(view.model_dump(mode="json", by_alias=True), headers={"Vary": "Accept"})

    @router.get(
        "/districts/{district}/grid-load",
        response_model=DistrictGridWorkloadView,
        summary="Open and overdue orders of each grid of a district, now (for a map)",
        description=GRID_LOAD,
    )
    async def get_grid_load(
        district: DistrictCode,
        principal: CommandCentre,
        street: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    ) -> DistrictGridWorkloadView:
        if not principal.covers(district):
            raise Problem(403, "Forbidden", f"the token does not cover district {district}")
        grids = registry.grids.get(district)
        if grids is None:
            raise Problem(404, "Not Found", f"no grids are loaded for district {district}")
        now = clock()
        try:
            found = await grid_workload(grids, workload, street=street, now=now)
        except StreetUnknown as error:
            raise Problem(404, "Not Found", str(error)) from error
        return DistrictGridWorkloadView(
            district=district,
            street=street,
            as_of=now,
            grids=[GridWorkloadView(**vars(row)) for row in found],
        )

    return router


def _figures(figures: Figures) -> dict[str, Any]:
    return {name: getattr(figures, name) for name in FIGURE_FIELDS}


def _view(found: Statistics, registry: DistrictRegistry) -> StatisticsView:
    period, scope = found.period, found.scope
    return StatisticsView(
        period=PeriodView(
            from_=period.first_day,
            to=period.last_day,
            start=period.start,
            end=period.end,
            cutoff=found.cutoff,
        ),
        scope=ScopeView(
            districts=sorted(scope.districts),
            street=scope.street,
            grid=scope.grid_id,
            department=scope.department,
        ),
        total=FiguresView(**_figures(found.total)),
        districts=[
            DistrictFiguresView(
                district=code, name=registry.names.get(code, code), **_figures(figures)
            )
            for code, figures in found.districts
        ],
    )


def _csv(found: Statistics, registry: DistrictRegistry) -> Response:
    period = found.period
    rows = [(code, registry.names.get(code, code), figures) for code, figures in found.districts]
    rows.append(("all", "合计", found.total))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for code, name, figures in rows:
        values = _figures(figures)
        writer.writerow(
            [
                code,
                name,
                period.first_day.isoformat(),
                period.last_day.isoformat(),
                *("" if values[f] is None else values[f] for f in FIGURE_FIELDS),
            ]
        )
    filename = f"gridloop-stats-{period.first_day}-{period.last_day}.csv"
    return Response(
        out.getvalue(),
        media_type=f"{CSV_TYPE}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Vary": "Accept"},
    )
