"""The weekly review's queries over a large embedded store (default 10,000,000 spans over 30
days, ~1M requests), through the collector's own code path (``collector.analytics_api``),
which reads the ``requests`` rollup (one row per trace, ``collector/rollup.py``).

Cases: the cohort breakdown by tenant over the whole 30 days; by tenant and release; the
stage-latency breakdown by tenant; week over week by tenant (two breakdowns). Each API call
includes the rollup refresh it runs first. Baselines in the same run, alternating with each
case: ``SELECT count() FROM spans FINAL`` over the same window (the cost of merely reading the
span rows), and ``before``: the same case's SQL as it was at --before REV (default the commit
before the rollup: one row per request grouped from ``spans FINAL``, cost priced per span), run
on the same store (price combinations + breakdown, as that revision's API ran them).

Also printed: the backfill (the first refresh of a store that had no ``requests`` rows: every
trace, a day at a time), then the refresh of a small delta (--delta spans, 10 per trace, as a
late batch of the last minute) and a review right after it, and the bytes per span of
``requests`` next to ``spans`` and ``trace_index`` (active parts).

The store is the one ``bench/trace_lookup.py`` builds and caches in DIR/lookup-N (--data-dir,
default bench/.data; built here if missing: about 3 minutes for 10M spans on 2 cores). chDB
opens a directory in one process at a time: give a copy to run beside another benchmark.

Ends with one JSON line: {"bench": "cohort_review", "spans", "days", "scan_s", "backfill_s",
"delta": {...}, "bytes_per_span": {...}, "cases": {case: {"median_s", "max_s", "x_scan",
"before_median_s", "x_before"}}}.

Usage: .venv/bin/python bench/cohort_review.py [--spans 10000000] [--runs 3] [--data-dir DIR]
       [--before REV] [--delta 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import types
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import _before  # noqa: E402
import _workload  # noqa: E402
import polars as pl  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from spyglass.analytics.cohorts import Z_FLAG, price_params  # noqa: E402
from spyglass.analytics.cost import PriceTable  # noqa: E402
from spyglass.collector import Settings, create_app  # noqa: E402
from spyglass.collector.rollup import Rollup  # noqa: E402
from spyglass.collector.store import open_store  # noqa: E402

DAY_NS = 86_400 * 10**9
SCAN = (
    "SELECT count() FROM spans FINAL WHERE project = {project:String} AND start_time "
    "BETWEEN fromUnixTimestamp64Nano({since_ns:Int64}, 'UTC') "
    "AND fromUnixTimestamp64Nano({until_ns:Int64}, 'UTC')"
)


def iso(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns / 1e9))


def before_case(old, store, prices: PriceTable, path: str, params: dict, window: dict) -> None:
    """One case as the --before revision's API ran it: price combinations, then the query."""
    dims = [d for d in params.get("by", "").split(",") if d]
    if path == "week-over-week":
        span = int(params["days"] * DAY_NS)
        windows = [
            (window["until_ns"] - span, window["until_ns"]),
            (window["until_ns"] - 2 * span, window["until_ns"] - span - 1),
        ]
    else:
        windows = [(window["since_ns"], window["until_ns"])]
    for since_ns, until_ns in windows:
        w = {"project": "bench", "since_ns": since_ns, "until_ns": until_ns}
        if path == "stages":
            store.query(old.stage_latency(dims), {**w, "z_flag": Z_FLAG})
            continue
        combos = pl.from_arrow(store.query(old.PRICE_COMBOS, w))
        store.query(old.cohort_breakdown(dims), {**w, "z_flag": Z_FLAG, **price_params(combos, prices)})


