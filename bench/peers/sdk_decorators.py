"""SDK overhead of the peers' decorators against a bare OpenTelemetry span, next to Spyglass's.

Run by the peers' interpreter (``/work/peers-venv/bin/python``, see ``setup.sh``), which also
has Spyglass installed without dependencies. Each SDK runs in its own child process (each
installs its own TracerProvider) against a bare OpenTelemetry span made in that same process,
with the harness of ``bench/sdk_overhead.py``: each round makes --iterations calls per side,
alternating ABAB in chunks; figures are medians over rounds; the ratio is the median of the
per-round ratios. Every SDK exports through its own default pipeline (batching, background
thread, OTLP/HTTP) to a local sink that answers 200 to every POST and discards the body (a child
process on 127.0.0.1), as does the baseline (a BatchSpanProcessor with the OTLP/HTTP exporter):
each side pays its real export work on the same terms, and nothing reaches the network. (A
dead endpoint would not do: Spyglass's bounded queue fills and drops ended spans, skipping the
encoding its baseline keeps paying.)

The decorated function is empty and records a model call: model, provider, prompt name and
version, 120/30 tokens, inside a cohort (tenant, workflow) where the SDK has one:

- spyglass: ``@spyglass.llm(model=, provider=, prompt_name=, prompt_version=)`` and
  ``current_span().set_usage(120, 30)`` inside ``spyglass.cohort(tenant=, workflow=)``;
- langfuse: ``@observe(as_type="generation")`` and ``update_current_generation(model=,
  usage_details=, metadata=)`` inside ``propagate_attributes(metadata={"tenant": ...})``; its
  default input/output capture stays on (Langfuse's default);
- traceloop (OpenLLMetry): ``@task(name="chat")`` and the current span's ``set_attributes``
  (OpenLLMetry sets model and tokens from client instrumentations, which an empty function has
  not), inside ``Traceloop.set_association_properties({"tenant_id": ...})``; its default
  content capture stays on.

The baseline: ``tracer.start_as_current_span("chat gpt-4o-mini", attributes=...)`` with the
model, provider, prompt and cohort attributes, then ``span.set_attributes`` with the tokens.

    /work/peers-venv/bin/python bench/peers/sdk_decorators.py [--quick] [--sdk spyglass,langfuse,traceloop]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.metadata as md
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SINK = os.environ.get("BENCH_SINK", "http://127.0.0.1:9")  # set by the parent for each child
MODEL = "gpt-4o-mini"
START_ATTRS = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": MODEL,
    "gen_ai.provider.name": "openai",
    "spyglass.prompt.name": "answer",
    "spyglass.prompt.version": "v3",
    "spyglass.cohort.tenant": "acme",
    "spyglass.cohort.workflow": "support",
}
TOKENS = {"gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30}
Timer = Callable[[int], int]  # n calls -> nanoseconds


def baseline() -> tuple[Timer, Timer]:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=SINK + "/v1/traces")))
    tracer = provider.get_tracer("bench")

    def call() -> None:
        with tracer.start_as_current_span(f"chat {MODEL}", attributes=START_ATTRS) as span:
            span.set_attributes(TOKENS)

    async def acall() -> None:
        with tracer.start_as_current_span(f"chat {MODEL}", attributes=START_ATTRS) as span:
            span.set_attributes(TOKENS)

    return timers(call, acall, contextlib.nullcontext)


def timers(
    call: Callable[[], Any], acall: Callable[[], Any], scope: Callable[[], Any]
) -> tuple[Timer, Timer]:
    """Timed loops over a sync and an async decorated call, each inside the SDK's cohort scope."""

    def sync(n: int) -> int:
        with scope():
            t0 = time.perf_counter_ns()
            for _ in range(n):
                call()
            return time.perf_counter_ns() - t0

    async def aloop(n: int) -> int:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            await acall()
        return time.perf_counter_ns() - t0

    loop = asyncio.new_event_loop()

    def asyn(n: int) -> int:
        with scope():
            return loop.run_until_complete(aloop(n))

    return sync, asyn


def spyglass_timers() -> tuple[Timer, Timer]:
    import spyglass

    spyglass.init(endpoint=SINK, service_name="bench")
    kw = dict(model=MODEL, provider="openai", prompt_name="answer", prompt_version="v3")

    @spyglass.llm(**kw)
    def call() -> None:
        spyglass.current_span().set_usage(input_tokens=120, output_tokens=30)

    @spyglass.llm(**kw)
    async def acall() -> None:
        spyglass.current_span().set_usage(input_tokens=120, output_tokens=30)

    return timers(call, acall, lambda: spyglass.cohort(tenant="acme", workflow="support"))


