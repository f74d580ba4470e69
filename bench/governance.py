"""What data governance costs, each figure against a baseline measured in the same run.

  keys     the API-key check an ingest call makes (cached lookup) vs keys off, and an uncached
           lookup (one store query), in the real embedded store
  content  the content-policy transform on a normalized 512-span batch: nothing forbidden (the
           common path) and every span forbidden, vs normalizing the same batch from OTLP
  delete   deleting one trace (spans, trace index, feedback) and one tenant vs looking one trace
           up, in an embedded store of --spans spans over 7 days (bench/_workload.py)

Usage: .venv/bin/python bench/governance.py [--spans 200000] [--deletes 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import _workload  # noqa: E402

from spyglass.collector.auth import KeyChecker  # noqa: E402
from spyglass.collector.governance import content_filter, load_policy  # noqa: E402
from spyglass.collector.normalize import normalize  # noqa: E402
from spyglass.collector.store import Store, governance_sql, open_store, queries  # noqa: E402
from tests import payloads as P  # noqa: E402

DAY_NS = 86_400 * 10**9


def per_call(fn: Callable[[], object], n: int) -> float:
    """Seconds per call of ``fn``, best of 3 rounds of ``n`` calls."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t) / n)
    return best


def bench_keys(store: Store) -> None:
    off = KeyChecker(store, enabled=False)
    cached = KeyChecker(store, enabled=True, admin_key="", cache_seconds=3600)
    key = cached.create("bench", ["ingest"], "bench", "bench")["key"]
    uncached = KeyChecker(store, enabled=True, admin_key="", cache_seconds=0)
    header = f"Bearer {key}"
    base = per_call(lambda: off.ingest_project(header), 20_000)
    hit = per_call(lambda: cached.ingest_project(header), 20_000)
    miss = per_call(lambda: uncached.ingest_project(header), 100)
    print(
        f"keys     keys off {base * 1e6:.2f} us/call; key check, cached {hit * 1e6:.1f} us/call "
        f"({hit / base:.0f}x keys off); uncached lookup {miss * 1e3:.2f} ms "
        "(a store query, once per key and collector process every 5 s by default)"
    )


def otlp_request(n: int, data_class: str) -> object:
    tid = P.new_trace_id()
    attrs = {
        "spyglass.data_class": data_class,
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 120,
        "spyglass.cohort.tenant": "acme",
        "gen_ai.input.messages": '[{"role": "user", "content": "where is my order?"}]',
        "gen_ai.output.messages": '[{"role": "assistant", "content": "it ships today"}]',
        "http.route": "/answer",
    }
    return P.request(*[P.span(tid, name=f"s{i}", attrs=attrs) for i in range(n)])


def bench_content() -> None:
    policy = load_policy()
    transform = content_filter(policy)
    allowed, forbidden = otlp_request(512, "public"), otlp_request(512, "regulated")
    table_ok = normalize(allowed).table  # type: ignore[arg-type]
    table_forbidden = normalize(forbidden).table  # type: ignore[arg-type]
    base = per_call(lambda: normalize(allowed), 20)  # type: ignore[arg-type]
    fast = per_call(lambda: transform(table_ok), 200)
    slow = per_call(lambda: transform(table_forbidden), 20)
    assert transform(table_forbidden).column("input").to_pylist()[0] == ""
    print(
        f"content  normalize 512 spans {base * 1e3:.1f} ms; policy transform, nothing forbidden "
        f"{fast * 1e3:.3f} ms ({fast / base:.1%} of normalize); all 512 forbidden {slow * 1e3:.1f} ms "
        f"({slow / base:.0%} of normalize)"
    )


def bench_delete(store: Store, spans: int, deletes: int) -> None:
    now = time.time_ns()
    t = time.perf_counter()
    for table in _workload.generate(spans, 100_000, now - 7 * DAY_NS, now, seed=3):
        store.insert(queries.SPANS_TABLE, table)
    load_s = time.perf_counter() - t
    ids = (
        store.query("SELECT DISTINCT lower(hex(trace_id)) AS t FROM spans WHERE project = 'bench' LIMIT 2000")
        .column("t")
        .to_pylist()
    )
    rng = random.Random(1)
    picked = rng.sample(ids, 2 * deletes)
    lookups, removals = [], []
    for trace_id in picked[:deletes]:
        t = time.perf_counter()
        store.query(queries.TRACE_SPANS, {"project": "bench", "trace_id": trace_id})
        lookups.append(time.perf_counter() - t)
    for trace_id in picked[deletes:]:
        params = {"project": "bench", "trace_id": trace_id}
        t = time.perf_counter()
        store.query(governance_sql.COUNT_TRACE, params)
        for statement in governance_sql.DELETE_TRACE:
            store.command(statement, params)
        removals.append(time.perf_counter() - t)
    left = (
        store.query(
            "SELECT count() FROM spans "
            "WHERE project = 'bench' AND lower(hex(trace_id)) IN {ids:Array(String)}",
            {"ids": picked[deletes:]},
        )
        .column(0)[0]
        .as_py()
    )
    assert left == 0, left
    tenant = {"project": "bench", "tenant": "hooli"}
    counted = store.query(governance_sql.COUNT_TENANT, tenant).to_pylist()[0]
    t = time.perf_counter()
    for statement in governance_sql.DELETE_TENANT:
        store.command(statement, tenant)
    tenant_s = time.perf_counter() - t
    lookup, removal = statistics.median(lookups), statistics.median(removals)
    print(
        f"delete   store of {spans:,} spans (loaded in {load_s:.1f} s): trace lookup p50 "
        f"{lookup * 1e3:.0f} ms; delete one trace p50 {removal * 1e3:.0f} ms ({removal / lookup:.1f}x a "
        f"lookup); delete tenant hooli ({counted['traces']:,} traces, {counted['spans']:,} spans) "
        f"{tenant_s:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--deletes", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        store = open_store(data)
        try:
            bench_keys(store)
            bench_content()
            bench_delete(store, args.spans, args.deletes)
        finally:
            store.close()


if __name__ == "__main__":
    main()
