"""``/api/analytics/...``: the cohort review over HTTP (contract: docs/api-contract-issue4.md).

Handlers validate parameters (``BadParameter`` names the one that is wrong; the app answers
400), run the SQL of ``store.cohort_sql`` with values only as parameters, and shape the result
with the pure functions of ``spyglass.analytics.cohorts``. JSON by default, Arrow IPC with
``format=arrow``. A ``StoreError`` becomes 503 in the app's handler.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Annotated, Any

import polars as pl
import pyarrow as pa
from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from spyglass.analytics.cohorts import MIN_TASKS, Z_FLAG, compare, price_params, scorecard
from spyglass.analytics.cost import PriceTable
from spyglass.analytics.trace import iso_ns

from ._time import parse_time_ns
from .rollup import Rollup
from .store import Store
from .store import cohort_sql as sql

DAY_NS = 86_400 * 10**9
ARROW_STREAM = "application/vnd.apache.arrow.stream"


class BadParameter(ValueError):
    """A query parameter the API cannot use (HTTP 400); the message names it."""


Text = Annotated[str, Query(max_length=200)]
Since = Annotated[str | None, Query(description="ISO 8601; default: 7 days before until")]
Until = Annotated[str | None, Query(description="ISO 8601; default: now")]
By = Annotated[str, Query(max_length=200, description="comma-separated: " + ", ".join(sql.DIMENSIONS))]
MinTasks = Annotated[int, Query(ge=1, le=1_000_000)]
Format = Annotated[str, Query(pattern="^(json|arrow)$")]


def _time(name: str, value: str | None, default_ns: int) -> int:
    if not value:
        return default_ns
    try:
        return parse_time_ns(value)
    except ValueError as exc:
        raise BadParameter(f"query parameter {name!r}: {exc}") from None


def window(since: str | None, until: str | None, default_days: float = 7) -> tuple[int, int]:
    """(since_ns, until_ns) from ISO 8601 parameters; default: the ``default_days`` before now."""
    # A minute of slack: spans from hosts whose clocks run a little ahead still show.
    until_ns = _time("until", until, time.time_ns() + 60 * 10**9)
    since_ns = _time("since", since, until_ns - int(default_days * DAY_NS))
    if since_ns > until_ns:
        raise BadParameter("query parameters 'since' and 'until': since is after until")
    return since_ns, until_ns


def dimensions(by: str, name: str = "by") -> list[str]:
    dims = [d.strip() for d in by.split(",") if d.strip()]
    for d in dims:
        if d not in sql.DIMENSIONS:
            raise BadParameter(
                f"query parameter {name!r}: unknown dimension {d[:40]!r}; use {', '.join(sql.DIMENSIONS)}"
            )
    if len(set(dims)) != len(dims):
        raise BadParameter(f"query parameter {name!r}: a dimension is repeated")
    return dims


def _json_ready(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [{k: _json_ready(v) for k, v in row.items()} for row in frame.to_dicts()]


def _arrow(frame: pl.DataFrame) -> Response:
    sink = pa.BufferOutputStream()
    table = frame.to_arrow()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return Response(content=sink.getvalue().to_pybytes(), media_type=ARROW_STREAM)


def cohort_filters(
    tenant: Text = "",
    workflow: Text = "",
    intent: Text = "",
    release: Text = "",
    prompt: Annotated[str, Query(max_length=200, description="name@version")] = "",
    model: Annotated[str, Query(max_length=200, description="a provider/model route (or a model)")] = "",
    corpus: Annotated[str, Query(max_length=200, description="name@version")] = "",
) -> dict[str, str]:
    """The cohort filters, each an exact value of its dimension (empty = any)."""
    return {
        "tenant": tenant,
        "workflow": workflow,
        "intent": intent,
        "release": release,
        "prompt": prompt,
        "model": model,
        "corpus": corpus,
    }


CohortFilters = Annotated[dict[str, str], Depends(cohort_filters)]


@dataclass(frozen=True)
class Scope:
    """What every review query shares: the project, the grouping, the cohort filters, the
    smallest cohort judged and the answer's format."""

    project: str
    dims: list[str]
    filters: dict[str, str]
    min_tasks: int
    format: str


def review_scope(
    filters: CohortFilters,
    project: Text = "default",
    by: By = "",
    min_tasks: MinTasks = MIN_TASKS,
    format: Format = "json",
) -> Scope:
    return Scope(project, dimensions(by), filters, min_tasks, format)


def review_window(since: Since = None, until: Until = None) -> tuple[int, int]:
    return window(since, until)


ReviewScope = Annotated[Scope, Depends(review_scope)]
ReviewWindow = Annotated[tuple[int, int], Depends(review_window)]


