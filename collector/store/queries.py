"""Every query Spyglass runs, in one module: parameterized ClickHouse SQL (``{name:Type}``
placeholders bound by the engine), the same text for the embedded and the server backend.
Values never enter the SQL text; only identifiers from fixed lists in this module do."""

from __future__ import annotations

import re
from importlib import resources

# Columns the normalizer produces, in insert order (ingested_at is filled by the table default).
SPAN_COLUMNS: tuple[str, ...] = (
    "project",
    "trace_id",
    "span_id",
    "parent_span_id",
    "trace_state",
    "flags",
    "start_time",
    "duration_ns",
    "name",
    "span_kind",
    "kind",
    "status_code",
    "status_message",
    "error_type",
    "service",
    "scope_name",
    "scope_version",
    "tenant",
    "workflow",
    "intent",
    "release",
    "user_id",
    "session_id",
    "operation",
    "provider",
    "request_model",
    "response_model",
    "endpoint_type",
    "batch_job_id",
    "prompt_name",
    "prompt_version",
    "prompt_hash",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "finish_reasons",
    "is_fallback",
    "fallback_from",
    "corpus",
    "corpus_version",
    "top_k",
    "document_ids",
    "document_scores",
    "tool_name",
    "tool_schema_version",
    "tool_call_id",
    "authorization",
    "authorization_reason",
    "data_class",
    "input",
    "output",
    "attributes",
    "resource_attributes",
    "scope_attributes",
    "events_time",
    "events_name",
    "events_attributes",
    "links_trace_id",
    "links_span_id",
    "links_trace_state",
    "links_attributes",
    "dropped_attributes_count",
    "dropped_events_count",
    "dropped_links_count",
)

_HEX_IDS = {"trace_id", "span_id", "parent_span_id"}

SPANS_TABLE = "spans"
"""Inserts name the table and send Arrow columns named as ``SPAN_COLUMNS``."""


def _select_list() -> str:
    cols = []
    for col in SPAN_COLUMNS:
        if col in _HEX_IDS:
            cols.append(f"lower(hex({col})) AS {col}")
        elif col == "links_trace_id" or col == "links_span_id":
            cols.append(f"arrayMap(x -> lower(hex(x)), {col}) AS {col}")
        else:
            cols.append(col)
    return ", ".join(cols)


# FINAL collapses re-delivered spans. A re-delivered span has the same start_time, hence the
# same daily partition, so FINAL never needs to merge across partitions; saying so lets
# ClickHouse prune partitions by the time window (7.6x faster lookups, bench/trace_lookup.py).
_FINAL_SETTINGS = "SETTINGS do_not_merge_across_partitions_select_final = 1"

# One trace: the trace index gives the time window, so only the days it spans are read.
# IDs come back as binary (FixedString) and are hex-encoded by the reader
# (``analytics.trace.hex_ids``): an outer SELECT formatting them cost a third of the lookup
# at 10M spans (bench/trace_lookup.py), and filtering and ordering in one SELECT avoids the
# alias-shadows-column trap of formatting in place.
# Measured alternatives at 10M spans, same run, interleaved (none kept): no FINAL with
# ``ORDER BY start_time, span_id, ingested_at DESC LIMIT 1 BY span_id`` 1.01x the time (the
# window leaves one part and one granule: FINAL merges nothing); the window fetched first and
# passed as parameters 1.01x; no window (sort key only, no FINAL) 3.9x, a granule per part;
# max_threads = 1, local_filesystem_read_method = 'pread', smaller read buffers, synchronous
# mark loading: within 4%. What the time is: ~6 ms to plan and return 64 columns even when
# nothing matches, ~4 ms for the window, the rest reading one granule of each column (the
# table layout, migration 0006).
TRACE_SPANS = f"""
WITH (
    SELECT (min(start_min), max(start_max)) FROM trace_index
    WHERE project = {{project:String}} AND trace_id = unhex({{trace_id:String}})
) AS window
SELECT {", ".join(SPAN_COLUMNS)}
FROM spans FINAL
WHERE project = {{project:String}}
  AND trace_id = unhex({{trace_id:String}})
  AND start_time BETWEEN window.1 AND window.2
ORDER BY start_time, span_id
{_FINAL_SETTINGS}
"""

# The same trace without the trace index (kept for the lookup benchmark).
TRACE_SPANS_NO_INDEX = f"""
SELECT {", ".join(SPAN_COLUMNS)}
FROM spans FINAL
WHERE project = {{project:String}} AND trace_id = unhex({{trace_id:String}})
ORDER BY start_time, span_id
{_FINAL_SETTINGS}
"""

