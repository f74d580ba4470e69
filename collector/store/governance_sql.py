"""The SQL of data governance: API keys, the audit log, deletion, and retention DDL (TTL).

Every value is a query parameter (``{name:Type}``), bound by ClickHouse; that holds for the
retention ALTERs too, whose data class names and day counts come from the policy file
(ClickHouse substitutes parameters in DDL and stores them as literals). Identifiers (tables,
columns) come only from the fixed names in this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# --- API keys --------------------------------------------------------------------------------

# The newest version of a key decides (not FINAL: on a cluster the versions of one key may sit
# on different shards, which FINAL does not merge).
KEY_BY_ID = """
SELECT key_id, secret_sha256, project, scopes, name, created_by, created_at, revoked_at
FROM api_keys
WHERE key_id = {key_id:String}
ORDER BY version DESC
LIMIT 1
"""

# Keys of one project ('' = every project), newest first; never the hash.
KEYS_LIST = """
SELECT key_id, project, scopes, name, created_by, created_at, revoked_at
FROM (
    SELECT * FROM api_keys
    WHERE {project:String} = '' OR project = {project:String}
    ORDER BY key_id, version DESC
    LIMIT 1 BY key_id
)
ORDER BY created_at DESC, key_id
"""

INSERT_KEY = """
INSERT INTO api_keys
    (key_id, secret_sha256, project, scopes, name, created_by, created_at, revoked_at, version)
VALUES ({key_id:String}, unhex({secret_sha256:String}), {project:String}, {scopes:Array(String)},
        {name:String}, {created_by:String}, fromUnixTimestamp64Milli({created_ms:Int64}, 'UTC'),
        if({revoked_ms:Int64} < 0, NULL, fromUnixTimestamp64Milli({revoked_ms:Int64}, 'UTC')),
        {version:UInt64})
"""

# --- Audit log -------------------------------------------------------------------------------

AUDIT_INSERT = """
INSERT INTO audit_log (actor, action, project, target, detail)
VALUES ({actor:String}, {action:String}, {project:String}, {target:String}, {detail:String})
"""

AUDIT_LIST = """
SELECT at, actor, action, project, target, detail
FROM audit_log
WHERE {project:String} = '' OR project = {project:String}
ORDER BY at DESC
LIMIT {limit:UInt32}
"""

# --- Deletion --------------------------------------------------------------------------------
# Lightweight DELETE: rows vanish from every read at once (they are masked, then dropped by
# merges), and ClickHouse waits for it by default (lightweight_deletes_sync). Deleting a
# trace touches its spans, its trace_index row (kept by a materialized view, so not deleted
# with the spans), its requests row (the rollup, collector/rollup.py) and its feedback, which
# may have arrived without any span.

_TRACE = "project = {project:String} AND trace_id = unhex({trace_id:String})"

COUNT_TRACE = f"""
SELECT
    (SELECT count() FROM spans FINAL WHERE {_TRACE}) AS spans,
    (SELECT count() FROM feedback FINAL WHERE {_TRACE}) AS feedback,
    (SELECT count() FROM trace_index WHERE {_TRACE}) AS index_rows
"""

# The requests row goes last: a rollup refresh (collector/rollup.py) running meanwhile finds
# the trace in trace_index and its spans until they are gone, and would write the row again.
DELETE_TRACE = (
    f"DELETE FROM feedback WHERE {_TRACE}",
    f"DELETE FROM trace_index WHERE {_TRACE}",
    f"DELETE FROM spans WHERE {_TRACE}",
    f"DELETE FROM requests WHERE {_TRACE}",
)

# A tenant's data is every trace with at least one span of the tenant: child spans from other
# instrumentations often carry no tenant, so deleting by the column alone would leave them.
_TENANT_TRACES = "SELECT trace_id FROM spans WHERE project = {project:String} AND tenant = {tenant:String}"
_OF_TENANT = f"project = {{project:String}} AND trace_id IN ({_TENANT_TRACES})"

COUNT_TENANT = f"""
SELECT
    (SELECT count() FROM spans FINAL WHERE {_OF_TENANT}) AS spans,
    (SELECT count() FROM feedback FINAL WHERE {_OF_TENANT}) AS feedback,
    (SELECT uniqExact(trace_id) FROM spans WHERE {_OF_TENANT}) AS traces