def create_router(store: Store, prices: PriceTable, rollup: Rollup | None = None) -> APIRouter:
    """The analytics routes over ``store``, pricing with ``prices``; ``rollup`` keeps the
    ``requests`` table they read (refreshed before each read, so it holds every span stored
    before the request)."""
    router = APIRouter(prefix="/api/analytics")
    requests = rollup or Rollup(store)

    def run(query: str, params: dict[str, Any]) -> pl.DataFrame:
        return pl.from_arrow(store.query(query, params))  # type: ignore[return-value]

    def fresh() -> None:
        requests.refresh()

    def base_params(project: str, since_ns: int, until_ns: int, filters: dict[str, str]) -> dict[str, Any]:
        return {
            "project": project,
            "since_ns": since_ns,
            "until_ns": until_ns,
            "z_flag": Z_FLAG,
            **{f"f_{d}": v for d, v in filters.items() if v},
        }

    def filtered(params: dict[str, Any]) -> list[str]:
        return [d for d in sql.FILTERABLE if f"f_{d}" in params]

    def breakdown(params: dict[str, Any], dims: list[str], min_tasks: int) -> pl.DataFrame:
        combos = requests.combos(params["project"])
        query = sql.cohort_breakdown(dims, filtered(params))
        raw = run(query, {**params, **price_params(combos, prices)})
        return scorecard(raw, min_tasks)

    def answer(frame: pl.DataFrame, fmt: str, meta: dict[str, Any]) -> Response:
        if fmt == "arrow":
            return _arrow(frame)
        return JSONResponse({**meta, "rows": _rows(frame)})

    @router.get("/cohorts", summary="Cohort scorecard: rates with intervals, latency, cost per task")
    def cohorts(scope: ReviewScope, span: ReviewWindow) -> Response:
        fresh()
        (since_ns, until_ns), dims = span, scope.dims
        frame = breakdown(
            base_params(scope.project, since_ns, until_ns, scope.filters), dims, scope.min_tasks
        )
        return answer(frame, scope.format, {"by": dims, "since": iso_ns(since_ns), "until": iso_ns(until_ns)})

    @router.get("/stages", summary="Time per stage and each stage's share of the slowest 5% of requests")
    def stages(scope: ReviewScope, span: ReviewWindow) -> Response:
        fresh()
        (since_ns, until_ns), dims = span, scope.dims
        params = base_params(scope.project, since_ns, until_ns, scope.filters)
        frame = run(sql.stage_latency(dims, filtered(params)), params)
        frame = frame.with_columns(judgeable=pl.col("tasks") >= scope.min_tasks)
        return answer(frame, scope.format, {"by": dims, "since": iso_ns(since_ns), "until": iso_ns(until_ns)})

    @router.get("/week-over-week", summary="Each metric against the previous window, changes flagged")
    def week_over_week(
        scope: ReviewScope, until: Until = None, days: Annotated[float, Query(gt=0, le=366)] = 7
    ) -> Response:
        fresh()
        dims, project, filters, min_tasks = scope.dims, scope.project, scope.filters, scope.min_tasks
        until_ns = _time("until", until, time.time_ns())
        span = int(days * DAY_NS)
        current = breakdown(base_params(project, until_ns - span, until_ns, filters), dims, min_tasks)
        previous = breakdown(
            base_params(project, until_ns - 2 * span, until_ns - span - 1, filters), dims, min_tasks
        )
        frame = compare(previous, current, dims, min_tasks)
        meta = {
            "by": dims,
            "current": {"since": iso_ns(until_ns - span), "until": iso_ns(until_ns)},
            "previous": {"since": iso_ns(until_ns - 2 * span), "until": iso_ns(until_ns - span - 1)},
        }
        return answer(frame, scope.format, meta)

    @router.get("/compare", summary="Baseline vs candidate release, prompt version or model route")
    def compare_versions(
        *,
        dimension: Annotated[str, Query(pattern="^(release|prompt|model|corpus)$")],
        baseline: Annotated[str, Query(min_length=1, max_length=200)],
        candidate: Annotated[str, Query(min_length=1, max_length=200)],
        scope: ReviewScope,
        span: ReviewWindow,
    ) -> Response:
        fresh()
        (since_ns, until_ns), dims, min_tasks = span, scope.dims, scope.min_tasks
        if dimension in dims:
            raise BadParameter(f"query parameter 'by': cannot group by {dimension!r}, the compared dimension")

        def side(value: str, group: list[str]) -> pl.DataFrame:
            params = base_params(scope.project, since_ns, until_ns, {**scope.filters, dimension: value})
            return breakdown(params, group, min_tasks)

        rows = compare(side(baseline, dims), side(candidate, dims), dims, min_tasks)
        overall = compare(side(baseline, []), side(candidate, []), [], min_tasks)
        if scope.format == "arrow":
            return _arrow(rows)
        return JSONResponse(
            {
                "by": dims,
                "dimension": dimension,
                "baseline": baseline,
                "candidate": candidate,
                "since": iso_ns(since_ns),
                "until": iso_ns(until_ns),
                "overall": _rows(overall)[0] if overall.height else None,
                "rows": _rows(rows),
            }
        )

    @router.get("/examples", summary="The newest good path, bad path and escalation in a window")
    def examples(filters: CohortFilters, span: ReviewWindow, project: Text = "default") -> Response:
        fresh()
        since_ns, until_ns = span
        params = base_params(project, since_ns, until_ns, filters)
        frame = run(sql.examples(filtered(params)), params)
        found: dict[str, Any] = {"good": None, "bad": None, "escalated": None}
        for row in frame.to_dicts():
            found[row["category"]] = {
                "trace_id": row["trace_id"],
                "start_time": iso_ns(row["start_ns"]),
                "name": row["name"],
                "reason": row["reason"],
            }
        return JSONResponse(found)

    return router
