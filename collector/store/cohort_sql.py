"""The cohort review's SQL: one row per request (trace) built in ClickHouse, then grouped by
cohort. Group keys come only from ``DIMENSIONS`` (a fixed list); every value is a parameter.

A request's cohort fields come from its spans: tenant, workflow, intent and release from any
span carrying them (the SDK stamps every span); ``prompt`` (name@version), ``model`` (the route:
provider/model the first model call was meant for, its ``fallback_from`` when it is already a
fallback) and ``corpus`` (name@version of the first retrieval) from the first span of that kind.

A request *fails* when its root span has status ERROR; it *timed out* when any span failed with
a timeout (an ``error.type`` or status message naming one); it *fell back* when any model call
is a fallback. Cost is computed per span from the price arrays (``price_params`` in
``spyglass.analytics.cohorts``), so it matches ``analytics.cost`` exactly and each request has
its own cost (cost per task gets an interval like any mean).
"""

from __future__ import annotations

from collections.abc import Sequence

# Cohort dimension -> (the aggregate over a request's spans, how to format it as text). Pairs
# are aggregated as tuples and joined once per request, not concatenated on every span row.
_DIMENSIONS: dict[str, tuple[str, str]] = {
    "tenant": ("anyIf(tenant, tenant != '')", "{}"),
    "workflow": ("anyIf(workflow, workflow != '')", "{}"),
    "intent": ("anyIf(intent, intent != '')", "{}"),
    "release": ("anyIf(release, release != '')", "{}"),
    "prompt": (
        "argMinIf((prompt_name, prompt_version), start_time, kind = 'llm' AND prompt_version != '')",
        "if({0}.2 = '', '', concat({0}.1, '@', {0}.2))",
    ),
    "model": (
        "argMinIf((provider, if(fallback_from != '', fallback_from, request_model)), start_time, "
        "kind = 'llm' AND request_model != '')",
        "if({0}.2 = '', '', concat(if({0}.1 != '', concat({0}.1, '/'), ''), {0}.2))",
    ),
    "corpus": (
        "argMinIf((corpus, corpus_version), start_time, kind = 'retrieval' AND corpus != '')",
        "if({0}.1 = '', '', concat({0}.1, '@', {0}.2))",
    ),
    "day": ("toDate(min(start_time))", "toString({})"),
}
DIMENSIONS = tuple(_DIMENSIONS)
"""The cohort dimensions a review can group by."""
FILTERABLE = tuple(d for d in DIMENSIONS if d != "day")
"""The dimensions a review can filter on (an exact value each)."""
# Re-delivered spans share their start time, hence their daily partition: FINAL need not merge
# across partitions (several times faster over a month of data).
_SETTINGS = "SETTINGS do_not_merge_across_partitions_select_final = 1"


def _dimension_columns(dims: list[str]) -> str:
    """``d_<dim>`` for each of ``dims``, computed per request (only those asked for)."""
    cols = []
    for d in dims:
        agg, fmt = _DIMENSIONS[d]
        cols.append(f"{agg} AS r_{d}, {fmt.format(f'r_{d}')} AS d_{d}")
    return "".join(f"{c},\n        " for c in cols)


def _filters(filtered: list[str]) -> str:
    """Conditions for the filtered dimensions; the values are parameters ``f_<dim>``."""
    return " AND ".join([f"d_{d} = {{f_{d}:String}}" for d in filtered] or ["1"])


_WINDOW = (
    "start_time BETWEEN fromUnixTimestamp64Nano({since_ns:Int64}, 'UTC') "
    "AND fromUnixTimestamp64Nano({until_ns:Int64}, 'UTC')"
)

# Cost of one span from the price arrays: c = index of the span's (request, response, provider)
# combination, p = index of the entry in force at its start in the flat entry arrays (0 = none).
# Flat constant arrays: indexing an array of arrays per row built an array per row (3x slower).
_SPAN_COST = """
    if(kind IN ('llm', 'embedding') AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL)
           AND c_idx > 0 AND p_idx > 0,
       (
         (toFloat64(ifNull(input_tokens, 0)) - cached) * {price_in:Array(Float64)}[p_idx]
         + cached * {price_cached:Array(Float64)}[p_idx]
         + toFloat64(ifNull(output_tokens, 0)) * {price_out:Array(Float64)}[p_idx]
       ) / 1e6,
       NULL)
"""

# Cost per request: only model calls are read and priced (the lookups build small arrays per
# row, too dear for every span), then joined to the requests by trace ID.
_COSTS = f"""
    SELECT trace_id, sum(ifNull(span_cost, 0)) AS t_cost,
        countIf(span_cost IS NULL AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL))
            AS t_unpriced_calls
    FROM (
        SELECT trace_id, kind, input_tokens, output_tokens,
            indexOf({{price_combos:Array(UInt64)}},
                    cityHash64(request_model, response_model, provider)) AS c_idx,
            if(c_idx = 0, 0, arrayLastIndex((c, e) -> c = c_idx AND e <= toUnixTimestamp64Nano(start_time),
                {{price_entry_combo:Array(UInt32)}}, {{price_effective:Array(Int64)}})) AS p_idx,
            least(toFloat64(ifNull(cached_input_tokens, 0)), toFloat64(ifNull(input_tokens, 0))) AS cached,
            {_SPAN_COST} AS span_cost
        FROM spans FINAL
        WHERE project = {{project:String}} AND {_WINDOW} AND kind IN ('llm', 'embedding')
    )
    GROUP BY trace_id
"""


