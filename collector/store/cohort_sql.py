"""The cohort review's SQL: one row per request from the ``requests`` rollup (kept by
``collector.rollup``, one row per trace, ``rollup_sql``), then grouped by cohort. Group keys
come only from ``DIMENSIONS`` (a fixed list); every value is a parameter.

A request's cohort fields come from its spans (computed by the rollup): tenant, workflow,
intent and release from any span carrying them (the SDK stamps every span); ``prompt``
(name@version), ``model`` (the route: provider/model the first model call was meant for, its
``fallback_from`` when it is already a fallback) and ``corpus`` (name@version of the first
retrieval) from the first span of that kind. A request is in a window when it starts in it.

A request *fails* when its root span has status ERROR; it *timed out* when any span failed with
a timeout (an ``error.type`` or status message naming one); it *fell back* when any model call
is a fallback. Cost is computed per model call from the request's ``call_*`` arrays and the
price arrays (``price_params`` in ``spyglass.analytics.cohorts``), so it matches
``analytics.cost`` exactly with the current price table, and each request has its own cost
(cost per task gets an interval like any mean).
"""

from __future__ import annotations

from collections.abc import Sequence

# Cohort dimension -> its value per request (a column of ``requests``).
_DIMENSIONS: dict[str, str] = {
    "tenant": "tenant",
    "workflow": "workflow",
    "intent": "intent",
    "release": "release",
    "prompt": "prompt",
    "model": "model",
    "corpus": "corpus",
    "day": "toString(toDate(fromUnixTimestamp64Nano(start_ns, 'UTC')))",
}
DIMENSIONS = tuple(_DIMENSIONS)
"""The cohort dimensions a review can group by."""
FILTERABLE = tuple(d for d in DIMENSIONS if d != "day")
"""The dimensions a review can filter on (an exact value each)."""


def _dimension_columns(dims: list[str]) -> str:
    """``d_<dim>`` for each of ``dims`` (only those asked for)."""
    return "".join(f"toString({_DIMENSIONS[d]}) AS d_{d},\n        " for d in dims)


def _filters(filtered: list[str]) -> str:
    """Conditions for the filtered dimensions; the values are parameters ``f_<dim>``."""
    return " AND ".join([f"d_{d} = {{f_{d}:String}}" for d in filtered] or ["1"])


# The requests that start in the window, newest version of each (FINAL).
_REQUESTS = """
    requests FINAL
    WHERE project = {project:String} AND start_ns BETWEEN {since_ns:Int64} AND {until_ns:Int64}
"""

# Cost of one model call from the price arrays: c = index of its (request, response, provider)
# combination, p = index of the entry in force at its start in the flat entry arrays (0 = none).
# Flat constant arrays: indexing an array of arrays per row built an array per row (3x slower).
_CALL_COST = """
    if(k IN ('llm', 'embedding') AND (i IS NOT NULL OR o IS NOT NULL) AND c > 0 AND p > 0,
       (
         (toFloat64(ifNull(i, 0)) - least(toFloat64(ifNull(ci, 0)), toFloat64(ifNull(i, 0))))
             * {price_in:Array(Float64)}[p]
         + least(toFloat64(ifNull(ci, 0)), toFloat64(ifNull(i, 0))) * {price_cached:Array(Float64)}[p]
         + toFloat64(ifNull(o, 0)) * {price_out:Array(Float64)}[p]
       ) / 1e6,
       NULL)
"""

# Per call: the combination index, then the price entry index, then the cost (or NULL).
_CALL_COSTS = f"""
    arrayMap((k, i, o, ci, c, p) -> {_CALL_COST},
        call_kind, call_input_tokens, call_output_tokens, call_cached_input_tokens, r_combo,
        arrayMap((c, s) -> if(c = 0, 0, arrayLastIndex((cc, e) -> cc = c AND e <= start_ns + s,
                {{price_entry_combo:Array(UInt32)}}, {{price_effective:Array(Int64)}})),
            r_combo, call_offset_ns))
"""
_COMBO = (
    "arrayMap((rq, rs, pv) -> indexOf({price_combos:Array(UInt64)}, cityHash64(rq, rs, pv)), "
    "call_request_model, call_response_model, call_provider)"
)


def _tasks(dims: list[str]) -> str:
    """One row per request: its cohort values (``dims``), outcomes and cost."""
    return f"""
    SELECT
        trace_id,
        {_dimension_columns(dims)}
        duration_ns / 1e6 AS duration_ms,
        failed, timed_out, fell_back,
        tool_calls AS t_tool_calls,
        tool_failures AS t_tool_failures,
        denied AS t_denied,
        retrievals AS t_retrievals,
        empty_retrievals AS t_empty_retrievals,
        input_tokens + output_tokens AS t_tokens,
        {_COMBO} AS r_combo,
        {_CALL_COSTS} AS r_costs,
        arraySum(x -> ifNull(x, 0), r_costs) AS t_cost,
        arrayCount((x, i, o) -> x IS NULL AND (i IS NOT NULL OR o IS NOT NULL),
                   r_costs, call_input_tokens, call_output_tokens) AS t_unpriced_calls
    FROM {_REQUESTS}
    """


