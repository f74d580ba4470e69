"""The SQL that keeps ``requests`` (one row per trace, ``sql/0005_requests.sql``) up to date.

A refresh recomputes whole traces from ``spans FINAL``: the traces whose trace-index rows
arrived at or after ``{since_ms}`` (``trace_index.indexed_at``, set by the column default when
the materialized view writes a span's trace), split in chunks by the day the trace starts so
each statement reads only the days its traces span. Recomputing is idempotent, so concurrent
refreshes (several collectors on one server) and a span delivered twice stay correct: the
newest ``refreshed_at`` of a (project, trace_id) wins under FINAL.

Sub-queries use ``GLOBAL IN``: on a cluster ``spans`` and ``trace_index`` are Distributed tables
(a plain ``IN`` over one inside a query over another is refused); on one server it is ``IN``.
"""

from __future__ import annotations

# The traces to recompute: every trace-index row that arrived since the watermark.
_DIRTY = """
    SELECT project, trace_id FROM trace_index
    WHERE indexed_at >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')
"""

NOW_MS = "SELECT toUnixTimestamp64Milli(now64(3)) AS now_ms"
"""The server's clock (trace_index.indexed_at is the server's clock too)."""

LAST_REFRESH = "SELECT toUnixTimestamp64Milli(max(refreshed_at)) AS ms, count() > 0 AS any FROM requests"
"""The newest refresh recorded in ``requests`` (where a new process resumes)."""

COMBOS_SINCE = """
SELECT DISTINCT project, rq AS request_model, rs AS response_model, pv AS provider,
    cityHash64(rq, rs, pv) AS combo_hash
FROM requests
ARRAY JOIN call_request_model AS rq, call_response_model AS rs, call_provider AS pv
WHERE refreshed_at >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')
"""
"""The model-call combinations (request model, response model, provider) of the rows refreshed
since ``since_ms``, with the hash the cost query finds them by (``cohort_sql``)."""

DIRTY_DAYS = f"""
SELECT day, toUnixTimestamp64Nano(min(s_min)) AS lo_ns, toUnixTimestamp64Nano(max(s_max)) AS hi_ns,
    count() AS traces
FROM (
    SELECT project, trace_id, toDate(min(start_min)) AS day, min(start_min) AS s_min,
        max(start_max) AS s_max
    FROM trace_index
    WHERE (project, trace_id) GLOBAL IN ({_DIRTY})
    GROUP BY project, trace_id
)
GROUP BY day
ORDER BY day
"""
"""Per day of trace start: the time range its dirty traces' spans cover, and how many."""

# One row per trace from its spans; names unlike any span column (ClickHouse lets an alias
# shadow a column in the same SELECT), renamed by the INSERT's column list.
_ROOT_FIRST = "(reinterpretAsUInt64(parent_span_id) != 0, start_time)"
_TIMEOUT = (
    "status_code = 'error' AND (positionCaseInsensitive(error_type, 'timeout') > 0 "
    "OR positionCaseInsensitive(status_message, 'timed out') > 0)"
)
STAGES: dict[str, str] = {
    "model": "kind IN ('llm', 'embedding')",
    "retrieval": "kind = 'retrieval'",
    "rerank": "kind = 'rerank'",
    "tool": "kind = 'tool'",
    "any": "kind IN ('llm', 'embedding', 'retrieval', 'rerank', 'tool')",
}
"""Stage -> which spans make it (``any``: every stage; the rest of the request is ``app``)."""


def _union_us(condition: str) -> str:
    """Wall time (µs, rounded) during which at least one span matching ``condition`` was open: the
    intervals sorted by start, each adding only what extends past the furthest end so far."""
    return (
        "arrayFold((acc, x) -> (acc.1 + greatest(toInt64(0), x.2 - greatest(x.1, acc.2)), "
        "greatest(acc.2, x.2)), "
        f"arraySort(groupArrayIf((s_ns, e_ns), {condition})), (toInt64(0), toInt64(0))).1 / 1000"
    )


