"""Every query Spyglass runs, in one module: parameterized ClickHouse SQL (``{name:Type}``
placeholders bound by the engine), the same text for the embedded and the server backend.
Values never enter the SQL text; only identifiers from fixed lists in this module do."""

from __future__ import annotations

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
# Rows are filtered in the inner query and formatted in the outer one: ClickHouse lets a
# SELECT alias shadow a column in WHERE, and the hex aliases reuse the column names.
TRACE_SPANS = f"""
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

# The same trace without the trace index (kept for the lookup benchmark).
TRACE_SPANS_NO_INDEX = f"""
SELECT {_select_list()}
FROM (
    SELECT * FROM spans FINAL
    WHERE project = {{project:String}} AND trace_id = unhex({{trace_id:String}})
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
    """The schema migrations shipped with Spyglass: (version, file name, statements), in order."""
    found = []
    for entry in resources.files(__package__).joinpath("sql").iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, split_statements(entry.read_text())))
    return sorted(found)


def split_statements(script: str) -> list[str]:
    """Split a migration file on ';' at line ends, dropping comment-only lines."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    parts = "\n".join(lines).split(";\n")
    return [p.strip().rstrip(";").strip() for p in parts if p.strip().rstrip(";").strip()]
