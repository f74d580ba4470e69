"""The traces page's query (``queries.TRACE_LIST``): filters + newest first + paging, over the
store cached by ``bench/trace_lookup.py`` (run that first; default 2,000,000 spans over 30 days).

Baseline in the same run: ``SELECT count() FROM spans FINAL`` over the same window, the cost
of merely reading the window's rows, so the ratio shows what grouping into traces adds.
Cases: the default page (last 7 days, 50 rows), a tenant filter, errors only, a deep page
(offset 2000), and a 1-day window. Interleaved, median and p90 of --runs runs each.

Ends with one JSON line: {"bench": "trace_list", "spans", "days", "cases": {case: {"rows",
"p50_ms", "p90_ms", "scan_p50_ms", "ratio"}}}.

Usage: .venv/bin/python bench/trace_list.py [--spans 2000000] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from spyglass.collector.store import open_store, queries  # noqa: E402

DAY_NS = 86_400 * 10**9
BASELINE = (
    "SELECT count() FROM spans FINAL WHERE project = {project:String} AND start_time "
    "BETWEEN fromUnixTimestamp64Nano({since_ns:Int64}, 'UTC') "
    "AND fromUnixTimestamp64Nano({until_ns:Int64}, 'UTC')"
)


def params(end_ns: int, days: float, **overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "project": "bench",
        "since_ns": int(end_ns - days * DAY_NS),
        "until_ns": end_ns,
        "tenant": "",
        "workflow": "",
        "intent": "",
        "release": "",
        "prompt": "",
        "model": "",
        "corpus": "",
        "errors_only": False,
        "negative": "",
        "min_duration_ns": 0,
        "limit": 51,
        "offset": 0,
    }
    base.update(overrides)
    return base


def timed(store, sql: str, p: dict[str, object]) -> tuple[float, int]:
    t0 = time.perf_counter()
    rows = store.query(sql, p).num_rows
    return (time.perf_counter() - t0) * 1000, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    data = BENCH / ".data" / f"lookup-{args.spans}"
    marker = data.with_suffix(".json")
    if not marker.exists():
        sys.exit(f"no cached store at {data}: run bench/trace_lookup.py --spans {args.spans} first")
    info = json.loads(marker.read_text())
    end = info["end_ns"]
    store = open_store(str(data))
    tenant = store.query("SELECT any(tenant) AS t FROM spans WHERE tenant != ''").column("t")[0].as_py()
    cases = {
        "default page (7 days, 50 rows)": params(end, 7),
        f"tenant = {tenant}": params(end, 7, tenant=tenant),
        "errors only": params(end, 7, errors_only=True),
        "page 41 (offset 2000)": params(end, 7, offset=2000),
        "1-day window": params(end, 1),
    }
    timings: dict[str, list[float]] = {name: [] for name in cases}
    base: dict[str, list[float]] = {name: [] for name in cases}
    rows: dict[str, int] = {}
    for p in cases.values():  # warm up
        timed(store, queries.TRACE_LIST, p)
    for _ in range(args.runs):
        for name, p in cases.items():
            ms, rows[name] = timed(store, queries.TRACE_LIST, p)
            timings[name].append(ms)
            scan = {k: p[k] for k in ("project", "since_ns", "until_ns")}
            base[name].append(timed(store, BASELINE, scan)[0])
    print(f"trace list over {info['spans']:,} spans / {info['days']} days (built {info['built']})")
    print(f"{'case':34} {'rows':>5} {'p50 ms':>8} {'p90 ms':>8} {'scan p50':>9} {'ratio':>6}")
    figures = {}
    for name in cases:
        t = sorted(timings[name])
        b = statistics.median(base[name])
        p50 = statistics.median(t)
        p90 = t[max(0, -(-9 * len(t) // 10) - 1)]  # nearest rank: never below the median
        print(f"{name:34} {rows[name]:>5} {p50:>8.1f} {p90:>8.1f} {b:>9.1f} {p50 / b:>6.1f}x")
        figures[name] = {
            "rows": rows[name],
            "p50_ms": round(p50, 2),
            "p90_ms": round(p90, 2),
            "scan_p50_ms": round(b, 2),
            "ratio": round(p50 / b, 2),
        }
    store.close()
    print(json.dumps({"bench": "trace_list", "spans": info["spans"], "days": info["days"], "cases": figures}))


if __name__ == "__main__":
    main()
