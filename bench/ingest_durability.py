"""What durability costs: one real collector (``spyglass up --no-ui``, embedded store) under
OTLP/HTTP load from several client processes, with the spool fsync'd before every
acknowledgment (the product) against the same spool without fsync (the baseline), in the
same run, alternating.

Prints, per mode: spans/s acknowledged, export latency p50/p99 (what an exporter waits),
freshness p50/p99 (from an export's acknowledgment to its trace being returned by
``GET /api/traces/{id}``), and the collector's peak RSS.

    .venv/bin/python bench/ingest_durability.py [--seconds 15] [--clients 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

PB = {"Content-Type": "application/x-protobuf"}
CONTENT = "x" * 1024  # 1 KB of captured content on LLM spans


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def build_request(traces: int, project: str) -> tuple[list[str], bytes]:
    """``traces`` realistic traces of 10 spans (a workflow, LLM calls with tokens and content,
    a retrieval with 5 document IDs, a tool) in one export request."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([_kv("service.name", "bench"), _kv("spyglass.project", project)])
    ss = rs.scope_spans.add()
    now = time.time_ns()
    ids = []
    for _ in range(traces):
        tid = os.urandom(16)
        ids.append(tid.hex())
        root = os.urandom(8)
        cohort = [_kv("spyglass.cohort.tenant", "acme"), _kv("spyglass.cohort.workflow", "answer")]
        spans = [
            Span(name="request", span_id=root, attributes=[_kv("spyglass.span.kind", "workflow"), *cohort])
        ]
        for i in range(9):
            kind = ("llm", "retrieval", "tool")[i % 3]
            attrs = [_kv("spyglass.span.kind", kind), *cohort]
            if kind == "llm":
                attrs += [
                    _kv("gen_ai.request.model", "gpt-4o-mini"),
                    _kv("gen_ai.usage.input_tokens", 812),
                    _kv("gen_ai.usage.output_tokens", 96),
                    _kv("spyglass.prompt.name", "answer"),
                    _kv("spyglass.prompt.version", "v3"),
                    _kv("spyglass.input", CONTENT),
                ]
            elif kind == "retrieval":
                attrs += [_kv("gen_ai.data_source.id", "kb"), _kv("spyglass.retrieval.top_k", 5)]
            else:
                attrs += [_kv("gen_ai.tool.name", "lookup_customer")]
            spans.append(
                Span(name=f"{kind}-{i}", span_id=os.urandom(8), parent_span_id=root, attributes=attrs)
            )
        for j, s in enumerate(spans):
            s.trace_id = tid
            s.start_time_unix_nano = now + j * 1000
            s.end_time_unix_nano = now + j * 1000 + 5_000_000
        ss.spans.extend(spans)
    return ids, req.SerializeToString()


_LOCAL = threading.local()  # one connection per thread and collector


def post(url: str, body: bytes) -> float:
    """Send until acknowledged; the seconds the last (successful) attempt took. Over one
    kept-alive connection per thread and collector, as OpenTelemetry's OTLP/HTTP exporter does
    (a ``requests`` session): a new TCP connection per export cost the clients CPU that the
    collector shares on two cores."""
    parts = urllib.parse.urlsplit(url)
    connections: dict[str, http.client.HTTPConnection] = _LOCAL.__dict__.setdefault("connections", {})
    while True:
        conn = connections.get(url)
        if conn is None:
            conn = connections[url] = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        started = time.perf_counter()
        try:
            conn.request("POST", parts.path + "/v1/traces", body, PB)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                return time.perf_counter() - started
        except (http.client.HTTPException, OSError):
            conn.close()
            del connections[url]
        time.sleep(0.05)


def client(url: str, seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    bodies = [build_request(20, "bench")[1] for _ in range(20)]  # 200 spans per export
    latencies, sent, deadline, i = [], 0, time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        latencies.append(post(url, bodies[i % len(bodies)]))
        sent += 200
        i += 1
    out.put((sent, latencies))


def freshness(url: str, stop: threading.Event, samples: list[float]) -> None:
    while not stop.is_set():
        (tid,), body = build_request(1, "fresh")
        post(url, body)
        acked = time.perf_counter()
        while not stop.is_set():
            try:
                with urllib.request.urlopen(f"{url}/api/traces/{tid}?project=fresh", timeout=10) as r:
                    r.read()
                samples.append(time.perf_counter() - acked)
                break
            except urllib.error.HTTPError:
                time.sleep(0.005)
        stop.wait(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(fsync: bool, seconds: float, clients: int) -> dict[str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SPYGLASS_"))}
        env["SPYGLASS_SPOOL_FSYNC"] = "1" if fsync else "0"
        command = ["up", "--no-ui", "--grpc-port", "0", "--port", str(port), "--data-dir", data]
        proc = subprocess.Popen(
            [sys.executable, "-m", "spyglass.cli", *command],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    urllib.request.urlopen(url + "/livez", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.2)
            queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
            workers = [mp.Process(target=client, args=(url, seconds, queue)) for _ in range(clients)]
            stop, fresh = threading.Event(), []  # type: ignore[var-annotated]
            probe = threading.Thread(target=freshness, args=(url, stop, fresh))
            started = time.perf_counter()
            for w in workers:
                w.start()
            probe.start()
            results = [queue.get() for _ in workers]
            elapsed = time.perf_counter() - started
            stop.set()
            probe.join()
            for w in workers:
                w.join()
            with open(f"/proc/{proc.pid}/status") as fh:
                rss = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
        finally:
            proc.terminate()
            proc.wait(60)
    latencies = sorted(x for _, lat in results for x in lat)
    fresh.sort()
    q = statistics.quantiles
    return {
        "spans_s": sum(s for s, _ in results) / elapsed,
        "ack_p50_ms": q(latencies, n=100)[49] * 1000,
        "ack_p99_ms": q(latencies, n=100)[98] * 1000,
        "fresh_p50_ms": q(fresh, n=100)[49] * 1000 if len(fresh) > 2 else float("nan"),
        "fresh_p99_ms": q(fresh, n=100)[98] * 1000 if len(fresh) > 2 else float("nan"),
        "rss_mib": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    figures: dict[str, list[dict[str, float]]] = {"fsync": [], "no fsync": []}
    for r in range(args.rounds):
        for mode in ("no fsync", "fsync"):
            print(f"round {r + 1}/{args.rounds}: {mode} ...", file=sys.stderr, flush=True)
            figures[mode].append(run(mode == "fsync", args.seconds, args.clients))
    med = {m: {k: statistics.median(f[k] for f in fs) for k in fs[0]} for m, fs in figures.items()}
    shape = f"{args.clients} clients x {args.seconds:.0f} s, 200 spans per export"
    print(f"\n{shape}, median of {args.rounds} rounds")
    print(f"{'':24}{'no fsync':>12}{'fsync':>12}{'ratio':>8}")
    for key, label in [
        ("spans_s", "spans/s acknowledged"),
        ("ack_p50_ms", "export p50 ms"),
        ("ack_p99_ms", "export p99 ms"),
        ("fresh_p50_ms", "freshness p50 ms"),
        ("fresh_p99_ms", "freshness p99 ms"),
        ("rss_mib", "collector peak RSS MiB"),
    ]:
        a, b = med["no fsync"][key], med["fsync"][key]
        print(f"{label:24}{a:>12.1f}{b:>12.1f}{b / a:>7.2f}x")
    print(json.dumps(med))


if __name__ == "__main__":
    main()
