"""The weekly review's queries over a large embedded store (default 10,000,000 spans over 30
days, ~1M requests), through the collector's own code path (``collector.analytics_api``).

Cases: the cohort breakdown by tenant over the whole 30 days; by tenant and release; the
stage-latency breakdown by tenant; week over week by tenant (two breakdowns). Baseline in the
same run: ``SELECT count() FROM spans FINAL`` over the same window, the cost of merely reading
the rows, so each ratio says what the review adds. Median and max of --runs runs.

The store is the one ``bench/trace_lookup.py`` builds and caches in bench/.data/lookup-N
(built here if missing: about 3 minutes for 10M spans on 2 cores, itself a bulk-load figure).

Ends with one JSON line: {"bench": "cohort_review", "spans", "days", "scan_s", "cases": {case:
{"median_s", "max_s", "x_scan"}}}.

--profile also times the parts of the two queries on their own (where the time goes): the
bare FINAL scan, one row per request with and without FINAL, the cost and feedback subqueries,
the stage query's per-request rows (each read in full with ``FORMAT Null``: a ``count()``
wrapper would let ClickHouse skip the columns it does not need), and the breakdown without
its cost join.

Usage: .venv/bin/python bench/cohort_review.py [--spans 10000000] [--runs 3] [--profile]
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

import polars as pl  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from spyglass.analytics.cohorts import Z_FLAG, price_params  # noqa: E402
from spyglass.analytics.cost import PriceTable  # noqa: E402
from spyglass.collector import Settings, create_app  # noqa: E402
from spyglass.collector.store import cohort_sql, open_store  # noqa: E402

DAY_NS = 86_400 * 10**9
SCAN = (
    "SELECT count() FROM spans FINAL WHERE project = {project:String} AND start_time "
    "BETWEEN fromUnixTimestamp64Nano({since_ns:Int64}, 'UTC') "
    "AND fromUnixTimestamp64Nano({until_ns:Int64}, 'UTC')"
)


def iso(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns / 1e9))


def profile(store, since_ns: int, until_ns: int, runs: int) -> dict[str, float]:
    """Median seconds of each part of the cohort and stage queries (by tenant), run alone."""
    window = {"project": "bench", "since_ns": since_ns, "until_ns": until_ns}
    combos = store.query(cohort_sql.PRICE_COMBOS, window)
    params = {**window, "z_flag": Z_FLAG, **price_params(pl.from_arrow(combos), PriceTable.load())}
    tasks = cohort_sql._tasks(["tenant"])
    whole = cohort_sql.cohort_breakdown(["tenant"])
    no_cost = whole.replace(f"LEFT JOIN ({cohort_sql._COSTS}) AS c ON t.trace_id = c.trace_id", "")
    no_cost = no_cost.replace("sum(t_cost) AS cost, sum(t_cost * t_cost) AS cost_sq,", "")
    no_cost = no_cost.replace("sum(t_unpriced_calls) AS unpriced_calls", "0 AS unpriced_calls")
    assert "t_cost" not in no_cost, "cohort_sql changed: update the no-cost variant"
    parts = {
        "bare FINAL scan (count)": SCAN,
        "per-request rows, FINAL": tasks,
        "per-request rows, no FINAL": tasks.replace("spans FINAL", "spans"),
        "cost per request (model spans)": cohort_sql._COSTS,
        "feedback per request": cohort_sql._FEEDBACK,
        "price combos": cohort_sql.PRICE_COMBOS,
        "whole cohort breakdown query": whole,
        "breakdown without the cost join": no_cost,
        "stage per-request rows": cohort_sql._stage_tasks(["tenant"]),
        "whole stage latency query": cohort_sql.stage_latency(["tenant"]),
    }
    out = {}
    for name, query in parts.items():
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            settings = "" if "SETTINGS" in query else "\n" + cohort_sql._SETTINGS
            store.command(f"SELECT * FROM ({query}) {settings} FORMAT Null", params)
            ts.append(time.perf_counter() - t0)
        out[name] = statistics.median(ts)
        print(f"  profile: {name:34} {out[name]:7.2f} s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="also time each part of the queries alone")
    args = ap.parse_args()
    data = BENCH / ".data" / f"lookup-{args.spans}"
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
    since, until = info["start_ns"], info["end_ns"]
    window = {"project": "bench", "since": iso(since - 60 * 10**9), "until": iso(until + 60 * 10**9)}
    cases = {
        "cohorts by tenant, 30 days": ("cohorts", {"by": "tenant"}),
        "cohorts by tenant+release": ("cohorts", {"by": "tenant,release"}),
        "stage latency by tenant": ("stages", {"by": "tenant"}),
        "week over week by tenant": ("week-over-week", {"by": "tenant", "until": window["until"], "days": 7}),
    }
    scan_params = {"project": "bench", "since_ns": since - 60 * 10**9, "until_ns": until + 60 * 10**9}
    parts = {}
    if args.profile:
        print("profile (median of --runs, each part alone, by tenant over the whole window):", flush=True)
        parts = profile(store, scan_params["since_ns"], scan_params["until_ns"], args.runs)
    with TestClient(create_app(store, Settings())) as client:
        for path, params in cases.values():  # warm up (and check it answers)
            resp = client.get(f"/api/analytics/{path}", params={**window, **params})
            assert resp.status_code == 200, resp.text[:500]
        times: dict[str, list[float]] = {name: [] for name in cases}
        scans: list[float] = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            store.query(SCAN, scan_params)
            scans.append(time.perf_counter() - t0)
            for name, (path, params) in cases.items():
                t0 = time.perf_counter()
                client.get(f"/api/analytics/{path}", params={**window, **params})
                times[name].append(time.perf_counter() - t0)
    scan = statistics.median(scans)
    print(f"cohort review over {info['spans']:,} spans / {info['days']} days (store built {info['built']})")
    print(f"baseline: SELECT count() FROM spans FINAL over the window: {scan:.2f} s")
    print(f"{'case':30} {'median s':>9} {'max s':>7} {'x scan':>7}")
    for name, ts in times.items():
        print(f"{name:30} {statistics.median(ts):>9.2f} {max(ts):>7.2f} {statistics.median(ts) / scan:>7.1f}")
    store.close()
    summary = {
        "bench": "cohort_review",
        "spans": info["spans"],
        "days": info["days"],
        "scan_s": round(scan, 3),
        "cases": {
            name: {
                "median_s": round(statistics.median(ts), 3),
                "max_s": round(max(ts), 3),
                "x_scan": round(statistics.median(ts) / scan, 2),
            }
            for name, ts in times.items()
        },
        "profile_s": {name: round(v, 3) for name, v in parts.items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
