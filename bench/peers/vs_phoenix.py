"""Spyglass against Arize Phoenix with one harness: ingest, freshness and trace lookup.

Each round starts a fresh Spyglass collector (``spyglass up --no-ui``, embedded store, spool
fsync on) and a fresh Phoenix (``phoenix serve``, its default SQLite storage, from the peers'
virtual environment, bound to 127.0.0.1 without its gRPC server), one after the other so they
never compete for the two cores, and gives each exactly the same work:

- ingest: ``--clients`` processes POST the same realistic OTLP/HTTP protobuf exports
  (``bench/ingest_durability.py``'s ``build_request``: 10-span traces, 1 KB of content on LLM
  spans, 200 spans per export) for ``--seconds``; spans/s acknowledged, and spans/s stored: all
  spans sent divided by the time until the last trace of every client is returned by the
  server's trace API (Phoenix acknowledges before it writes; Spyglass once the spool has it);
- freshness: meanwhile a probe sends one trace at a time and polls the trace API until it is
  returned: p50/p99 from the acknowledgment (under load);
- lookup: afterwards, ``--lookups`` random traces sent above, p50/p99 of one trace's spans
  through each one's API (Spyglass ``GET /api/traces/{id}``, Phoenix
  ``GET /v1/projects/default/spans?trace_id=...``), on the same number of stored spans;
- peak RSS of each server process.

Prints a table and, last, a JSON line with the rows for ``bench/run_all.py``.

    .venv/bin/python bench/peers/vs_phoenix.py [--quick] [--seconds 15] [--clients 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from ingest_durability import build_request, free_port, post  # noqa: E402

PEERS_VENV = Path(os.environ.get("SPYGLASS_PEERS_VENV", "/work/peers-venv"))
Lookup = Callable[[str], bool]  # trace id -> whether the server returned its spans


def get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return bytes(r.read())
    except urllib.error.HTTPError:
        return None


def spyglass_lookup(url: str) -> Lookup:
    return lambda tid: get(f"{url}/api/traces/{tid}?project=bench") is not None


def phoenix_lookup(url: str) -> Lookup:
    def lookup(tid: str) -> bool:
        body = get(f"{url}/v1/projects/default/spans?trace_id={tid}&limit=1000")
        return body is not None and len(json.loads(body)["data"]) > 0

    return lookup


def client(url: str, seconds: float, pool: int, go: Any, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Like ingest_durability's client: ``pool`` exports built before the clock starts (building
    one costs the client about 6 ms), sent in turn; then one fresh export whose last trace is the
    drain marker (a re-sent trace would be found before the server caught up)."""
    made = [build_request(20, "bench") for _ in range(pool)]  # 200 spans per export
    out.put("ready")
    go.wait()
    sent, i, deadline = 0, 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        post(url, made[i % pool][1])
        sent += 200
        i += 1
    marker, body = build_request(20, "bench")
    post(url, body)
    ids = [t for tids, _ in made[: min(i, pool)] for t in tids]
    out.put((sent + 200, ids + marker))


def probe(url: str, lookup: Lookup, stop: threading.Event, limit: float, samples: list[float]) -> None:
    """One trace at a time until ``stop``; a trace still invisible after ``limit`` seconds counts
    as ``limit`` (so a backlog shows in the percentiles instead of being left out)."""
    while not stop.is_set():
        (tid,), body = build_request(1, "bench")
        post(url, body)
        acked = time.perf_counter()
        while not lookup(tid) and time.perf_counter() - acked < limit:
            time.sleep(0.02)  # gentle: each poll is a query the server runs beside the ingest
        samples.append(min(time.perf_counter() - acked, limit))
        stop.wait(0.2)


def stored_count(peer: str, data: str) -> float:
    """Spans stored so far, read from Phoenix's SQLite file (read-only); Spyglass's embedded
    store belongs to the collector process, so it has no such count (nan)."""
    if peer != "phoenix":
        return float("nan")
    db = sqlite3.connect(f"file:{data}/phoenix.db?mode=ro", uri=True, timeout=30)
    try:
        return float(db.execute("SELECT count(*) FROM spans").fetchone()[0])
    finally:
        db.close()


def start(peer: str, data: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SPYGLASS_", "PHOENIX_"))}
    if peer == "spyglass":
        env["SPYGLASS_SPOOL_FSYNC"] = "1"
        cmd = [sys.executable, "-m", "spyglass.cli", "up", "--no-ui", "--grpc-port", "0"]
        cmd += ["--port", str(port), "--data-dir", data]
        ready = "/livez"
    else:
        env.update(PHOENIX_HOST="127.0.0.1", PHOENIX_PORT=str(port), PHOENIX_WORKING_DIR=data)
        env.update(PHOENIX_GRPC_PORT=str(free_port()), PHOENIX_TELEMETRY_ENABLED="false")
        cmd = [str(PEERS_VENV / "bin" / "python"), str(HERE / "phoenix_serve.py")]
        ready = "/healthz"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url + ready, timeout=1).read()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                sys.exit(f"{peer} did not start ({' '.join(cmd)}); run it by hand to see why")
            time.sleep(0.3)


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000 if s else float("nan")