_COLUMNS: dict[str, str] = {
    "project": "project",
    "trace_id": "trace_id",
    "start_ns": "min(s_ns)",
    "duration_ns": "max(e_ns) - min(s_ns)",
    "name": f"argMin(name, {_ROOT_FIRST})",
    "service": f"argMin(service, {_ROOT_FIRST})",
    "tenant": "anyIf(tenant, tenant != '')",
    "workflow": "anyIf(workflow, workflow != '')",
    "intent": "anyIf(intent, intent != '')",
    "release": "anyIf(release, release != '')",
    # The first model call with a prompt version; the route the first model call was meant
    # for (its fallback_from when it is already a fallback); the first retrieval's corpus.
    "prompt": "if(r_prompt.2 = '', '', concat(r_prompt.1, '@', r_prompt.2))",
    "model": "if(r_model.2 = '', '', concat(if(r_model.1 != '', concat(r_model.1, '/'), ''), r_model.2))",
    "corpus": "if(r_corpus.1 = '', '', concat(r_corpus.1, '@', r_corpus.2))",
    "failed": f"argMin(status_code, {_ROOT_FIRST}) = 'error'",
    "timed_out": f"countIf({_TIMEOUT}) > 0",
    "fell_back": "countIf(is_fallback) > 0",
    "span_count": "count()",
    "error_count": "countIf(status_code = 'error')",
    "tool_calls": "countIf(kind = 'tool')",
    "tool_failures": "countIf(kind = 'tool' AND status_code = 'error')",
    "denied": "countIf(kind = 'tool' AND authorization = 'denied')",
    "retrievals": "countIf(kind = 'retrieval')",
    "empty_retrievals": "countIf(kind = 'retrieval' AND empty(document_ids))",
    "input_tokens": "sum(ifNull(input_tokens, 0))",
    "output_tokens": "sum(ifNull(output_tokens, 0))",
    **{f"st_{name}_us": f"toUInt32(round({_union_us(cond)}))" for name, cond in STAGES.items()},
    "models": (
        "arraySort(groupUniqArrayIf(if(response_model != '', response_model, request_model), "
        "request_model != '' OR response_model != ''))"
    ),
    "any_tenant": "arrayFilter(x -> x != c_tenant, groupUniqArrayIf(tenant, tenant != ''))",
    "any_workflow": "arrayFilter(x -> x != c_workflow, groupUniqArrayIf(workflow, workflow != ''))",
    "any_intent": "arrayFilter(x -> x != c_intent, groupUniqArrayIf(intent, intent != ''))",
    "any_release": "arrayFilter(x -> x != c_release, groupUniqArrayIf(release, release != ''))",
    "any_prompt": (
        "arrayFilter(x -> x != c_prompt, groupUniqArrayIf(concat(prompt_name, '@', prompt_version), "
        "prompt_name != '' OR prompt_version != ''))"
    ),
    # What the trace list's model filter matches: a span's request or response model, or
    # provider/request model and provider/fallback-from when it names a provider (not a bare
    # "provider/": nobody filters on that).
    "any_model": (
        "groupUniqArrayArrayIf(arrayFilter(x -> x != '' AND NOT endsWith(x, '/'), [toString(request_model), "
        "toString(response_model), if(provider != '', concat(provider, '/', request_model), ''), "
        "if(provider != '', concat(provider, '/', fallback_from), '')]), "
        "request_model != '' OR response_model != '' OR provider != '')"
    ),
    "any_corpus": (
        "arrayFilter(x -> x != c_corpus, "
        "groupUniqArrayIf(concat(corpus, '@', corpus_version), corpus != '' OR corpus_version != ''))"
    ),
    "call_kind": "arrayMap(c -> c.2, r_calls)",
    "call_request_model": "arrayMap(c -> c.3, r_calls)",
    "call_response_model": "arrayMap(c -> c.4, r_calls)",
    "call_provider": "arrayMap(c -> c.5, r_calls)",
    "call_offset_ns": "arrayMap(c -> c.1 - c_start_ns, r_calls)",
    "call_input_tokens": "arrayMap(c -> c.6, r_calls)",
    "call_output_tokens": "arrayMap(c -> c.7, r_calls)",
    "call_cached_input_tokens": "arrayMap(c -> c.8, r_calls)",
    "last_ingested": "toDateTime(max(ingested_at))",
    "refreshed_at": "fromUnixTimestamp64Milli({now_ms:Int64}, 'UTC')",
}
REQUEST_COLUMNS = tuple(_COLUMNS)
"""The columns of ``requests``, in the order a refresh writes them."""

_SPAN_COLUMNS = (
    "project, trace_id, parent_span_id, start_time, name, service, kind, status_code, "
    "status_message, error_type, tenant, workflow, intent, release, provider, request_model, "
    "response_model, prompt_name, prompt_version, input_tokens, output_tokens, "
    "cached_input_tokens, is_fallback, fallback_from, corpus, corpus_version, document_ids, "
    "authorization, ingested_at"
)


def _select() -> str:
    helpers = (
        "argMinIf((prompt_name, prompt_version), start_time, kind = 'llm' AND prompt_version != '') "
        "AS r_prompt",
        "argMinIf((provider, if(fallback_from != '', fallback_from, request_model)), start_time, "
        "kind = 'llm' AND request_model != '') AS r_model",
        "argMinIf((corpus, corpus_version), start_time, kind = 'retrieval' AND corpus != '') AS r_corpus",
        "arraySort(groupArrayIf((s_ns, kind, request_model, response_model, provider, input_tokens, "
        "output_tokens, cached_input_tokens), kind IN ('llm', 'embedding'))) AS r_calls",
    )
    cols = [f"{expr} AS c_{name}" if expr != name else name for name, expr in _COLUMNS.items()]
    return ",\n    ".join([*helpers, *cols])


REFRESH_DAY = f"""
INSERT INTO requests ({", ".join(REQUEST_COLUMNS)})
SELECT {", ".join(f"c_{c}" if c not in ("project", "trace_id") else c for c in REQUEST_COLUMNS)}
FROM (
SELECT
    {_select()}
FROM (
    SELECT {_SPAN_COLUMNS}, toUnixTimestamp64Nano(start_time) AS s_ns, s_ns + toInt64(duration_ns) AS e_ns
    FROM spans FINAL
    WHERE start_time BETWEEN fromUnixTimestamp64Nano({{lo_ns:Int64}}, 'UTC')
                         AND fromUnixTimestamp64Nano({{hi_ns:Int64}}, 'UTC')
      AND (project, trace_id) GLOBAL IN (
          SELECT project, trace_id FROM trace_index
          WHERE (project, trace_id) GLOBAL IN ({_DIRTY})
          GROUP BY project, trace_id
          HAVING toDate(min(start_min)) = {{day:Date}}
      )
)
GROUP BY project, trace_id
)
SETTINGS do_not_merge_across_partitions_select_final = 1
"""
"""Recompute the dirty traces that start on ``{day}`` from their spans in [lo_ns, hi_ns]."""
