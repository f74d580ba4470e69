"""Insert throughput into the embedded store (chDB): Spyglass's own path against
clickhouse-connect's chdb interface, on the same realistic span rows.

  native: chDB's own Python API, INSERT INTO spans (...) SELECT ... FROM Python(spans_batch)
          (chDB reads the Arrow table in place; Spyglass's store used this path before this
          benchmark chose clickhouse-connect)
  cc:     clickhouse_connect.get_client(dsn="chdb:///abs/path").insert_arrow("spans", table),
          what the product's store (collector/store/_clickhouse.py) does

Each path runs in its own worker subprocess with its own data directory under bench/.data/
(one process can open only one chDB path). The parent drives both workers over pipes: for
every repetition both workers first build the identical batch (same seed), then insert it one
after the other (A then B, B then A on the next repetition), so only one worker is busy while
timed. The schema is created with the product's migrations; the trace_index materialized view
fires on both paths. Before each timed insert both stores are given up to --settle seconds
to finish background merges, so merges of earlier parts do not land in the timings.
Afterwards both stores are checked to hold the same rows (count and a content checksum).

Usage: .venv/bin/python bench/store_insert.py [--sizes 1000,10000] [--reps 30] [--settle 10]
       [--verbose] [--keep]
       --sizes 1000,10000,100000 for larger batches.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DATA = BENCH / ".data"
PATHS = ("native", "cc")
DAY0_NS = 1_790_000_000 * 10**9  # a fixed day (2026-09-21): every batch lands in one partition
MARK = "@@"


# --- worker ------------------------------------------------------------------------------------
def _send(obj: dict) -> None:
    sys.stdout.write(MARK + json.dumps(obj) + "\n")
    sys.stdout.flush()


def worker(kind: str, data_dir: str) -> None:
    sys.path.insert(0, str(BENCH))
    import _workload

    from spyglass.collector.store import open_store
    from spyglass.collector.store.queries import SPAN_COLUMNS

    try:
        store = open_store(data_dir)  # schema through the product's migrations

        def insert(table):  # clickhouse-connect's chdb interface
            store.insert("spans", table)

        if kind == "native":
            import chdb

            conn = chdb.connect(os.path.abspath(data_dir))
            sql = (
                f"INSERT INTO spans ({', '.join(SPAN_COLUMNS)}) "
                f"SELECT {', '.join(SPAN_COLUMNS)} FROM Python(spans_batch)"
            )

            def insert(table):
                spans_batch = table  # noqa: F841 - read by name by chDB's Python() table function
                conn.query(sql)

        _send({"ok": True})
    except Exception as exc:
        _send({"error": f"{type(exc).__name__}: {exc}"})
        return

    table = None
    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg["cmd"]
        try:
            if cmd == "prep":
                rows = msg["rows"]
                table = _workload.batch(
                    rows // _workload.SPANS_PER_TRACE, msg["t_from"], msg["t_to"], tuple(msg["seed"])
                )
                _send({"ok": True, "rows": table.num_rows})
            elif cmd == "settle":  # wait (bounded) until this store has no merge running
                t0 = time.perf_counter()
                while time.perf_counter() - t0 < msg["timeout"]:
                    busy = store.query(
                        "SELECT count() AS n FROM system.merges WHERE database = currentDatabase()"
                    ).to_pylist()[0]["n"]
                    if not busy:
                        break
                    time.sleep(0.05)
                _send({"ok": True, "waited": time.perf_counter() - t0})
            elif cmd == "go":
                t0 = time.perf_counter()
                insert(table)
                _send({"ok": True, "s": time.perf_counter() - t0})
            elif cmd == "check":
                nullable = {"input_tokens", "output_tokens", "cached_input_tokens", "top_k"}
                cols = ", ".join(f"isNull({c}), ifNull({c}, 0)" if c in nullable else c for c in SPAN_COLUMNS)
                res = store.query(
                    f"SELECT count() AS n, sum(cityHash64({cols})) AS h, "
                    "sum(length(mapKeys(attributes))) AS attrs, "
                    "countIf(toUnixTimestamp64Nano(start_time) % 1000 != 0) AS ns_precise "
                    "FROM spans"
                ).to_pylist()[0]
                idx = store.query("SELECT count() AS n FROM trace_index FINAL").to_pylist()[0]
                parts = store.query(
                    "SELECT count() AS p, sum(rows) AS r FROM system.parts "
                    "WHERE active AND database = currentDatabase() AND table = 'spans'"
                ).to_pylist()[0]
                _send(
                    {
                        "ok": True,
                        "rows": res["n"],
                        "hash": str(res["h"]),
                        "attrs": res["attrs"],
                        "ns_precise": res["ns_precise"],
                        "traces": idx["n"],
                        "parts": parts["p"],
                    }
                )
            elif cmd == "quit":
                break
        except Exception as exc:
            _send({"error": f"{type(exc).__name__}: {str(exc)[:2000]}"})
    store.close()


# --- parent ------------------------------------------------------------------------------------
class Worker:
    def __init__(self, kind: str, data_dir: Path) -> None:
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", kind, "--data", str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=str(BENCH.parent),
        )
        self.error: str | None = None
        first = self._read()
        if "error" in first:
            self.error = first["error"]

    def _read(self) -> dict:
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                return {"error": f"worker {self.kind} exited (code {self.proc.poll()})"}
            if line.startswith(MARK):
                return json.loads(line[len(MARK) :])

    def call(self, **msg: object) -> dict:
        if self.error:
            return {"error": self.error}
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.error = f"worker {self.kind} is gone"
            return {"error": self.error}
        res = self._read()
        if "error" in res:
            self.error = res["error"]
        return res

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call(cmd="quit")
            except Exception:
                pass
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000", help="batch sizes in rows, comma-separated")
    ap.add_argument("--reps", type=int, default=30, help="timed inserts per batch size and path")
    ap.add_argument(
        "--settle",
        type=float,
        default=10.0,
        help="before each timed insert wait up to this many seconds until neither store is merging "
        "(0: don't wait; background merges then land in the timings)",
    )
    ap.add_argument("--verbose", action="store_true", help="print every insert's time")
    ap.add_argument("--keep", action="store_true", help="keep the data directories afterwards")
    ap.add_argument("--worker", choices=PATHS, help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        "Embedded-store insert throughput (rows/s): chDB Python() INSERT ... SELECT FROM "
        "Python(table)) vs clickhouse-connect chdb:// insert_arrow, same rows, one subprocess and "
        "data directory per path, inserts alternated between the paths."
    )
    print(
        f"machine: {platform.platform()}, os.cpu_count()={os.cpu_count()}; python "
        f"{sys.version.split()[0]}; chdb {md.version('chdb')}, clickhouse-connect "
        f"{md.version('clickhouse-connect')}, pyarrow {md.version('pyarrow')}"
    )
    print(
        f"batch sizes {sizes}, {args.reps} timed inserts per size and path (+1 warm-up each), "
        "~10 spans/trace, all rows in one daily partition"
    )

    DATA.mkdir(parents=True, exist_ok=True)
    dirs = {k: DATA / f"insert-{k}" for k in PATHS}
    for d in dirs.values():
        shutil.rmtree(d, ignore_errors=True)
    t_start = time.perf_counter()
    workers = {k: Worker(k, dirs[k]) for k in PATHS}
    for k, w in workers.items():
        if w.error:
            print(f"!! {k} worker could not start: {w.error}")
    print(f"workers up in {time.perf_counter() - t_start:.1f} s", flush=True)

    times: dict[tuple[str, int], list[float]] = {(k, s): [] for k in PATHS for s in sizes}
    ratios: dict[int, list[float]] = {s: [] for s in sizes}
    errors: dict[str, str] = {}
    seq = 0
    settled = {k: 0.0 for k in PATHS}
    for size in sizes:
        for rep in range(-1, args.reps):  # rep -1: warm-up, not recorded
            seq += 1
            msg = {
                "cmd": "prep",
                "rows": size,
                "seed": [size, rep + 1],
                "t_from": DAY0_NS + seq * 10**9,
                "t_to": DAY0_NS + (seq + 1) * 10**9,
            }
            for w in workers.values():
                w.call(**msg)
            order = PATHS if rep % 2 == 0 else PATHS[::-1]
            got = {}
            for k in order:
                if args.settle > 0:  # neither process merging while this insert is timed
                    for w in workers.values():
                        settled[w.kind] += w.call(cmd="settle", timeout=args.settle).get("waited", 0.0)
                res = workers[k].call(cmd="go")
                if "error" in res:
                    errors.setdefault(k, res["error"])
                    continue
                got[k] = res["s"]
            if args.verbose:
                print(f"    rep {rep:>3} " + "  ".join(f"{k} {v * 1000:7.1f} ms" for k, v in got.items()))
            if rep >= 0:
                for k, s in got.items():
                    times[(k, size)].append(s)
                if len(got) == 2:
                    ratios[size].append(got["cc"] / got["native"])
        med = {k: statistics.median(times[(k, size)]) if times[(k, size)] else None for k in PATHS}
        shown = ", ".join(f"{k} {size / v:,.0f} rows/s" for k, v in med.items() if v)
        print(
            f"  batch {size:>7,} rows: {args.reps} reps done ({time.perf_counter() - t_start:.1f} s): "
            f"{shown}",
            flush=True,
        )

    checks = {k: w.call(cmd="check") for k, w in workers.items()}
    if args.settle > 0:
        print(
            "waited for background merges before timed inserts: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in settled.items())
        )
    for w in workers.values():
        w.close()

    print()
    for k, e in errors.items():
        print(f"!! {k} path failed: {e}")
    print(
        f"{'batch rows':>10} {'native rows/s':>14} {'cc rows/s':>12} {'native ms':>10} {'cc ms':>9} "
        f"{'native/cc':>10} {'paired':>7}"
    )
    print("-" * 78)
    for size in sizes:
        tn, tc = times[("native", size)], times[("cc", size)]
        n = statistics.median(tn) if tn else float("nan")
        c = statistics.median(tc) if tc else float("nan")
        paired = statistics.median(ratios[size]) if ratios[size] else float("nan")
        print(
            f"{size:>10,} {size / n:>14,.0f} {size / c:>12,.0f} {n * 1000:>10.1f} {c * 1000:>9.1f} "
            f"{c / n:>9.2f}x {paired:>6.2f}x"
        )
    print("-" * 78)
    print(
        "native/cc = how many times faster chDB's own path is (median time cc / median time native); "
        "paired = median of per-repetition ratios"
    )
    for k, res in checks.items():
        if "error" in res:
            print(f"check {k}: {res['error']}")
        else:
            print(
                f"check {k}: {res['rows']:,} rows, {res['traces']:,} traces in trace_index, "
                f"{res['parts']} active parts, {res['attrs']:,} map entries, "
                f"{res['ns_precise']:,} rows with sub-µs start_time, checksum {res['hash']}"
            )
    if all(r.get("hash") not in (None, "None") for r in checks.values()):
        same = len({(r["rows"], r["hash"]) for r in checks.values()}) == 1
        print(
            "both stores hold identical rows"
            if same
            else "!! the two paths stored DIFFERENT rows (see counts/checksums above)"
        )
    if not args.keep:
        for d in dirs.values():
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
