"""The cluster form of the schema, rendered from the shipped migrations, and the rule that keeps
every migration safe to run twice (several collectors may migrate at once)."""

from __future__ import annotations

import pytest

from spyglass.collector.store import queries
from spyglass.collector.store.cluster import ClusterRenderError, render_cluster, render_command


def _all_statements() -> list[str]:
    return [s for _, _, statements in queries.migrations() for s in statements]


def test_every_shipped_migration_is_idempotent() -> None:
    assert queries.not_idempotent(_all_statements()) == []


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a",
        "CREATE MATERIALIZED VIEW v TO t AS SELECT 1",
        "DROP TABLE t",
        "ALTER TABLE t ADD COLUMN b UInt8",
        "ALTER TABLE t MODIFY TTL x, DROP COLUMN b",
        "INSERT INTO t VALUES (1)",
        "RENAME TABLE t TO u",
    ],
)
def test_statements_unsafe_to_repeat_are_named(statement: str) -> None:
    assert queries.not_idempotent([statement]) == [statement]


def test_guarded_statements_pass() -> None:
    safe = [
        "CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = MergeTree ORDER BY a",
        "DROP VIEW IF EXISTS v",
        "ALTER TABLE t ADD COLUMN IF NOT EXISTS b UInt8, DROP INDEX IF EXISTS i",
        "ALTER TABLE t MODIFY TTL toDate(at) + INTERVAL 30 DAY",
    ]
    assert queries.not_idempotent(safe) == []


def test_spans_become_replicated_local_tables_behind_a_distributed_table_by_trace_id() -> None:
    (_, _, statements) = queries.migrations()[0]
    rendered = render_cluster(statements, "prod")
    local, distributed = rendered[0], rendered[1]
    assert local.startswith("CREATE TABLE IF NOT EXISTS spans_local ON CLUSTER prod (")
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/spans_local', "
        "'{replica}', ingested_at)" in local
    )
    assert "PARTITION BY toDate(start_time)" in local and "ORDER BY (project, trace_id, span_id)" in local
    assert distributed == (
        "CREATE TABLE IF NOT EXISTS spans ON CLUSTER prod AS spans_local "
        "ENGINE = Distributed(prod, currentDatabase(), spans_local, cityHash64(trace_id))"
    )
    view = next(s for s in rendered if "MATERIALIZED VIEW" in s)
    assert " TO trace_index_local AS " in view and "FROM spans_local" in view
    assert "ON CLUSTER prod" in view


def test_every_statement_runs_on_the_cluster_and_tables_without_trace_id_shard_at_random() -> None:
    rendered = render_cluster([queries.MIGRATIONS_TABLE, *_all_statements()], "c1")
    assert all(" ON CLUSTER c1 " in s for s in rendered)
    assert "Distributed(c1, currentDatabase(), schema_migrations_local, rand())" in rendered[1]
    created = [s.split()[5] for s in rendered if s.startswith("CREATE TABLE")]
    assert len(created) == len(set(created))


def test_alter_goes_to_the_local_table_and_column_changes_to_both() -> None:
    statement = (
        "ALTER TABLE spans ADD COLUMN IF NOT EXISTS x String DEFAULT 'a,b', MODIFY TTL toDate(start_time) + 1"
    )
    rendered = render_cluster([statement], "c")
    assert rendered == [
        "ALTER TABLE spans_local ON CLUSTER c ADD COLUMN IF NOT EXISTS x String DEFAULT 'a,b', "
        "MODIFY TTL toDate(start_time) + 1",
        "ALTER TABLE spans ON CLUSTER c ADD COLUMN IF NOT EXISTS x String DEFAULT 'a,b'",
    ]
    ttl_only = render_cluster(["ALTER TABLE spans MODIFY COLUMN input TTL toDate(start_time) + 30"], "c")
    assert ttl_only == [
        "ALTER TABLE spans_local ON CLUSTER c MODIFY COLUMN input TTL toDate(start_time) + 30"
    ]


@pytest.mark.parametrize("cluster", ["", "prod cluster", "x'; DROP", "1abc"])
def test_cluster_names_are_plain_identifiers(cluster: str) -> None:
    with pytest.raises(ClusterRenderError, match="not a plain name"):
        render_cluster([], cluster)


def test_unknown_statements_are_refused_not_guessed() -> None:
    with pytest.raises(ClusterRenderError, match="no cluster form"):
        render_cluster(["CREATE VIEW IF NOT EXISTS v AS SELECT 1"], "c")


def test_runtime_statements_reach_the_local_tables() -> None:
    delete = render_command("DELETE FROM spans WHERE project = {project:String}", "c")
    assert delete == ["DELETE FROM spans_local ON CLUSTER c WHERE project = {project:String}"]
    ttl = render_command("ALTER TABLE feedback MODIFY COLUMN comment TTL toDateTime(timestamp) + 1", "c")
    assert ttl == [
        "ALTER TABLE feedback_local ON CLUSTER c MODIFY COLUMN comment TTL toDateTime(timestamp) + 1"
    ]
    insert = "INSERT INTO audit_log (actor) VALUES ({actor:String})"
    assert render_command(insert, "c") == [insert]