def table_bytes(store) -> dict[str, int]:
    rows = store.query(
        "SELECT table, sum(bytes_on_disk) AS b FROM system.parts WHERE active AND "
        "database = currentDatabase() AND table IN ('spans', 'trace_index', 'requests') GROUP BY table"
    ).to_pylist()
    return {r["table"]: int(r["b"]) for r in rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data-dir", type=Path, default=BENCH / ".data", help="where lookup-N is")
    ap.add_argument("--before", default=_before.BEFORE_ROLLUP, help="git revision of the baseline SQL")
    ap.add_argument("--delta", type=int, default=2000, help="spans of the small late batch")
    args = ap.parse_args()
    data = args.data_dir / f"lookup-{args.spans}"
    marker = data.with_suffix(".json")
    if not marker.exists():
        import trace_lookup

        data.parent.mkdir(parents=True, exist_ok=True)
        store = open_store(str(data))
        ns = types.SimpleNamespace(spans=args.spans, days=30, batch=100_000, seed=7)
        trace_lookup.load(store, ns, marker)
        store.close()
    info = json.loads(marker.read_text())
    store = open_store(str(data))
    old = _before.sql_module(args.before, "collector/store/cohort_sql.py")
    prices = PriceTable.load()
    rollup = Rollup(store)
    t0 = time.perf_counter()
    first = rollup.refresh()
    backfill_s = time.perf_counter() - t0
    print(
        f"first refresh of requests: {first.traces:,} traces in {first.days} day chunks, {backfill_s:.1f} s"
        + (" (the backfill)" if first.traces > 100_000 else " (already backfilled: not a backfill figure)"),
        flush=True,
    )
    since, until = info["start_ns"], info["end_ns"]
    window = {"project": "bench", "since": iso(since - 60 * 10**9), "until": iso(until + 60 * 10**9)}
    cases = {
        "cohorts by tenant, 30 days": ("cohorts", {"by": "tenant"}),
        "cohorts by tenant+release": ("cohorts", {"by": "tenant,release"}),
        "stage latency by tenant": ("stages", {"by": "tenant"}),
        "week over week by tenant": ("week-over-week", {"by": "tenant", "until": window["until"], "days": 7}),
    }
    scan_params = {"project": "bench", "since_ns": since - 60 * 10**9, "until_ns": until + 60 * 10**9}
    with TestClient(create_app(store, Settings())) as client:
        for path, params in cases.values():  # warm up (and check it answers)
            resp = client.get(f"/api/analytics/{path}", params={**window, **params})
            assert resp.status_code == 200, resp.text[:500]
            before_case(old, store, prices, path, params, scan_params)
        times: dict[str, list[float]] = {name: [] for name in cases}
        befores: dict[str, list[float]] = {name: [] for name in cases}
        scans: list[float] = []
        for run in range(args.runs):
            t0 = time.perf_counter()
            store.query(SCAN, scan_params)
            scans.append(time.perf_counter() - t0)
            for name, (path, params) in cases.items():
                for side in ("after", "before") if run % 2 == 0 else ("before", "after"):
                    t0 = time.perf_counter()
                    if side == "after":
                        client.get(f"/api/analytics/{path}", params={**window, **params})
                        times[name].append(time.perf_counter() - t0)
                    else:
                        before_case(old, store, prices, path, params, scan_params)
                        befores[name].append(time.perf_counter() - t0)
        # A late batch for the last minute: the next refresh recomputes only those traces.
        delta_rows = 0
        for table in _workload.generate(
            args.delta, args.delta, until - 60 * 10**9, until, seed=991, project="bench"
        ):
            store.insert("spans", table)
            delta_rows += table.num_rows
        t0 = time.perf_counter()
        resp = client.get("/api/analytics/cohorts", params={**window, "by": "tenant"})
        review_after_delta_s = time.perf_counter() - t0
        assert resp.status_code == 200, resp.text[:500]
        t0 = time.perf_counter()
        again = rollup.refresh()
        refresh_again_s = time.perf_counter() - t0
    scan = statistics.median(scans)
    sizes = table_bytes(store)
    spans_n = int(store.query("SELECT count() AS n FROM spans").column("n")[0].as_py())
    per_span = {t: round(b / spans_n, 2) for t, b in sizes.items()}
    print(f"cohort review over {info['spans']:,} spans / {info['days']} days (store built {info['built']})")
    print(f"baseline: SELECT count() FROM spans FINAL over the window: {scan:.2f} s")
    print(
        f"before: the same SQL at {args.before} (grouping spans FINAL per request), same store, alternating"
    )
    print(f"{'case':30} {'median s':>9} {'max s':>7} {'x scan':>7} {'before s':>9} {'after/before':>13}")
    for name, ts in times.items():
        med, bmed = statistics.median(ts), statistics.median(befores[name])
        print(f"{name:30} {med:>9.2f} {max(ts):>7.2f} {med / scan:>7.1f} {bmed:>9.2f} {med / bmed:>13.2f}")
    print(
        f"late batch of {delta_rows:,} spans: the review right after it (refresh included) "
        f"{review_after_delta_s:.2f} s; another refresh then: {again.traces} traces, {refresh_again_s:.2f} s"
    )
    print(f"bytes per span (active parts): {per_span}")
    store.close()
    summary = {
        "bench": "cohort_review",
        "spans": info["spans"],
        "days": info["days"],
        "scan_s": round(scan, 3),
        "backfill_s": round(backfill_s, 1),
        "backfill_traces": first.traces,
        "delta": {
            "spans": delta_rows,
            "review_after_s": round(review_after_delta_s, 3),
            "refresh_again_s": round(refresh_again_s, 3),
            "refresh_again_traces": again.traces,
        },
        "bytes_per_span": per_span,
        "before_rev": args.before,
        "cases": {
            name: {
                "median_s": round(statistics.median(ts), 3),
                "max_s": round(max(ts), 3),
                "x_scan": round(statistics.median(ts) / scan, 2),
                "before_median_s": round(statistics.median(befores[name]), 3),
                "x_before": round(statistics.median(ts) / statistics.median(befores[name]), 3),
            }
            for name, ts in times.items()
        },
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
