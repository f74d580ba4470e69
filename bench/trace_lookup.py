"""Trace-by-ID latency in the embedded store (chDB): what ``GET /api/traces/{id}`` reads.

  a  queries.TRACE_SPANS + analytics.trace.hex_ids   binary IDs, hex-encoded in Python (the API)
  b  queries.TRACE_SPANS_HEX_IN_SQL                  the previous query: IDs hex-encoded in SQL
  n  queries.TRACE_SPANS_NO_INDEX (--no-index)       sort key only, no trace_index window
  api  GET /api/traces/{id} (--api)                  the route in process (TestClient, no socket):
                                                     both queries, build_trace, JSON

All run through ``Store.query(sql, {"project": ..., "trace_id": hex})`` for the same
random existing trace IDs, interleaved (a then b, b then a on the next ID). Warm: after 10
warm-up lookups, caches as a running collector has them. Cold: other IDs, each looked up once
right after ``SYSTEM DROP MARK CACHE`` and ``DROP UNCOMPRESSED CACHE`` (the OS page cache
stays warm: dropping it needs root and would disturb everything else on the machine). The store holds
--spans spans (default 2,000,000; ~10 per trace) spread over --days days (default 30),
generated with bench/_workload.py and loaded in 100k-row batches in time order, as a collector
would write them. The loaded store is cached in bench/.data/lookup-N (delete it or pass --regen
to rebuild); the cache's time range is relative to when it was built.

Also prints the bulk-load rate, EXPLAIN of both queries (parts and granules read), and
bytes on disk per span (system.parts, active parts of `spans`).

Ends with one JSON line: {"bench": "trace_lookup", "spans", "parts", "warm": {case: {p50_ms,
p90_ms, p99_ms, mean_ms, wrong}}, "cold": {...}, "ratio_p50_b_over_a", "ratio_p99_b_over_a",
"bytes_per_span", "trace_index_bytes_per_span", "bulk_load_rows_per_s"}.

Usage: .venv/bin/python bench/trace_lookup.py [--spans 2000000] [--days 30] [--lookups 150]
       [--cold 40] [--no-index] [--api] [--optimize] [--regen] [--data-dir DIR]
       --spans 10000000 for the large run; --data-dir on a copy (cp -a) of a cache another
       process holds open, and always for --optimize runs you want to keep apart
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import platform
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import _workload  # noqa: E402
import polars as pl  # noqa: E402

from spyglass.analytics.trace import hex_ids  # noqa: E402
from spyglass.collector.store import open_store, queries  # noqa: E402

PROJECT = "bench"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def one(store, sql: str) -> dict:
    rows = store.query(sql).to_pylist()
    return rows[0] if rows else {}


def parts_info(store) -> dict:
    return one(
        store,
        "SELECT count() AS parts, sum(rows) AS rows, sum(bytes_on_disk) AS bytes, "
        "uniqExact(partition) AS partitions FROM system.parts "
        "WHERE active AND database = currentDatabase() AND table = 'spans'",
    )


def merges_running(store) -> int:
    return int(
        one(store, "SELECT count() AS n FROM system.merges WHERE database = currentDatabase()").get("n", 0)
    )


def load(store, args, marker: Path) -> None:
    end = time.time_ns()
    start = end - args.days * _workload.DAY_NS
    n_batches = -(-args.spans // args.batch)
    print(
        f"generating {args.spans:,} spans over {args.days} days in {n_batches} batches of "
        f"{args.batch:,} rows",
        flush=True,
    )
    t_wall = time.perf_counter()
    t_insert = 0.0
    t_gen = 0.0
    rows = 0
    gen = _workload.generate(args.spans, args.batch, start, end, seed=args.seed, project=PROJECT)
    for k in range(n_batches):
        t0 = time.perf_counter()
        try:
            table = next(gen)
        except StopIteration:
            break
        t1 = time.perf_counter()
        store.insert("spans", table)
        t2 = time.perf_counter()
        t_gen += t1 - t0
        t_insert += t2 - t1
        rows += table.num_rows
        if k % max(1, n_batches // 20) == 0 or k == n_batches - 1:
            print(
                f"  {rows:>11,} / {args.spans:,} spans  insert {rows / t_insert:>9,.0f} rows/s  "
                f"(this batch {table.num_rows / (t2 - t1):>9,.0f} rows/s, generation "
                f"{t_gen:.1f} s, elapsed {time.perf_counter() - t_wall:.1f} s)",
                flush=True,
            )
    wall = time.perf_counter() - t_wall
    info = {
        "spans": rows,
        "days": args.days,
        "batch": args.batch,
        "seed": args.seed,
        "start_ns": start,
        "end_ns": end,
        "insert_s": t_insert,
        "gen_s": t_gen,
        "wall_s": wall,
        "insert_rows_per_s": rows / t_insert,
        "built": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    marker.write_text(json.dumps(info, indent=1))
    print(
        f"bulk load: {rows:,} spans, insert-only {rows / t_insert:,.0f} rows/s "
        f"({t_insert:.1f} s), generation {t_gen:.1f} s, wall {rows / wall:,.0f} rows/s",
        flush=True,
    )


def explain(store, sql: str, params: dict) -> str:
    """Parts and granules each index step keeps, from EXPLAIN indexes = 1."""
    try:  # TSVRaw through the connection: the binary trace id in the plan text is not UTF-8
        raw = store._client().raw_query("EXPLAIN indexes = 1 " + sql, parameters=params, fmt="TSVRaw")
        lines = raw.decode(errors="replace").splitlines()
    except Exception as exc:
        return f"(EXPLAIN failed: {str(exc)[:200]})"
    out, current = [], None
    for ln in lines:
        t = ln.strip()
        if t.startswith("ReadFromMergeTree"):
            out.append(t)
        elif t in ("Min-Max", "Partition", "PrimaryKey") or t.startswith("Skip"):
            current = t
            out.append(f"  {t}:")
        elif current and (t.startswith("Parts:") or t.startswith("Granules:")):
            out[-1] += " " + t.replace(": ", " ")
        elif t.startswith("FINAL:"):
            out.append(f"  {t}")
    return "\n      ".join(out)


# Informational variants (--alternatives), NOT product code: what a fix of TRACE_SPANS could be.
ALTERNATIVES = {
    "c": (
        "c a + max_threads = 1",
        queries.TRACE_SPANS.rstrip() + ", max_threads = 1",
    ),
    "d": (
        "d a, three columns only (the per-column floor)",
        queries.TRACE_SPANS.replace(", ".join(queries.SPAN_COLUMNS), "trace_id, name, start_time"),
    ),
}


def lookup(store, sql: str, params: dict) -> pl.DataFrame:
    """One lookup as the API does it: the query, then hex IDs (a no-op for hex columns)."""
    return hex_ids(pl.from_arrow(store.query(sql, params)))  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=2_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--batch", type=int, default=100_000, help="rows per insert while loading")
    ap.add_argument(
        "--lookups",
        type=int,
        default=150,
        help="random existing trace IDs to look up (default 150, not 300: each lookup took 0.25-0.45 s "
        "at 2M spans here, so 300 x 2 queries alone took ~170 s)",
    )
    ap.add_argument("--optimize", action="store_true", help="OPTIMIZE TABLE spans FINAL before measuring")
    ap.add_argument(
        "--settle",
        type=float,
        default=60.0,
        help="wait up to this many seconds for background merges to finish before measuring",
    )
    ap.add_argument("--regen", action="store_true", help="rebuild the cached store")
    ap.add_argument(
        "--data-dir",
        default="",
        help="the store's directory (default bench/.data/lookup-N; its marker is DIR.json): chDB lets "
        "one process open a directory, so a copy lets this run beside another user of the cache",
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--alternatives",
        action="store_true",
        help="also time two candidate rewrites of TRACE_SPANS (c, d; defined in this script)",
    )
    ap.add_argument(
        "--api",
        action="store_true",
        help="also time GET /api/traces/{id} end to end in process (create_app + TestClient: spans "
        "and feedback queries, build_trace, JSON), interleaved with the queries",
    )
    ap.add_argument("--no-index", action="store_true", help="also time TRACE_SPANS_NO_INDEX (slow at 10M)")
    ap.add_argument("--cold", type=int, default=40, help="cold lookups (other IDs, caches dropped)")
    args = ap.parse_args()

    print(
        "Trace-by-ID latency in the embedded store: queries.TRACE_SPANS (binary IDs, hex in Python) "
        "vs queries.TRACE_SPANS_HEX_IN_SQL (the previous query), via Store.query."
    )
    print(
        f"machine: {platform.platform()}, os.cpu_count()={os.cpu_count()}; python "
        f"{sys.version.split()[0]}; chdb {md.version('chdb')}, pyarrow {md.version('pyarrow')}"
    )

    data = BENCH / ".data"
    data.mkdir(parents=True, exist_ok=True)
    path = Path(args.data_dir).resolve() if args.data_dir else data / f"lookup-{args.spans}"
    marker = path.parent / f"{path.name}.json"
    cfg = {"days": args.days, "batch": args.batch, "seed": args.seed}
    cached = None
    if marker.exists() and path.exists() and not args.regen:
        cached = json.loads(marker.read_text())
        if any(cached.get(k) != v for k, v in cfg.items()):
            print(f"cache {path} was built with other settings ({cached}); rebuilding")
            cached = None
    if cached is None:
        shutil.rmtree(path, ignore_errors=True)
        marker.unlink(missing_ok=True)

    t0 = time.perf_counter()
    store = open_store(str(path))
    print(f"store {path} opened in {time.perf_counter() - t0:.1f} s", flush=True)
    if cached is None:
        load(store, args, marker)
        cached = json.loads(marker.read_text())
    else:
        print(
            f"using cached store built {cached['built']}: {cached['spans']:,} spans; its bulk load ran "
            f"at {cached['insert_rows_per_s']:,.0f} rows/s insert-only"
        )

    if args.optimize:
        print("OPTIMIZE TABLE spans FINAL ...", flush=True)
        t0 = time.perf_counter()
        store.command("OPTIMIZE TABLE spans FINAL")  # a statement: no result set to read as Arrow
        store.command("OPTIMIZE TABLE trace_index FINAL")
        print(f"  done in {time.perf_counter() - t0:.1f} s", flush=True)

    t0 = time.perf_counter()
    while merges_running(store) and time.perf_counter() - t0 < args.settle:
        time.sleep(1.0)
    pi = parts_info(store)
    running = merges_running(store)
    print(
        f"spans: {pi['rows']:,} rows in {pi['parts']} active parts over {pi['partitions']} partitions"
        f" ({running} merges still running after waiting {time.perf_counter() - t0:.0f} s)",
        flush=True,
    )

    ids = (
        store.query(
            "SELECT lower(hex(trace_id)) AS t FROM (SELECT DISTINCT trace_id FROM trace_index "
            "WHERE project = {project:String}) ORDER BY cityHash64(trace_id, {seed:UInt64}) "
            "LIMIT {n:UInt64}",
            {"project": PROJECT, "seed": args.seed, "n": args.lookups + args.cold},
        )
        .column("t")
        .to_pylist()
    )
    random.Random(args.seed).shuffle(ids)
    ids, cold_ids = ids[: args.lookups], ids[args.lookups :]
    print(f"{len(ids)} + {len(cold_ids)} (cold) random existing trace IDs", flush=True)

    cases = {"a": queries.TRACE_SPANS, "b": queries.TRACE_SPANS_HEX_IN_SQL}
    names = {"a": "a TRACE_SPANS, hex in Python (the API)", "b": "b TRACE_SPANS_HEX_IN_SQL (previous)"}
    if args.no_index:
        cases["n"], names["n"] = queries.TRACE_SPANS_NO_INDEX, "n TRACE_SPANS_NO_INDEX (sort key only)"
    if args.alternatives:
        for k, (label, sql) in ALTERNATIVES.items():
            cases[k], names[k] = sql, label
    sample = {"project": PROJECT, "trace_id": ids[0]}
    for k, sql in cases.items():
        print(f"EXPLAIN indexes=1, {names[k]}:\n      {explain(store, sql, sample)}")
    run = {k: (lambda params, sql=sql: lookup(store, sql, params)) for k, sql in cases.items()}
    if args.api:
        from fastapi.testclient import TestClient

        from spyglass.collector.app import create_app

        api = TestClient(create_app(store))  # no lifespan: no writer, the route reads the store

        def through_api(params: dict) -> pl.DataFrame:
            resp = api.get(f"/api/traces/{params['trace_id']}", params={"project": PROJECT})
            body = resp.json()
            n = _workload.SPANS_PER_TRACE if resp.status_code == 200 else 0
            return pl.DataFrame({"trace_id": [body.get("trace_id")] * max(n, 1)}).head(n)

        run["api"], names["api"] = through_api, "api GET /api/traces/{id} (in process)"

    for tid in ids[:10]:  # warm-up (marks, caches)
        for f in run.values():
            f({"project": PROJECT, "trace_id": tid})

    lat: dict[str, list[float]] = {k: [] for k in run}
    ratio: list[float] = []
    wrong: dict[str, int] = {k: 0 for k in run}
    t_start = time.perf_counter()
    for i, tid in enumerate(ids):
        params = {"project": PROJECT, "trace_id": tid}
        order = list(run) if i % 2 == 0 else list(run)[::-1]
        got = {}
        for k in order:
            t0 = time.perf_counter()
            frame = run[k](params)
            got[k] = (time.perf_counter() - t0) * 1000
            if frame.height != _workload.SPANS_PER_TRACE or frame["trace_id"][0] != tid:
                wrong[k] += 1
        for k, v in got.items():
            lat[k].append(v)
        ratio.append(got["b"] / got["a"])
        if (i + 1) % 100 == 0:
            shown = ", ".join(f"{k} {pct(v, 0.5):.1f} ms" for k, v in lat.items())
            print(
                f"  {i + 1}/{len(ids)} lookups ({time.perf_counter() - t_start:.1f} s): p50 {shown}",
                flush=True,
            )

    # Cold: each ID once, a and b alternating first, after dropping ClickHouse's caches.
    cold: dict[str, list[float]] = {k: [] for k in ("a", "b")}
    cold_wrong: dict[str, int] = {k: 0 for k in cold}
    for i, tid in enumerate(cold_ids):
        params = {"project": PROJECT, "trace_id": tid}
        for k in ("a", "b") if i % 2 == 0 else ("b", "a"):
            store.command("SYSTEM DROP MARK CACHE")
            store.command("SYSTEM DROP UNCOMPRESSED CACHE")
            t0 = time.perf_counter()
            frame = lookup(store, cases[k], params)
            cold[k].append((time.perf_counter() - t0) * 1000)
            if frame.height != _workload.SPANS_PER_TRACE or frame["trace_id"][0] != tid:
                cold_wrong[k] += 1

    disk = one(
        store,
        "SELECT sum(bytes_on_disk) AS b, sum(rows) AS r, "
        "sum(data_compressed_bytes) AS c, sum(data_uncompressed_bytes) AS u FROM system.parts "
        "WHERE active AND database = currentDatabase() AND table = 'spans'",
    )
    idx_disk = one(
        store,
        "SELECT sum(bytes_on_disk) AS b, sum(rows) AS r FROM system.parts "
        "WHERE active AND database = currentDatabase() AND table = 'trace_index'",
    )
    top = store.query(
        "SELECT column AS name, sum(column_data_compressed_bytes) AS c "
        "FROM system.parts_columns WHERE active AND database = currentDatabase() "
        "AND table = 'spans' GROUP BY column ORDER BY c DESC LIMIT 6"
    ).to_pylist()
    store.close()

    print()
    print(
        f"store: {disk['r']:,} spans over {args.days} days, {pi['parts']} active parts"
        f"{', after OPTIMIZE FINAL' if args.optimize else ''}; {len(ids)} lookups each, interleaved"
    )
    print(f"{'query':50} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'wrong':>6}")
    print("-" * 94)
    for k in run:
        v = lat[k]
        print(
            f"{names[k]:50} {pct(v, 0.5):8.2f} {pct(v, 0.9):8.2f} {pct(v, 0.99):8.2f} "
            f"{statistics.fmean(v):8.2f} {wrong[k]:>6}"
        )
    for k, v in cold.items():
        if v:
            label = f"cold: {names[k]}"[:50]
            print(
                f"{label:50} {pct(v, 0.5):8.2f} {pct(v, 0.9):8.2f} {pct(v, 0.99):8.2f} "
                f"{statistics.fmean(v):8.2f} {cold_wrong[k]:>6}"
            )
    print("-" * 94)
    print(
        f"ratio b/a: p50 {pct(lat['b'], 0.5) / pct(lat['a'], 0.5):.2f}x, p99 "
        f"{pct(lat['b'], 0.99) / pct(lat['a'], 0.99):.2f}x, paired median {statistics.median(ratio):.2f}x "
        "(> 1 means the current query is faster than the previous one)"
    )
    for k in ALTERNATIVES if args.alternatives else ():
        print(
            f"ratio a/{k}: p50 {pct(lat['a'], 0.5) / pct(lat[k], 0.5):.2f}x, p99 "
            f"{pct(lat['a'], 0.99) / pct(lat[k], 0.99):.2f}x ({names[k]}; > 1 means faster than a)"
        )
    print(
        f"bytes on disk per span: {disk['b'] / disk['r']:.1f} (spans: {disk['b'] / 2**20:,.1f} MiB; "
        f"compressed data {disk['c'] / disk['r']:.1f} B/span, uncompressed {disk['u'] / disk['r']:.1f} "
        f"B/span); trace_index {idx_disk['b'] / disk['r']:.1f} B/span ({idx_disk['r']:,} rows)"
    )
    if any(t["c"] for t in top):
        print(
            "largest columns (compressed, wide parts only): "
            + ", ".join(f"{t['name']} {t['c'] / disk['r']:.1f} B/span" for t in top)
        )
    else:
        print("per-column sizes unavailable: all parts are Compact (ClickHouse keeps no per-column sizes)")
    print(
        f"bulk load when the store was built: {cached['insert_rows_per_s']:,.0f} rows/s insert-only "
        f"({cached['spans']:,} spans in {cached['batch']:,}-row batches)"
    )

    def figures(values: dict[str, list[float]], bad: dict[str, int]) -> dict[str, dict[str, float]]:
        return {
            names[k]: {
                "p50_ms": round(pct(v, 0.5), 2),
                "p90_ms": round(pct(v, 0.9), 2),
                "p99_ms": round(pct(v, 0.99), 2),
                "mean_ms": round(statistics.fmean(v), 2),
                "wrong": bad[k],
            }
            for k, v in values.items()
            if v
        }

    summary = {
        "bench": "trace_lookup",
        "spans": disk["r"],
        "days": args.days,
        "parts": pi["parts"],
        "warm": figures(lat, wrong),
        "cold": figures(cold, cold_wrong),
        "ratio_p50_b_over_a": round(pct(lat["b"], 0.5) / pct(lat["a"], 0.5), 3),
        "ratio_p99_b_over_a": round(pct(lat["b"], 0.99) / pct(lat["a"], 0.99), 3),
        "bytes_per_span": round(disk["b"] / disk["r"], 2),
        "trace_index_bytes_per_span": round(idx_disk["b"] / disk["r"], 2),
        "bulk_load_rows_per_s": round(cached["insert_rows_per_s"]),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
