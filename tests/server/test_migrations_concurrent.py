"""Collectors starting at once against one server: each migrates the schema, no transactions
to serialize them. Every migration statement is idempotent, so all succeed and leave one schema."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from spyglass.collector.store import open_store, queries
from tests.conftest import ROOT
from tests.server.conftest import ClickHouseServer

pytestmark = pytest.mark.integration

# Each process waits for the same start time, then opens (and so migrates) the store.
_MIGRATE = """
import sys, time
from spyglass.collector.store import open_store
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
open_store(sys.argv[1]).close()
print("migrated")
"""


def test_three_processes_migrating_one_database_at_once_all_succeed(clickhouse: ClickHouseServer) -> None:
    dsn = clickhouse.dsn()
    start = time.time() + 3  # after every interpreter has imported the store
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE, dsn, str(start)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], "\n".join(outputs)

    store = open_store(dsn)
    try:
        versions = store.query("SELECT version FROM schema_migrations FINAL ORDER BY version")
        assert versions.column(0).to_pylist() == [v for v, _, _ in queries.migrations()]
        tables = store.query(
            "SELECT name, engine FROM system.tables WHERE database = currentDatabase() ORDER BY name"
        ).to_pylist()
        names = [t["name"] for t in tables]
        assert len(names) == len(set(names))
        assert {"spans", "trace_index", "trace_index_mv", "feedback", "schema_migrations"} <= set(names)
        # the view is wired once: one insert gives one trace_index row
        store.command(
            "INSERT INTO spans (project, trace_id, span_id, start_time) "
            "VALUES ('m', unhex(repeat('ab', 16)), unhex(repeat('cd', 8)), now64(9))"
        )
        index = store.query("SELECT count() FROM trace_index WHERE project = 'm'").column(0)[0].as_py()
        assert index == 1
    finally:
        store.close()


def test_a_migration_run_again_over_itself_succeeds(clickhouse: ClickHouseServer) -> None:
    """The worst interleaving, made deterministic: a second collector read "not applied" before
    the first recorded the version, and runs every statement again over the finished schema."""
    store = open_store(clickhouse.dsn())
    try:
        for _, _, statements in queries.migrations():
            for statement in statements:
                store.command(statement)
        store.migrate()
        versions = store.query("SELECT version FROM schema_migrations FINAL").column(0).to_pylist()
        assert sorted(versions) == [v for v, _, _ in queries.migrations()]
    finally:
        store.close()