# The lookup as it was before the IDs moved out of SQL (the benchmark's baseline).
TRACE_SPANS_HEX_IN_SQL = f"""
SELECT {_select_list()}
FROM (
    WITH (
        SELECT (min(start_min), max(start_max)) FROM trace_index
        WHERE project = {{project:String}} AND trace_id = unhex({{trace_id:String}})
    ) AS window
    SELECT * FROM spans FINAL
    WHERE project = {{project:String}}
      AND trace_id = unhex({{trace_id:String}})
      AND start_time BETWEEN window.1 AND window.2
)
ORDER BY start_time, span_id
{_FINAL_SETTINGS}
"""

COUNT_SPANS = "SELECT count() FROM spans FINAL WHERE project = {project:String}"

MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY version
"""

APPLIED_MIGRATIONS = "SELECT version FROM schema_migrations FINAL ORDER BY version"

RECORD_MIGRATION = "INSERT INTO schema_migrations (version, name) VALUES ({version:UInt32}, {name:String})"


def migrations() -> list[tuple[int, str, list[str]]]:
    """The schema migrations shipped with Spyglass: (version, file name, statements), in order.

    A migration is ``sql/NNNN_name.sql``. Several collectors may apply one at the same moment
    (ClickHouse has no transactions), so each statement must be idempotent
    (``not_idempotent`` names the ones that are not; a unit test holds every file to it).
    """
    found: dict[int, tuple[int, str, list[str]]] = {}
    for entry in resources.files(__package__).joinpath("sql").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        prefix = entry.name.split("_", 1)[0]
        if not prefix.isdigit():
            raise ValueError(f"migration {entry.name} must be named NNNN_name.sql")
        version = int(prefix)
        if version in found:
            raise ValueError(f"migrations {found[version][1]} and {entry.name} share version {version}")
        found[version] = (version, entry.name, split_statements(entry.read_text()))
    return sorted(found.values())


# A statement that creates or drops must say IF [NOT] EXISTS to be safe to run twice.
_MUST_GUARD = (
    (
        re.compile(r"^\s*CREATE\s+(TABLE|MATERIALIZED\s+VIEW|VIEW|DATABASE|DICTIONARY)\b", re.I),
        re.compile(r"^\s*CREATE\s+\w+(\s+VIEW)?\s+IF\s+NOT\s+EXISTS\b", re.I),
    ),
    (re.compile(r"^\s*DROP\s+\w+", re.I), re.compile(r"^\s*DROP\s+\w+\s+IF\s+EXISTS\b", re.I)),
)
_ALTER_GUARDS = (
    re.compile(r"\bADD\s+(COLUMN|INDEX|PROJECTION|CONSTRAINT)\s+(?!IF\s+NOT\s+EXISTS)", re.I),
    re.compile(r"\b(DROP|CLEAR)\s+(COLUMN|INDEX|PROJECTION|CONSTRAINT)\s+(?!IF\s+EXISTS)", re.I),
)


def not_idempotent(statements: list[str]) -> list[str]:
    """The statements that could fail or change things when run a second time."""
    bad = []
    for statement in statements:
        for applies, guarded in _MUST_GUARD:
            if applies.match(statement) and not guarded.match(statement):
                bad.append(statement)
        if re.match(r"^\s*ALTER\b", statement, re.I) and any(g.search(statement) for g in _ALTER_GUARDS):
            bad.append(statement)
        if re.match(r"^\s*(INSERT|RENAME|EXCHANGE|TRUNCATE)\b", statement, re.I):
            bad.append(statement)
    return bad


def split_statements(script: str) -> list[str]:
    """Split a migration file on ';' at line ends, dropping comment-only lines."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    parts = "\n".join(lines).split(";\n")
    return [p.strip().rstrip(";").strip() for p in parts if p.strip().rstrip(";").strip()]


# --- Feedback -------------------------------------------------------------------------------

FEEDBACK_TABLE = "feedback"
FEEDBACK_COLUMNS: tuple[str, ...] = (
    "project",
    "trace_id",
    "span_id",
    "event_id",
    "timestamp",
    "received_at",
    "thumbs",
    "score",
    "comment",
    "source",
    "escalation_reason",
    "override",
    "resolution",
    "attributes",
)

_FEEDBACK_SELECT = (
    "lower(hex(trace_id)) AS trace_id, lower(hex(span_id)) AS span_id, event_id, timestamp, "
    "received_at, thumbs, score, comment, source, escalation_reason, override, resolution, attributes"
)

# One trace's feedback, oldest first (several events may share a timestamp: arrival breaks ties).
TRACE_FEEDBACK = f"""
SELECT {_FEEDBACK_SELECT}
FROM (
    SELECT * FROM feedback FINAL
    WHERE project = {{project:String}} AND trace_id = unhex({{trace_id:String}})
)
ORDER BY timestamp, received_at, event_id
"""

_WINDOW = (
    "BETWEEN fromUnixTimestamp64Nano({since_ns:Int64}, 'UTC') "
    "AND fromUnixTimestamp64Nano({until_ns:Int64}, 'UTC')"
)

