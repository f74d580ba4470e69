"""Migration 0006 (lookup layout): the span and trace-index tables carry the settings that make a
trace lookup read little (small compressed blocks, marks prewarmed), applying it again changes
nothing, and a lookup still returns each span once and every value as stored."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

from spyglass.analytics.trace import hex_ids
from spyglass.collector.store import queries

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import _workload

TABLE_DDL = (
    "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = {t:String}"
)
LOOKUP_SETTINGS = {
    "min_compress_block_size": "4096",
    "max_compress_block_size": "65536",
    "prewarm_mark_cache": "1",
}


def _settings(store: Any, table: str) -> dict[str, str]:
    ddl = store.query(TABLE_DDL, {"t": table}).column(0)[0].as_py()
    return dict(re.findall(r"(\w+) = (\w+)", ddl.rsplit("SETTINGS", 1)[1]))


def test_lookup_settings_are_applied_and_idempotent(store: Any) -> None:
    ((_, _, statements),) = [m for m in queries.migrations() if m[1].startswith("0006")]
    assert queries.not_idempotent(statements) == []
    for statement in statements:  # a second collector applying it again
        store.command(statement)
    for table in ("spans", "trace_index"):
        settings = _settings(store, table)
        assert {k: settings.get(k) for k in LOOKUP_SETTINGS} == LOOKUP_SETTINGS, table
        assert settings["index_granularity"] == "1024"  # unchanged


def test_lookup_returns_a_redelivered_span_once_with_its_values(store: Any) -> None:
    end = time.time_ns()
    (batch,) = _workload.generate(20, 20, end - _workload.DAY_NS, end, seed=11, project="lookup-0006")
    store.insert("spans", batch)
    store.insert("spans", batch.slice(0, 10))  # one trace delivered again, in another part
    sent = hex_ids(pl.from_arrow(batch.slice(0, 10)))  # type: ignore[arg-type]
    trace_id = sent["trace_id"][0]
    got = hex_ids(
        pl.from_arrow(store.query(queries.TRACE_SPANS, {"project": "lookup-0006", "trace_id": trace_id}))  # type: ignore[arg-type]
    )
    assert got.height == _workload.SPANS_PER_TRACE
    assert sorted(got["span_id"]) == sorted(sent["span_id"])
    key = ["span_id"]
    compared = [
        c
        for c in ("name", "start_time", "duration_ns", "parent_span_id", "input_tokens")
        if c in sent.columns
    ]
    assert got.sort(key).select(compared).equals(sent.sort(key).select(compared))
