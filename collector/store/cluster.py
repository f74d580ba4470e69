"""The schema for a ClickHouse cluster, rendered from the same migration files.

A single server runs the migrations as written. On a cluster (``SPYGLASS_CLUSTER=name``) each
statement becomes its cluster form, executed ``ON CLUSTER``:

- ``CREATE TABLE t ... ENGINE = XMergeTree(args)`` -> a local table ``t_local`` on every node
  with ``ReplicatedXMergeTree('/clickhouse/tables/{shard}/{database}/t_local', '{replica}',
  args)``, plus ``t`` itself as a ``Distributed`` table over them, sharded by
  ``cityHash64(trace_id)`` when the table has a trace ID (one trace lives on one shard, so a
  trace lookup, ``FINAL`` deduplication and the per-request aggregation stay shard-local), else
  by ``rand()``. Queries and inserts keep using ``t``.
- ``CREATE MATERIALIZED VIEW v TO t AS SELECT ... FROM s`` -> the view on every node, reading
  ``s_local`` and writing ``t_local`` (a view fires on the local insert a shard receives).
- ``ALTER TABLE t ...`` -> on ``t_local``; column changes also on ``t`` (a Distributed table
  has columns but no TTL, indexes or settings).

Statements run later through ``Store.command`` (retention ALTERs, deletions) get the same
treatment from ``render_command``: ``DELETE FROM t`` becomes ``DELETE FROM t_local ON
CLUSTER``.

The renderer is pure text work on the statements Spyglass ships; anything else is refused with
an error naming the statement rather than guessed at.

Example::

    render_cluster(["CREATE TABLE IF NOT EXISTS feedback (...) ENGINE = MergeTree ORDER BY x"], "main")
"""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
LOCAL_SUFFIX = "_local"

_CREATE_TABLE = re.compile(
    r"^CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(?P<name>\w+)\s*(?P<columns>\(.*\))\s*"
    r"ENGINE\s*=\s*(?P<engine>\w*MergeTree)(?:\s*\((?P<args>[^()]*)\))?(?P<rest>.*)$",
    re.S | re.I,
)
_CREATE_VIEW = re.compile(
    r"^CREATE\s+MATERIALIZED\s+VIEW\s+IF\s+NOT\s+EXISTS\s+(?P<name>\w+)\s+TO\s+(?P<target>\w+)\s+"
    r"AS\s+(?P<select>.*)$",
    re.S | re.I,
)
_ALTER = re.compile(r"^ALTER\s+TABLE\s+(?P<name>\w+)\s+(?P<clauses>.*)$", re.S | re.I)
_DELETE = re.compile(r"^DELETE\s+FROM\s+(?P<name>\w+)\s+(?P<rest>WHERE\b.*)$", re.S | re.I)
_COLUMN_CLAUSE = re.compile(r"^(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b", re.I)
_MODIFY_COLUMN_TTL = re.compile(r"^MODIFY\s+COLUMN\s+\w+\s+(REMOVE\s+TTL|TTL)\b", re.I)


class ClusterRenderError(ValueError):
    """A migration statement has no cluster form the renderer knows."""


def check_cluster_name(cluster: str) -> str:
    """``cluster`` if it is a plain identifier (it is spliced into DDL, which takes no
    parameters), else ``ClusterRenderError`` saying so."""
    if not _IDENTIFIER.match(cluster):
        raise ClusterRenderError(
            f"cluster name {cluster!r} is not a plain name: use the <remote_servers> entry's name "
            "(letters, digits, underscores)"
        )
    return cluster


def render_cluster(statements: list[str], cluster: str) -> list[str]:
    """The cluster form of ``statements`` (one migration, in order) for ``cluster``."""
    check_cluster_name(cluster)
    out: list[str] = []
    for statement in statements:
        out.extend(_render(statement.strip(), cluster))
    return out


def render_command(statement: str, cluster: str) -> list[str]:
    """A runtime statement (``Store.command``) for ``cluster``: ``ALTER TABLE`` as in a
    migration, ``DELETE FROM t`` on ``t_local`` on every node; anything else (an INSERT into a
    Distributed table, say) runs as written."""
    check_cluster_name(cluster)
    statement = statement.strip()
    if match := _ALTER.match(statement):
        return _alter(match["name"], match["clauses"], cluster)
    if match := _DELETE.match(statement):
        return [f"DELETE FROM {match['name']}{LOCAL_SUFFIX} ON CLUSTER {cluster} {match['rest']}"]
    return [statement]


def _render(statement: str, cluster: str) -> list[str]:
    if match := _CREATE_TABLE.match(statement):
        return _table(match, cluster)
    if match := _CREATE_VIEW.match(statement):
        select = _local_sources(match["select"])
        return [
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {match['name']} ON CLUSTER {cluster} "
            f"TO {match['target']}{LOCAL_SUFFIX} AS {select}"
        ]
    if match := _ALTER.match(statement):
        return _alter(match["name"], match["clauses"], cluster)
    raise ClusterRenderError(
        "no cluster form for this migration statement (the renderer knows CREATE TABLE IF NOT "
        "EXISTS ... ENGINE = *MergeTree, CREATE MATERIALIZED VIEW IF NOT EXISTS ... TO, and ALTER "
        f"TABLE): {statement[:200]}"
    )


def _table(match: re.Match[str], cluster: str) -> list[str]:
    name, columns, engine = match["name"], match["columns"], match["engine"]
    local = name + LOCAL_SUFFIX
    path = f"'/clickhouse/tables/{{shard}}/{{database}}/{local}'"
    args = ", ".join(a for a in (path, "'{replica}'", (match["args"] or "").strip()) if a)
    replicated = engine if engine.lower().startswith("replicated") else "Replicated" + engine
    shard_key = "cityHash64(trace_id)" if re.search(r"^\s*trace_id\s", columns, re.M) else "rand()"
    return [
        f"CREATE TABLE IF NOT EXISTS {local} ON CLUSTER {cluster} {columns} "
        f"ENGINE = {replicated}({args}){match['rest']}",
        f"CREATE TABLE IF NOT EXISTS {name} ON CLUSTER {cluster} AS {local} "
        f"ENGINE = Distributed({cluster}, currentDatabase(), {local}, {shard_key})",
    ]


def _local_sources(select: str) -> str:
    """The SELECT reading the local tables: ``FROM t`` / ``JOIN t`` -> ``t_local``."""
    return re.sub(r"\b(FROM|JOIN)\s+(\w+)\b", lambda m: f"{m[1]} {m[2]}{LOCAL_SUFFIX}", select, flags=re.I)


def _alter(name: str, clauses: str, cluster: str) -> list[str]:
    parts = _split_top_level(clauses)
    out = [f"ALTER TABLE {name}{LOCAL_SUFFIX} ON CLUSTER {cluster} {', '.join(parts)}"]
    columns = [p for p in parts if _COLUMN_CLAUSE.match(p) and not _MODIFY_COLUMN_TTL.match(p)]
    if columns:
        out.append(f"ALTER TABLE {name} ON CLUSTER {cluster} {', '.join(columns)}")
    return out


def _split_top_level(clauses: str) -> list[str]:
    """Split ALTER clauses on the commas outside parentheses and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(clauses):
        if quote:
            if ch == quote and clauses[i - 1] != "\\":
                quote = ""
        elif ch in "'`\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(clauses[start:i].strip())
            start = i + 1
    parts.append(clauses[start:].strip())
    return [p for p in parts if p]