# The inbox: negative feedback and escalations, newest first, each with its trace's latest
# resolution (a trace is resolved once any of its events carries one). Optional filters are
# parameters too: an empty value means "any", so the SQL text never changes.
FEEDBACK_INBOX = f"""
SELECT {_FEEDBACK_SELECT}, trace_resolution
FROM (
    SELECT f.*, r.latest AS trace_resolution
    FROM (
        SELECT * FROM feedback FINAL
        WHERE project = {{project:String}}
          AND timestamp {_WINDOW}
          AND (thumbs = 'down' OR escalation_reason != '')
          AND ({{source:String}} = '' OR source = {{source:String}})
    ) AS f
    LEFT JOIN (
        SELECT trace_id, argMax(resolution, (timestamp, received_at)) AS latest
        FROM feedback FINAL
        WHERE project = {{project:String}} AND resolution != ''
        GROUP BY trace_id
    ) AS r ON f.trace_id = r.trace_id
    WHERE {{state:String}} = 'all' OR (({{state:String}} = 'resolved') = (r.latest != ''))
    ORDER BY f.timestamp DESC, f.event_id
    LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}
)
ORDER BY timestamp DESC, event_id
"""


# --- Trace list -----------------------------------------------------------------------------

# Recent traces, newest first, one row per trace from the ``requests`` rollup (kept by
# ``collector.rollup``; the caller refreshes it first): the traces that start in the window.
# A filter matches when any span of the trace carries the value: the request's own value or
# one of the others its spans carry (the rollup's ``any_*``).
# ``llm_calls`` carries what pricing needs, built only for the page's rows.
_TRACE_LIST = """
SELECT
    lower(hex(trace_id)) AS trace_id, start_ns, start_ns + duration_ns AS end_ns, name,
    service, tenant, workflow, intent, release, models, span_count, error_count,
    input_tokens, output_tokens,
    arrayZip(call_kind, call_request_model, call_response_model, call_input_tokens,
             call_output_tokens, call_cached_input_tokens,
             arrayMap(x -> fromUnixTimestamp64Nano(start_ns + x, 'UTC'), call_offset_ns)) AS llm_calls,
    t_feedback AS feedback_count, t_negative AS negative_feedback, t_escalated AS escalated
FROM (
    SELECT t.*, f.t_feedback, f.t_negative, f.t_escalated
    FROM (
        SELECT *
        FROM requests FINAL
        WHERE project = {project:String} AND start_ns __WINDOW__
          AND ({tenant:String} = '' OR tenant = {tenant:String} OR has(any_tenant, {tenant:String}))
          AND ({workflow:String} = '' OR workflow = {workflow:String} OR has(any_workflow, {workflow:String}))
          AND ({intent:String} = '' OR intent = {intent:String} OR has(any_intent, {intent:String}))
          AND ({prompt:String} = '' OR prompt = {prompt:String} OR has(any_prompt, {prompt:String}))
          AND ({release:String} = '' OR release = {release:String} OR has(any_release, {release:String}))
          AND ({model:String} = '' OR has(any_model, {model:String}))
          AND ({corpus:String} = '' OR corpus = {corpus:String} OR has(any_corpus, {corpus:String}))
          AND (NOT {errors_only:Bool} OR error_count > 0)
          AND duration_ns >= {min_duration_ns:Int64}
    ) AS t
    LEFT JOIN (
        SELECT trace_id, count() AS t_feedback, countIf(thumbs = 'down') > 0 AS t_negative,
               countIf(escalation_reason != '') > 0 AS t_escalated
        FROM feedback FINAL
        WHERE project = {project:String}
        GROUP BY trace_id
    ) AS f ON t.trace_id = f.trace_id
    WHERE {negative:String} = '' OR (f.t_negative = ({negative:String} = 'true'))
    ORDER BY __ORDER_INNER__
    LIMIT {limit:UInt32} OFFSET {offset:UInt32}
)
ORDER BY __ORDER_OUTER__
"""

_TRACE_WINDOW = "BETWEEN {since_ns:Int64} AND {until_ns:Int64}"

_TRACE_ORDER = {
    "newest": ("t.start_ns DESC, t.trace_id", "start_ns DESC, trace_id"),
    "slowest": ("t.duration_ns DESC, t.trace_id", "end_ns - start_ns DESC, trace_id"),
}


def trace_list(sort: str = "newest") -> str:
    """The traces page's query, ordered ``newest`` first or ``slowest`` first."""
    inner, outer = _TRACE_ORDER[sort]
    return (
        _TRACE_LIST.replace("__WINDOW__", _TRACE_WINDOW)
        .replace("__ORDER_INNER__", inner)
        .replace("__ORDER_OUTER__", outer)
    )


TRACE_LIST = trace_list("newest")