"""

# Spans go after feedback and the index: those find the tenant's traces through them, so a
# deletion interrupted half-way is completed by running it again. The requests rows go last (as
# for one trace), found by their own record of every tenant their spans carried.
_TENANT_REQUESTS = (
    "project = {project:String} AND (tenant = {tenant:String} OR has(any_tenant, {tenant:String}))"
)
DELETE_TENANT = (
    f"DELETE FROM feedback WHERE {_OF_TENANT}",
    f"DELETE FROM trace_index WHERE {_OF_TENANT}",
    f"DELETE FROM spans WHERE {_OF_TENANT}",
    f"DELETE FROM requests WHERE {_TENANT_REQUESTS}",
)

# --- Retention (TTL) -------------------------------------------------------------------------

SPAN_CONTENT_COLUMNS = ("input", "output")
"""Span columns that hold captured content; they expire after the content retention."""
FEEDBACK_CONTENT_COLUMNS = ("comment", "override")
"""Feedback columns that hold free text people typed; they expire after the feedback content retention."""

# Retention counts from arrival, not from the time a span or event says it happened: data is
# kept N days after Spyglass received it (a re-delivered span, newest version kept, starts
# again). Backfills, replays and simulated clocks (the demo) are then kept as long as live data
# instead of being deleted on insert, and the whole store ages out on one clock. The trace index
# gets its arrival time from the column default when the materialized view writes it.
SPAN_CLOCK = "ingested_at"
FEEDBACK_CLOCK = "received_at"
INDEX_CLOCK = "indexed_at"
REQUESTS_CLOCK = "last_ingested"  # the newest arrival among the request's spans

APPLIED = "SELECT target, argMax(statement, applied_at) AS statement FROM governance_applied GROUP BY target"
RECORD_APPLIED = (
    "INSERT INTO governance_applied (target, statement) VALUES ({target:String}, {statement:String})"
)


@dataclass(frozen=True)
class Statement:
    """One retention ALTER: ``target`` names what it sets (one statement per target)."""

    target: str
    sql: str
    params: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """The statement and its values, for comparing with the one applied last."""
        return json.dumps([self.sql, self.params], sort_keys=True)


def alter(table: str, clause: str) -> str:
    """``ALTER TABLE <table> <clause>``: every retention statement is built here, so cluster
    DDL (``ON CLUSTER``, the local tables under a Distributed one) needs one change."""
    return f"ALTER TABLE {table} {clause}"


def days_by_class(by_class: Mapping[str, int], default: int, tag: str) -> tuple[str, dict[str, Any]]:
    """A day count chosen by the span's data class, as SQL and parameters.

    Example: ``days_by_class({"public": 30}, 7, "c")`` is
    ``multiIf(data_class = {c_class0:String}, {c_days0:UInt16}, {c_default:UInt16})`` with
    ``{"c_default": 7, "c_class0": "public", "c_days0": 30}``.
    """
    params: dict[str, Any] = {f"{tag}_default": default}
    if not by_class:
        return f"{{{tag}_default:UInt16}}", params
    arms = []
    for i, (name, days) in enumerate(sorted(by_class.items())):
        arms.append(f"data_class = {{{tag}_class{i}:String}}, {{{tag}_days{i}:UInt16}}")
        params[f"{tag}_class{i}"] = name
        params[f"{tag}_days{i}"] = days
    return f"multiIf({', '.join(arms)}, {{{tag}_default:UInt16}})", params


def expires(time_column: str, days_sql: str) -> str:
    return f"toDateTime({time_column}) + toIntervalDay({days_sql})"


def ttl_statements(
    content: tuple[Mapping[str, int], int],
    metadata: tuple[Mapping[str, int], int],
    feedback_content_days: int,
    feedback_days: int,
) -> list[Statement]:
    """The retention ALTERs for a policy: ``content`` and ``metadata`` are (days by data
    class, default days) for spans; feedback has one pair of values.

    Content columns get a column TTL (the value is emptied when it expires), rows a table TTL
    (the row is deleted); the trace index and the requests rollup keep a trace for the longest
    metadata retention.
    """
    content_sql, content_params = days_by_class(*content, "c")
    meta_sql, meta_params = days_by_class(*metadata, "m")
    longest = max([metadata[1], *metadata[0].values()])
    out = [Statement("spans", alter("spans", f"MODIFY TTL {expires(SPAN_CLOCK, meta_sql)}"), meta_params)]
    for column in SPAN_CONTENT_COLUMNS:
        clause = f"MODIFY COLUMN {column} TTL {expires(SPAN_CLOCK, content_sql)}"
        out.append(Statement(f"spans.{column}", alter("spans", clause), content_params))
    out.append(
        Statement(
            "trace_index",
            alter("trace_index", f"MODIFY TTL {expires(INDEX_CLOCK, '{days:UInt16}')}"),
            {"days": longest},
        )
    )
    out.append(
        Statement(
            "requests",
            alter("requests", f"MODIFY TTL {expires(REQUESTS_CLOCK, '{days:UInt16}')}"),
            {"days": longest},
        )
    )
    out.append(
        Statement(
            "feedback",
            alter("feedback", f"MODIFY TTL {expires(FEEDBACK_CLOCK, '{days:UInt16}')}"),
            {"days": feedback_days},
        )
    )
    for column in FEEDBACK_CONTENT_COLUMNS:
        clause = f"MODIFY COLUMN {column} TTL {expires(FEEDBACK_CLOCK, '{days:UInt16}')}"
        out.append(
            Statement(f"feedback.{column}", alter("feedback", clause), {"days": feedback_content_days})
        )
    return out


def materialize_ttl(table: str) -> str:
    """Force expiry now (tests; ClickHouse otherwise applies TTL in background merges)."""
    return alter(table, "MATERIALIZE TTL SETTINGS mutations_sync = 2")