PRICE_COMBOS = """
SELECT DISTINCT rq AS request_model, rs AS response_model, pv AS provider,
    cityHash64(rq, rs, pv) AS combo_hash
FROM requests
ARRAY JOIN call_request_model AS rq, call_response_model AS rs, call_provider AS pv
WHERE project = {project:String} AND start_ns BETWEEN {since_ns:Int64} AND {until_ns:Int64}
"""
"""The (request model, response model, provider) combinations to price in a window, each with
the hash the cost query finds it by (hashing three columns is cheaper than joining them into
a string on every model call)."""

_FEEDBACK = """
    SELECT trace_id,
        countIf(thumbs = 'down') > 0 AS negative,
        countIf(thumbs = 'up') > 0 AS positive,
        countIf(thumbs != '') > 0 AS rated,
        countIf(escalation_reason != '') > 0 AS escalated
    FROM feedback FINAL
    WHERE project = {project:String}
    GROUP BY trace_id
"""


def _ranked(level: float, z: str, suffix: str, column: str = "ds", n: str = "tasks") -> str:
    """The order statistics bounding a distribution-free interval for the ``level`` quantile:
    ranks n*q -/+ z*sqrt(n*q*(1-q)) of the sorted durations (normal approximation to the
    binomial). A bound whose rank falls outside the sample is NULL: with too few requests the
    sample cannot bound the quantile on that side (no p99 upper bound from 50 requests)."""
    spread = f"{z} * sqrt({n} * {level} * {1 - level})"
    lo_rank = f"floor({n} * {level} - {spread})"
    hi_rank = f"ceil({n} * {level} + {spread}) + 1"
    lo = f"if({lo_rank} < 1, NULL, {column}[toUInt64(greatest(1, {lo_rank}))])"
    hi = f"if({hi_rank} > {n}, NULL, {column}[toUInt64(least(toFloat64({n}), {hi_rank}))])"
    name = f"p{round(level * 100)}_ms"
    return f"{lo} AS {name}_{suffix}lo, {hi} AS {name}_{suffix}hi"


def _intervals() -> str:
    """95% intervals (``_lo``/``_hi``) for display, and intervals at ``{z_flag}`` (``_flo``/
    ``_fhi``) for deciding whether a change is outside the noise."""
    return ", ".join(
        f"{_ranked(q, '1.959964', '')}, {_ranked(q, '{z_flag:Float64}', 'f')}" for q in (0.5, 0.95, 0.99)
    )


def _check(dims: Sequence[str], filtered: Sequence[str]) -> list[str]:
    """The dimensions a query computes: ``dims`` then the filtered ones; unknown names raise."""
    unknown = [d for d in dims if d not in DIMENSIONS] + [d for d in filtered if d not in FILTERABLE]
    if unknown:
        raise ValueError(f"unknown cohort dimension {unknown[0]!r}; known: {', '.join(DIMENSIONS)}")
    return list(dict.fromkeys([*dims, *filtered]))


def _keys(dims: list[str]) -> tuple[str, str, str]:
    """(select list with a trailing comma, GROUP BY clause, ORDER BY clause) for ``dims``."""
    select_keys = "".join(f"d_{d} AS {d}, " for d in dims)
    group = f"GROUP BY {', '.join(f'd_{d}' for d in dims)}" if dims else ""
    order = f"ORDER BY {', '.join(dims)}" if dims else ""
    return select_keys, group, order