def langfuse_timers() -> tuple[Timer, Timer]:
    from langfuse import Langfuse, observe, propagate_attributes

    client = Langfuse(public_key="pk-lf-bench", secret_key="sk-lf-bench", host=SINK)
    usage = {"input": 120, "output": 30}
    meta = {"prompt_name": "answer", "prompt_version": "v3"}

    @observe(as_type="generation", name=f"chat {MODEL}")
    def call() -> None:
        client.update_current_generation(model=MODEL, usage_details=usage, metadata=meta)

    @observe(as_type="generation", name=f"chat {MODEL}")
    async def acall() -> None:
        client.update_current_generation(model=MODEL, usage_details=usage, metadata=meta)

    return timers(call, acall, lambda: propagate_attributes(metadata={"tenant": "acme"}))


def traceloop_timers() -> tuple[Timer, Timer]:
    from opentelemetry import trace
    from traceloop.sdk import Traceloop
    from traceloop.sdk.decorators import task

    Traceloop.init(app_name="bench", api_endpoint=SINK, telemetry_enabled=False)
    attrs = {**START_ATTRS, **TOKENS}

    @task(name=f"chat {MODEL}")
    def call() -> None:
        trace.get_current_span().set_attributes(attrs)

    @task(name=f"chat {MODEL}")
    async def acall() -> None:
        trace.get_current_span().set_attributes(attrs)

    @contextlib.contextmanager
    def scope() -> Any:
        Traceloop.set_association_properties({"tenant_id": "acme", "workflow": "support"})
        yield

    return timers(call, acall, scope)


SDKS = {"spyglass": spyglass_timers, "langfuse": langfuse_timers, "traceloop": traceloop_timers}
PACKAGES = {"spyglass": "spyglass", "langfuse": "langfuse", "traceloop": "traceloop-sdk"}


def sink(port: int) -> None:
    """A stand-in collector: 200 and an empty body for every POST, the body read and dropped."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def child(sdk: str, iterations: int, rounds: int, chunk: int) -> None:
    """Measures one SDK against the baseline in this process; prints one JSON line."""
    base_sync, base_async = baseline()
    cand_sync, cand_async = SDKS[sdk]()
    out = {"sdk": sdk, "version": md.version(PACKAGES[sdk])}
    for case, base, cand in (("sync", base_sync, cand_sync), ("async", base_async, cand_async)):
        base(500), cand(500)  # warm-up
        b_us, c_us, ratios = [], [], []
        for r in range(rounds):
            gc.collect()
            tot = {base: 0, cand: 0}
            for k in range(max(1, iterations // chunk)):
                for fn in (base, cand) if (k + r) % 2 == 0 else (cand, base):
                    tot[fn] += fn(chunk)
            calls = max(1, iterations // chunk) * chunk
            b_us.append(tot[base] / calls / 1000)
            c_us.append(tot[cand] / calls / 1000)
            ratios.append(tot[cand] / tot[base])
        med = statistics.median
        out[case] = {"base_us": med(b_us), "sdk_us": med(c_us), "ratio": med(ratios)}
    print(json.dumps(out), flush=True)
    os._exit(0)  # skip the SDKs' exit hooks (their final flushes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 rounds of 2,000 calls")
    ap.add_argument("--sdk", default=",".join(SDKS))
    ap.add_argument("--iterations", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.iterations, args.rounds = 2000, 3
    if args.child:
        child(args.child, args.iterations, args.rounds, args.chunk)
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = multiprocessing.Process(target=sink, args=(port,), daemon=True)
    server.start()
    results, rows = [], []
    for sdk in args.sdk.split(","):
        print(f"{sdk}: {args.rounds} rounds x {args.iterations} calls per side ...", flush=True)
        cmd = [sys.executable, __file__, "--child", sdk, "--iterations", str(args.iterations)]
        cmd += ["--rounds", str(args.rounds), "--chunk", str(args.chunk)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SPYGLASS_", "LANGFUSE_"))}
        env["BENCH_SINK"] = f"http://127.0.0.1:{port}"
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
        line = next((x for x in reversed(done.stdout.splitlines()) if x.startswith("{")), None)
        if line is None:
            why = (done.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"  {sdk} failed: {why}", flush=True)
            rows.append({"item": "1 SDK peers", "figure": f"{sdk} decorator", "value": f"did not run: {why}"})
            continue
        res = json.loads(line)
        results.append(res)
        for case in ("sync", "async"):
            f = res[case]
            print(f"  {case:5} bare {f['base_us']:7.2f} µs  {sdk} {f['sdk_us']:7.2f} µs  {f['ratio']:.2f}x")
            rows.append(
                {
                    "item": "1 SDK peers",
                    "figure": f"{sdk} {res['version']} decorated llm call, {case}",
                    "value": f"{f['sdk_us']:.2f} µs",
                    "target": "≤ 1.3x bare OTel" if sdk == "spyglass" else "",
                    "baseline": f"{f['base_us']:.2f} µs bare OTel",
                    "ratio": f"{f['ratio']:.2f}x",
                    "met": f["ratio"] <= 1.3 if sdk == "spyglass" else None,
                }
            )
    server.terminate()
    print(json.dumps({"rows": rows, "results": results}))


if __name__ == "__main__":
    main()
