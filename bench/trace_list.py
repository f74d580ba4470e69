"""The traces page's query (``queries.TRACE_LIST``, over the ``requests`` rollup): filters +
newest first + paging, over the store cached by ``bench/trace_lookup.py`` in DIR/lookup-N (run
that first; default 2,000,000 spans over 30 days; --data-dir DIR, default bench/.data). Each
timing includes the rollup refresh the API runs before the query (``Rollup.refresh``; the
first one, a backfill when the store has no ``requests`` rows yet, runs before the clock).

Baselines in the same run, interleaved: ``SELECT count() FROM spans FINAL`` over the same
window (the cost of merely reading the window's span rows), and ``before``: the trace-list
query at --before REV (default the commit before the rollup: grouping ``spans FINAL`` per
trace) on the same store. Cases: the default page (last 7 days, 50 rows), a tenant filter,
errors only, a deep page (offset 2000), and a 1-day window. Median and p90 of --runs runs.

Ends with one JSON line: {"bench": "trace_list", "spans", "days", "cases": {case: {"rows",
"p50_ms", "p90_ms", "scan_p50_ms", "ratio", "before_p50_ms", "x_before"}}}.

Usage: .venv/bin/python bench/trace_list.py [--spans 2000000] [--runs 7] [--data-dir DIR] [--before REV]
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

import _before  # noqa: E402

from spyglass.collector.rollup import Rollup  # noqa: E402
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


def timed(store, sql: str, p: dict[str, object], rollup: Rollup | None = None) -> tuple[float, int]:
    t0 = time.perf_counter()
    if rollup is not None:  # as the API does before the query
        rollup.refresh()
    rows = store.query(sql, p).num_rows
    return (time.perf_counter() - t0) * 1000, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--data-dir", type=Path, default=BENCH / ".data", help="where lookup-N is")
    ap.add_argument("--before", default=_before.BEFORE_ROLLUP, help="git revision of the baseline SQL")
    args = ap.parse_args()
    data = args.data_dir / f"lookup-{args.spans}"
    marker = data.with_suffix(".json")
    if not marker.exists():
        sys.exit(f"no cached store at {data}: run bench/trace_lookup.py --spans {args.spans} first")
    info = json.loads(marker.read_text())
    end = info["end_ns"]
    store = open_store(str(data))
    before_sql = _before.sql_module(args.before, "collector/store/queries.py").TRACE_LIST
    rollup = Rollup(store)
    t0 = time.perf_counter()
    first = rollup.refresh()
    print(f"first rollup refresh: {first.traces:,} traces, {time.perf_counter() - t0:.1f} s", flush=True)
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
    before: dict[str, list[float]] = {name: [] for name in cases}
    rows: dict[str, int] = {}
    before_rows: dict[str, int] = {}
    for p in cases.values():  # warm up
        timed(store, queries.TRACE_LIST, p, rollup)
        timed(store, before_sql, p)
    for run in range(args.runs):
        for name, p in cases.items():
            for side in ("after", "before") if run % 2 == 0 else ("before", "after"):
                if side == "after":
                    ms, rows[name] = timed(store, queries.TRACE_LIST, p, rollup)
                    timings[name].append(ms)
                else:
                    ms, before_rows[name] = timed(store, before_sql, p)
                    before[name].append(ms)
            scan = {k: p[k] for k in ("project", "since_ns", "until_ns")}
            base[name].append(timed(store, BASELINE, scan)[0])
    print(f"trace list over {info['spans']:,} spans / {info['days']} days (built {info['built']})")
    print(f"before: the trace-list query at {args.before} (grouping spans FINAL per trace), same store")
    print(
        f"{'case':34} {'rows':>5} {'p50 ms':>8} {'p90 ms':>8} {'scan p50':>9} {'ratio':>6} "
        f"{'before p50':>11} {'after/before':>13}"
    )
    figures = {}
    for name in cases:
        t = sorted(timings[name])
        b = statistics.median(base[name])
        p50 = statistics.median(t)
        p90 = t[max(0, -(-9 * len(t) // 10) - 1)]  # nearest rank: never below the median
        bp50 = statistics.median(before[name])
        print(
            f"{name:34} {rows[name]:>5} {p50:>8.1f} {p90:>8.1f} {b:>9.1f} {p50 / b:>6.1f}x "
            f"{bp50:>11.1f} {p50 / bp50:>13.2f}"
        )
        figures[name] = {
            "rows": rows[name],
            "p50_ms": round(p50, 2),
            "p90_ms": round(p90, 2),
            "scan_p50_ms": round(b, 2),
            "ratio": round(p50 / b, 2),
            "before_p50_ms": round(bp50, 2),
            "before_rows": before_rows[name],
            "x_before": round(p50 / bp50, 3),
        }
    store.close()
    print(json.dumps({"bench": "trace_list", "spans": info["spans"], "days": info["days"], "cases": figures}))


if __name__ == "__main__":
    main()