def cohort_breakdown(dims: list[str], filtered: Sequence[str] = ()) -> str:
    """The cohort scorecard's counts and quantiles, one row per combination of ``dims``
    (each one of ``DIMENSIONS``; none = one row for everything), over the requests whose
    ``filtered`` dimensions equal the parameters ``f_<dim>``."""
    needed = _check(dims, list(filtered))
    select_keys, group, order = _keys(dims)
    return f"""
SELECT * EXCEPT (ds, q) FROM (
SELECT {select_keys}
    count() AS tasks,
    countIf(NOT failed) AS successes,
    countIf(failed) AS errors,
    countIf(timed_out) AS timeouts,
    countIf(fell_back) AS fallbacks,
    countIf(escalated) AS escalations,
    countIf(negative) AS negative,
    countIf(positive) AS positive,
    countIf(rated) AS rated,
    sum(t_tool_calls) AS tool_calls,
    sum(t_tool_failures) AS tool_failures,
    sum(t_denied) AS denied,
    sum(t_retrievals) AS retrievals,
    sum(t_empty_retrievals) AS empty_retrievals,
    arraySort(groupArray(duration_ms)) AS ds,
    quantilesExactInclusive(0.5, 0.95, 0.99)(duration_ms) AS q,
    q[1] AS p50_ms, q[2] AS p95_ms, q[3] AS p99_ms,
    {_intervals()},
    sum(t_tokens) AS tokens, sum(toFloat64(t_tokens) * t_tokens) AS tokens_sq,
    sum(t_cost) AS cost, sum(t_cost * t_cost) AS cost_sq,
    sum(t_unpriced_calls) AS unpriced_calls
FROM ({_tasks(needed)}) AS t
LEFT JOIN ({_FEEDBACK}) AS f ON t.trace_id = f.trace_id
WHERE {_filters(list(filtered))}
{group}
)
{order}
"""


STAGES = ("model", "retrieval", "rerank", "tool")
"""The stages a request's time is split into (``rollup_sql.STAGES`` says which spans make
each); ``app`` is the rest of the request's wall time."""


def _stage_tasks(dims: list[str]) -> str:
    stage_cols = ",\n        ".join(f"st_{name}_us / 1e3 AS st_{name}" for name in STAGES)
    return f"""
    SELECT
        trace_id,
        {_dimension_columns(dims)}duration_ns / 1e6 AS duration_ms,
        {stage_cols},
        greatest(0, duration_ms - st_any_us / 1e3) AS st_app
    FROM {_REQUESTS}
    """


def stage_latency(dims: list[str], filtered: Sequence[str] = ()) -> str:
    """Time per request in each stage (p50/p95/p99) and each stage's share of the slowest 5%
    of requests, one row per combination of ``dims`` (filters as ``cohort_breakdown``)."""
    needed = _check(dims, list(filtered))
    select_keys, group, order = _keys(dims)
    partition = f"PARTITION BY {', '.join(f'd_{d}' for d in dims)}" if dims else ""
    stages = [*STAGES, "app"]
    quantiles = ",\n    ".join(
        f"quantilesExactInclusive(0.5, 0.95, 0.99)(st_{s}) AS q_{s}, "
        f"q_{s}[1] AS {s}_p50_ms, q_{s}[2] AS {s}_p95_ms, q_{s}[3] AS {s}_p99_ms"
        for s in stages
    )
    tail_total = " + ".join(f"sumIf(st_{s}, in_tail)" for s in stages)
    shares = ",\n    ".join(
        f"sumIf(st_{s}, in_tail) / nullIf({tail_total}, 0) AS {s}_tail_share" for s in stages
    )
    hidden = ", ".join(f"q_{s}" for s in stages)
    return f"""
SELECT * EXCEPT ({hidden}) FROM (
SELECT {select_keys}
    count() AS tasks,
    countIf(in_tail) AS tail_tasks,
    {quantiles},
    {shares}
FROM (
    SELECT *, duration_ms >= quantileExactInclusive(0.95)(duration_ms) OVER ({partition}) AS in_tail
    FROM ({_stage_tasks(needed)}) AS t
    WHERE {_filters(list(filtered))}
)
{group}
)
{order}
"""


def examples(filtered: Sequence[str] = ()) -> str:
    """The newest good path, bad path and escalation of a window (for the evidence pack)."""
    needed = _check([], list(filtered))
    return f"""
SELECT lower(hex(trace_id)) AS trace_id, start_ns, t_name AS name, category, reason
FROM (
    SELECT t.trace_id AS trace_id, t.t_start AS start_ns, t.t_name AS t_name,
        multiIf(f.escalated, 'escalated', f.negative OR t.failed, 'bad',
                f.positive AND NOT t.failed, 'good', '') AS category,
        multiIf(f.escalated, f.reason, f.negative, 'thumbs down', t.failed, 'the request failed',
                'thumbs up, no error') AS reason
    FROM (
        SELECT trace_id, {_dimension_columns(needed)}start_ns AS t_start, name AS t_name, failed
        FROM {_REQUESTS}
    ) AS t
    INNER JOIN (
        SELECT trace_id,
            countIf(thumbs = 'down') > 0 AS negative,
            countIf(thumbs = 'up') > 0 AS positive,
            countIf(escalation_reason != '') > 0 AS escalated,
            anyIf(escalation_reason, escalation_reason != '') AS reason
        FROM feedback FINAL
        WHERE project = {{project:String}}
        GROUP BY trace_id
    ) AS f ON t.trace_id = f.trace_id
    WHERE {_filters(list(filtered))}
)
WHERE category != ''
ORDER BY category, start_ns DESC
LIMIT 1 BY category
"""