def _tasks(dims: list[str]) -> str:
    """One row per request: its cohort values (``dims``) and outcomes."""
    return f"""
    SELECT
        trace_id,
        {_dimension_columns(dims)}
        (max(toUnixTimestamp64Nano(start_time) + toInt64(duration_ns))
            - min(toUnixTimestamp64Nano(start_time))) / 1e6 AS duration_ms,
        argMin(status_code, (reinterpretAsUInt64(parent_span_id) != 0, start_time)) = 'error' AS failed,
        countIf(status_code = 'error' AND (positionCaseInsensitive(error_type, 'timeout') > 0
                OR positionCaseInsensitive(status_message, 'timed out') > 0)) > 0 AS timed_out,
        countIf(is_fallback) > 0 AS fell_back,
        countIf(kind = 'tool') AS t_tool_calls,
        countIf(kind = 'tool' AND status_code = 'error') AS t_tool_failures,
        countIf(kind = 'tool' AND authorization = 'denied') AS t_denied,
        countIf(kind = 'retrieval') AS t_retrievals,
        countIf(kind = 'retrieval' AND empty(document_ids)) AS t_empty_retrievals,
        sum(ifNull(input_tokens, 0) + ifNull(output_tokens, 0)) AS t_tokens
    FROM spans FINAL
    WHERE project = {{project:String}} AND {_WINDOW}
    GROUP BY trace_id
    """


PRICE_COMBOS = f"""
SELECT DISTINCT request_model, response_model, provider,
    cityHash64(request_model, response_model, provider) AS combo_hash
FROM spans
WHERE project = {{project:String}} AND {_WINDOW} AND kind IN ('llm', 'embedding')
"""
"""The (request model, response model, provider) combinations to price in a window, each with
the hash the cost query finds it by (hashing three columns is cheaper than joining them into
a string on every model span)."""

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
LEFT JOIN ({_COSTS}) AS c ON t.trace_id = c.trace_id
LEFT JOIN ({_FEEDBACK}) AS f ON t.trace_id = f.trace_id
WHERE {_filters(list(filtered))}
{group}
)
{order}
{_SETTINGS}
"""


STAGES: dict[str, str] = {
    "model": "kind IN ('llm', 'embedding')",
    "retrieval": "kind = 'retrieval'",
    "rerank": "kind = 'rerank'",
    "tool": "kind = 'tool'",
}
"""Stage -> which spans make it. ``app`` is the rest of the request's wall time."""

_ANY_STAGE = "kind IN ('llm', 'embedding', 'retrieval', 'rerank', 'tool')"


def _union_ms(condition: str) -> str:
    """Wall time (ms) during which at least one span matching ``condition`` was open: the
    intervals sorted by start, each adding only what extends past the furthest end so far."""
    return (
        "arrayFold((acc, x) -> (acc.1 + greatest(toInt64(0), x.2 - greatest(x.1, acc.2)), "
        "greatest(acc.2, x.2)), "
        f"arraySort(groupArrayIf((s_ns, e_ns), {condition})), (toInt64(0), toInt64(0))).1 / 1e6"
    )


def _stage_tasks(dims: list[str]) -> str:
    stage_cols = ",\n        ".join(f"{_union_ms(cond)} AS st_{name}" for name, cond in STAGES.items())
    return f"""
    SELECT
        trace_id,
        {_dimension_columns(dims)}(max(e_ns) - min(s_ns)) / 1e6 AS duration_ms,
        {stage_cols},
        greatest(0, duration_ms - {_union_ms(_ANY_STAGE)}) AS st_app
    FROM (
        SELECT *, toUnixTimestamp64Nano(start_time) AS s_ns, s_ns + toInt64(duration_ns) AS e_ns
        FROM spans FINAL
        WHERE project = {{project:String}} AND {_WINDOW}
    )
    GROUP BY trace_id
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
{_SETTINGS}
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
        SELECT trace_id,
            {_dimension_columns(needed)}min(toUnixTimestamp64Nano(start_time)) AS t_start,
            argMin(name, (reinterpretAsUInt64(parent_span_id) != 0, start_time)) AS t_name,
            argMin(status_code, (reinterpretAsUInt64(parent_span_id) != 0, start_time)) = 'error' AS failed
        FROM spans FINAL
        WHERE project = {{project:String}} AND {_WINDOW}
        GROUP BY trace_id
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
{_SETTINGS}
"""