def measure(
    peer: str, seconds: float, clients: int, lookups: int, pool: int, drain: float
) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{peer}-") as data:
        proc, url = start(peer, data)
        lookup = spyglass_lookup(url) if peer == "spyglass" else phoenix_lookup(url)
        try:
            queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
            go = mp.Event()
            workers = [
                mp.Process(target=client, args=(url, seconds, pool, go, queue)) for _ in range(clients)
            ]
            stop, fresh = threading.Event(), []  # type: ignore[var-annotated]
            prober = threading.Thread(target=probe, args=(url, lookup, stop, min(drain, 60.0), fresh))
            for w in workers:
                w.start()
            for _ in workers:
                queue.get()  # built its exports
            started = time.perf_counter()
            go.set()
            prober.start()
            results = [queue.get() for _ in workers]
            acked = time.perf_counter() - started
            stop.set()
            for w in workers:
                w.join()
            sent = sum(s for s, _ in results)
            cut_at = time.perf_counter() + drain
            pending = [ids[-1] for _, ids in results]  # each client's last trace: all stored
            while pending and time.perf_counter() < cut_at:
                pending = [t for t in pending if not lookup(t)]
                time.sleep(0.5)
            stored_s = time.perf_counter() - started
            stored = stored_count(peer, data) if pending else float(sent)
            prober.join()
            # Lookups of traces stored by now: in send order, stored first (both store in order).
            share = min(1.0, stored / sent) if stored == stored else 1.0
            all_ids = [t for _, ids in results for t in ids[: max(1, int(len(ids) * share))]]
            sample = random.Random(7).sample(all_ids, min(lookups, len(all_ids)))
            lat, missing = [], 0
            for tid in sample:
                t0 = time.perf_counter()
                if lookup(tid):
                    lat.append(time.perf_counter() - t0)
                else:
                    missing += 1
            rss = peak_rss_mib(proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
    return {
        "spans": sent,
        "acked_spans_s": sent / acked,
        "stored_spans_s": stored / stored_s,
        "stored_share": stored / sent,
        "drain_cut": float(bool(pending)),
        "fresh_n": len(fresh),
        "fresh_p50_ms": pct(fresh, 0.5),
        "fresh_p99_ms": pct(fresh, 0.99),
        "lookup_p50_ms": pct(lat, 0.5),
        "lookup_p99_ms": pct(lat, 0.99),
        "lookup_missing": missing,
        "rss_mib": rss,
    }


def rows(sg: dict[str, float], px: dict[str, float], shape: str) -> list[dict[str, object]]:
    """run_all rows: Spyglass's figure, Phoenix's as the baseline, ratio Spyglass / Phoenix."""

    def r(item: str, figure: str, key: str, fmt: str, unit: str) -> dict[str, object]:
        return {
            "item": item,
            "figure": f"{figure} vs Phoenix ({shape})",
            "value": f"{sg[key]:{fmt}} {unit}",
            "baseline": f"{px[key]:{fmt}} {unit} Phoenix",
            "ratio": f"{sg[key] / px[key]:.2f}x",
        }

    cut = f"; Phoenix stored {px['stored_share']:.0%} within the drain wait" if px["drain_cut"] else ""
    probes = f"{sg['fresh_n']:.0f} vs {px['fresh_n']:.0f} probes"
    return [
        r("2 Ingest", "spans/s acknowledged (higher is better)", "acked_spans_s", ",.0f", "spans/s"),
        r("2 Ingest", f"spans/s stored (higher is better{cut})", "stored_spans_s", ",.0f", "spans/s"),
        r("3 Freshness", f"p50 under load, {probes} (lower is better)", "fresh_p50_ms", ",.0f", "ms"),
        r("3 Freshness", f"p99 under load, {probes} (lower is better)", "fresh_p99_ms", ",.0f", "ms"),
        r(
            "4 Lookup",
            "one trace's spans through the API, p50 (lower is better)",
            "lookup_p50_ms",
            ".1f",
            "ms",
        ),
        r(
            "4 Lookup",
            "one trace's spans through the API, p99 (lower is better)",
            "lookup_p99_ms",
            ".1f",
            "ms",
        ),
        r("8 Memory", "server peak RSS (lower is better)", "rss_mib", ",.0f", "MiB"),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one round of 5 s")
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--lookups", type=int, default=100)
    ap.add_argument(
        "--drain",
        type=float,
        default=120,
        help="seconds to wait after the load for every span to be stored (then count what is); "
        "a freshness probe waits at most min(this, 60 s)",
    )
    ap.add_argument("--pool", type=int, default=250, help="exports each client builds before timing")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.rounds, args.lookups, args.drain = 5, 1, 50, 60
    if not (PEERS_VENV / "bin" / "python").exists():
        sys.exit(f"no peers venv at {PEERS_VENV}: run bash bench/peers/setup.sh (or set SPYGLASS_PEERS_VENV)")
    figures: dict[str, list[dict[str, float]]] = {"spyglass": [], "phoenix": []}
    for r in range(args.rounds):
        for peer in ("spyglass", "phoenix") if r % 2 == 0 else ("phoenix", "spyglass"):
            print(f"round {r + 1}/{args.rounds}: {peer}, {args.clients} clients x {args.seconds:g} s ...",
                  flush=True)  # fmt: skip
            figures[peer].append(
                measure(peer, args.seconds, args.clients, args.lookups, args.pool, args.drain)
            )
            print(f"  {json.dumps(figures[peer][-1])}", flush=True)
    med = {p: {k: statistics.median(f[k] for f in fs) for k in fs[0]} for p, fs in figures.items()}
    sg, px = med["spyglass"], med["phoenix"]
    print(
        f"\n{args.clients} clients x {args.seconds:g} s, 200 spans per export, median of {args.rounds} rounds"
    )
    print(f"{'':28}{'spyglass':>12}{'phoenix':>12}")
    for key in sg:
        print(f"{key:28}{sg[key]:>12,.1f}{px[key]:>12,.1f}")
    shape = f"{args.clients} clients, {sg['spans']:,.0f} vs {px['spans']:,.0f} spans"
    print(json.dumps({"rows": rows(sg, px, shape), "median": med}))


if __name__ == "__main__":
    main()
