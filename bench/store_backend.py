"""The server backend's insert path against the embedded one, and what ``async_insert`` changes
when several collectors write small batches at once.

No ClickHouse server runs on this machine: the server side is ``tests/server/chhttp.py``, the
test fixture that serves ClickHouse's HTTP interface from chDB in its own process. So the
figures are clickhouse-connect's HTTP path (Arrow body, lz4, one HTTP request per batch) plus a
Python HTTP server in front of the same engine: an upper bound on the client and protocol
cost, not a measurement of a ClickHouse server. Parts created per insert are engine behaviour
and carry over.

  single: one writer, realistic span batches (bench/_workload.py) of --sizes rows:
          embedded (chdb://, in this process) vs server (http:// to the fixture), alternating
  concurrent: --writers threads each inserting 1,000-span batches at once (collectors at low
          traffic flush small batches every 100 ms): plain inserts vs
          async_insert=1, wait_for_async_insert=1 (the server coalesces concurrent inserts
          into fewer parts; the insert still returns only once the rows are stored)

Usage: .venv/bin/python bench/store_backend.py [--sizes 1000,10000] [--reps 10] [--writers 4]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import _workload  # noqa: E402

from spyglass.collector.store import open_store  # noqa: E402
from spyglass.collector.store._clickhouse import ClickHouseStore  # noqa: E402

DAY0_NS = 1_790_000_000 * 10**9
ASYNC = {"async_insert": 1, "wait_for_async_insert": 1}


def _fixture(data: str) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/server/chhttp.py"), "--data", data, "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1)
            return proc, f"http://127.0.0.1:{port}/bench"
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the chhttp fixture did not start")


def _rows_per_s(store: ClickHouseStore, table: object, settings: dict[str, int] | None = None) -> float:
    start = time.perf_counter()
    if settings:
        store._client().insert_arrow("spans", table, settings=settings)
    else:
        store.insert("spans", table)  # type: ignore[arg-type]
    return table.num_rows / (time.perf_counter() - start)  # type: ignore[attr-defined]


def _parts(store: ClickHouseStore) -> int:
    sql = "SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'spans'"
    return int(store.query(sql).column(0)[0].as_py())


def single(embedded: ClickHouseStore, server: ClickHouseStore, sizes: list[int], reps: int) -> None:
    print("\nsingle writer, realistic spans (rows/s, median)")
    print(f"{'batch':>8} {'embedded':>12} {'server/HTTP':>12} {'server/emb':>11}")
    for size in sizes:
        got: dict[str, list[float]] = {"embedded": [], "server": []}
        for rep in range(reps):
            table = _workload.batch(size // 10, DAY0_NS, DAY0_NS + 3_600 * 10**9, seed=(size, rep))
            order = [("embedded", embedded), ("server", server)]
            for name, store in order if rep % 2 == 0 else order[::-1]:
                got[name].append(_rows_per_s(store, table))
        e, s = statistics.median(got["embedded"]), statistics.median(got["server"])
        print(f"{size:>8,} {e:>12,.0f} {s:>12,.0f} {s / e:>10.2f}x")


def concurrent(dsn: str, writers: int, rounds: int) -> None:
    print(f"\n{writers} writers at once, 1,000-span batches, {rounds} rounds each")
    print(f"{'mode':>12} {'rows/s':>10} {'inserts':>8} {'new parts':>10} {'parts/insert':>13}")
    stores = [ClickHouseStore(dsn) for _ in range(writers)]
    batches = [_workload.batch(100, DAY0_NS, DAY0_NS + 60 * 10**9, seed=(7, w)) for w in range(writers)]
    for mode, settings in (
        ("plain", None),
        ("async_insert", ASYNC),
        ("plain", None),
        ("async_insert", ASYNC),
    ):
        stores[0].command("SYSTEM STOP MERGES spans")  # count the parts inserts create
        before = _parts(stores[0])
        barrier = threading.Barrier(writers)

        def run(
            w: int, settings: dict[str, int] | None = settings, barrier: threading.Barrier = barrier
        ) -> None:
            store = stores[w]
            for _ in range(rounds):
                barrier.wait()
                _rows_per_s(store, batches[w], settings)

        start = time.perf_counter()
        threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        created = _parts(stores[0]) - before
        inserts = writers * rounds
        rows = sum(b.num_rows for b in batches) * rounds
        print(f"{mode:>12} {rows / elapsed:>10,.0f} {inserts:>8} {created:>10} {created / inserts:>13.2f}")
        stores[0].command("SYSTEM START MERGES spans")
        stores[0].command("OPTIMIZE TABLE spans FINAL")
    for store in stores:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="spyglass-bench-")
    proc, dsn = _fixture(os.path.join(tmp, "server"))
    try:
        embedded = open_store(os.path.join(tmp, "embedded"))
        server = open_store(dsn)
        assert isinstance(embedded, ClickHouseStore) and isinstance(server, ClickHouseStore)
        single(embedded, server, [int(s) for s in args.sizes.split(",")], args.reps)
        concurrent(dsn, args.writers, args.rounds)
        embedded.close()
        server.close()
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
