"""Migration 0004 (codecs) on a store that already holds spans: it changes only how parts are
compressed, so every read answers the same before it, after it, and after the parts are
rewritten with the new codecs; applying it twice changes nothing.

chDB opens one data directory per process and the session's store fixture holds one already, so
the check runs in a child process on a store of its own (this file run as a script)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

from spyglass.analytics.trace import hex_ids
from spyglass.collector.store import queries
from spyglass.collector.store._clickhouse import ClickHouseStore

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import _workload

SNAPSHOT = "SELECT * EXCEPT ingested_at FROM spans FINAL ORDER BY trace_id, span_id"
CODECS = (
    "SELECT name, compression_codec FROM system.columns "
    "WHERE database = currentDatabase() AND table = 'spans' ORDER BY name"
)


def _apply(store: ClickHouseStore, below: int) -> None:
    """The migrations numbered below ``below``, applied and recorded as Store.migrate would."""
    store.command(queries.MIGRATIONS_TABLE)
    for version, name, statements in queries.migrations():
        if version < below:
            for statement in statements:
                store.command(statement)
            store.command(queries.RECORD_MIGRATION, {"version": version, "name": name})


def _snapshot(store: ClickHouseStore) -> list[dict[str, Any]]:
    return store.query(SNAPSHOT).to_pylist()


def _lookup(store: ClickHouseStore, trace_id: str) -> pl.DataFrame:
    table = store.query(queries.TRACE_SPANS, {"project": "p", "trace_id": trace_id})
    return hex_ids(pl.from_arrow(table))  # type: ignore[arg-type]


def test_codec_migration_keeps_every_value(tmp_path: Path) -> None:
    child = subprocess.run(
        [sys.executable, __file__, str(tmp_path / "store")], capture_output=True, text=True, timeout=300
    )
    assert child.returncode == 0, child.stderr[-3000:]
    assert child.stdout.strip() == "ok"


def _check(path: str) -> None:
    store = ClickHouseStore(path)
    try:
        _apply(store, below=4)
        end = time.time_ns()
        (batch,) = _workload.generate(2_000, 2_000, end - 2 * _workload.DAY_NS, end, seed=5, project="p")
        store.insert("spans", batch)
        store.insert("spans", batch.slice(0, 10))  # one trace re-delivered in another insert
        before = _snapshot(store)
        codecs_before = {r["name"]: r["compression_codec"] for r in store.query(CODECS).to_pylist()}
        trace_id = batch.column("trace_id")[0].as_py().hex()
        lookup = hex_ids(
            pl.from_arrow(store.query(queries.TRACE_SPANS, {"project": "p", "trace_id": trace_id}))
        )

        store.migrate()
        codecs = {r["name"]: r["compression_codec"] for r in store.query(CODECS).to_pylist()}
        assert codecs_before["input_tokens"] == "" and codecs["input_tokens"] == "CODEC(ZSTD(1))"
        assert codecs["resource_attributes"] == "CODEC(ZSTD(3))"
        assert codecs["input"] == codecs_before["input"]  # content columns keep theirs (and their TTL)
        assert _snapshot(store) == before

        store.command("OPTIMIZE TABLE spans FINAL")  # rewrite every part with the new codecs
        after = _snapshot(store)
        assert len(after) == 2_000
        assert after == before
        again = hex_ids(
            pl.from_arrow(store.query(queries.TRACE_SPANS, {"project": "p", "trace_id": trace_id}))
        )
        assert again.equals(lookup) and again.height == _workload.SPANS_PER_TRACE
        assert again["trace_id"].to_list() == [trace_id] * _workload.SPANS_PER_TRACE

        for _, name, statements in queries.migrations():  # idempotent: a second run is harmless
            if name.startswith("0004"):
                for statement in statements:
                    store.command(statement)
        assert {r["name"]: r["compression_codec"] for r in store.query(CODECS).to_pylist()} == codecs
    finally:
        store.close()
    print("ok")


if __name__ == "__main__":
    _check(sys.argv[1])
