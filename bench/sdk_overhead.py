"""Spyglass SDK overhead per decorated call, against a bare OpenTelemetry span.

Both sides use ONE opentelemetry-sdk TracerProvider whose processors are spyglass's
CohortProcessor and a processor whose on_end does nothing (or, with --processor bounded,
spyglass's BoundedExportProcessor around an exporter that discards), so the comparison
isolates the Spyglass wrapper: factory/decorator, context attach/detach, handle objects,
guards. The baseline is ``tracer.start_as_current_span(name, attributes=SAME_ATTRS)`` with
exactly the attributes the spyglass llm span starts with.

Pairs (baseline vs candidate); in each round each side makes --iterations calls, alternating
ABAB in chunks of --chunk calls; figures are medians over rounds:
  a  decorated sync function (empty body)     vs  with start_as_current_span: pass
  b  with factory as call: (factory made once) vs  with start_as_current_span: pass
  c  awaited decorated async function          vs  async def with start_as_current_span
  d1 decorator + spyglass.current_span().set_usage(120, 30)
                                               vs  start_as_current_span + span.set_attributes(2 tokens)
  d2 with factory as call: call.set_usage(120, 30)  vs  the same baseline as d1

Informational rows (no target): the bare loop; LLMSpan.set_usage alone vs span.set_attributes
alone on an open span; what CohortProcessor (on both sides above) costs a bare span.

Usage: .venv/bin/python bench/sdk_overhead.py [--iterations 20000] [--rounds 15]
       [--processor noop|bounded] [--cohort]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.metadata as md
import os
import platform
import statistics
import sys
import time

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

import spyglass
from spyglass import attributes as A
from spyglass._processors import BoundedExportProcessor, CohortProcessor
from spyglass._state import state

TARGET = 1.3
MODEL = "gpt-4o-mini"
SPAN_NAME = f"chat {MODEL}"
LLM_KW = dict(model=MODEL, provider="openai", prompt_name="answer", prompt_version="v3")

# The attributes a spyglass.llm(**LLM_KW) span starts with (checked against the factory below).
SAME_ATTRS = {
    A.SPAN_KIND: "llm",
    A.GEN_AI_OPERATION_NAME: "chat",
    A.GEN_AI_REQUEST_MODEL: MODEL,
    A.GEN_AI_PROVIDER_NAME: "openai",
    A.PROMPT_NAME: "answer",
    A.PROMPT_VERSION: "v3",
    A.LLM_ENDPOINT_TYPE: "live",
}
USAGE_ATTRS = {A.GEN_AI_USAGE_INPUT_TOKENS: 120, A.GEN_AI_USAGE_OUTPUT_TOKENS: 30}


class NoopProcessor(SpanProcessor):
    def on_start(self, span, parent_context=None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        pass


class DiscardExporter(SpanExporter):
    def export(self, spans) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def build_provider(kind: str, cohort: bool = True) -> TracerProvider:
    provider = TracerProvider()
    if cohort:
        provider.add_span_processor(CohortProcessor())
    if kind == "bounded":
        # Large queue so nothing is dropped during a round; the worker thread exports to nowhere.
        provider.add_span_processor(
            BoundedExportProcessor(DiscardExporter(), max_queue_size=65536, schedule_delay_millis=200)
        )
    else:
        provider.add_span_processor(NoopProcessor())
    return provider


# --- the measured loops: each returns elapsed ns for n calls -----------------------------------
def make_cases(tracer, bare_tracer):
    factory = spyglass.llm(**LLM_KW)
    assert factory._attributes == SAME_ATTRS, (factory._attributes, SAME_ATTRS)
    assert factory._name == SPAN_NAME

    @spyglass.llm(**LLM_KW)
    def decorated() -> None:
        pass

    @spyglass.llm(**LLM_KW)
    def decorated_usage() -> None:
        spyglass.current_span().set_usage(input_tokens=120, output_tokens=30)

    @spyglass.llm(**LLM_KW)
    async def decorated_async() -> None:
        pass

    def bare_fn() -> None:
        with tracer.start_as_current_span(SPAN_NAME, attributes=SAME_ATTRS):
            pass

    async def bare_async() -> None:
        with tracer.start_as_current_span(SPAN_NAME, attributes=SAME_ATTRS):
            pass

    def empty() -> None:
        pass

    pc = time.perf_counter_ns

    def loop_empty(n: int) -> int:
        t0 = pc()
        for _ in range(n):
            empty()
        return pc() - t0

    def loop_bare(n: int) -> int:
        t0 = pc()
        for _ in range(n):
            with tracer.start_as_current_span(SPAN_NAME, attributes=SAME_ATTRS):
                pass
        return pc() - t0

    def loop_bare_no_cohort(n: int) -> int:
        t0 = pc()
        for _ in range(n):
            with bare_tracer.start_as_current_span(SPAN_NAME, attributes=SAME_ATTRS):
                pass
        return pc() - t0

    def loop_bare_fn(n: int) -> int:  # baseline for the decorator: a plain function call + span
        t0 = pc()
        for _ in range(n):
            bare_fn()
        return pc() - t0

    def loop_decorated(n: int) -> int:
        t0 = pc()
        for _ in range(n):
            decorated()
        return pc() - t0

    def loop_with(n: int) -> int:
        t0 = pc()
        for _ in range(n):
            with factory as call:  # noqa: F841
                pass
        return pc() - t0

    def loop_bare_usage(n: int) -> int:
        t0 = pc()
        for _ in range(n):
            with tracer.start_as_current_span(SPAN_NAME, attributes=SAME_ATTRS) as span:
                span.set_attributes(USAGE_ATTRS)
        return pc() - t0

    def loop_decorated_usage(n: int) -> int:
        t0 = pc()
        for _ in range(n):
            decorated_usage()
        return pc() - t0

    def loop_with_usage(n: int) -> int:
        t0 = pc()
        for _ in range(n):
            with factory as call:
                call.set_usage(input_tokens=120, output_tokens=30)
        return pc() - t0

    open_span = tracer.start_span(SPAN_NAME, attributes=SAME_ATTRS)
    open_handle = spyglass.LLMSpan(open_span)

    def loop_set_attrs(n: int) -> int:
        t0 = pc()
        for _ in range(n):
            open_span.set_attributes(USAGE_ATTRS)
        return pc() - t0

    def loop_set_usage(n: int) -> int:
        t0 = pc()
        for _ in range(n):
            open_handle.set_usage(input_tokens=120, output_tokens=30)
        return pc() - t0

    async def _aloop(fn, n: int) -> int:
        t0 = pc()
        for _ in range(n):
            await fn()
        return pc() - t0

    def loop_bare_async(n: int) -> int:
        return asyncio.run(_aloop(bare_async, n))  # timed inside: asyncio.run setup excluded

    def loop_decorated_async(n: int) -> int:
        return asyncio.run(_aloop(decorated_async, n))

    # (label, baseline label, baseline loop, candidate loop)
    pairs = [
        ("a  @llm decorated sync fn", "fn + start_as_current_span", loop_bare_fn, loop_decorated),
        ("b  with factory as call", "with start_as_current_span", loop_bare, loop_with),
        (
            "c  @llm async fn, awaited",
            "async fn + start_as_current_span",
            loop_bare_async,
            loop_decorated_async,
        ),
        (
            "d1 @llm + current_span().set_usage",
            "span + set_attributes(2)",
            loop_bare_usage,
            loop_decorated_usage,
        ),
        ("d2 with factory: call.set_usage", "span + set_attributes(2)", loop_bare_usage, loop_with_usage),
        # informational: the handle method alone, on a span that stays open
        ("e  call.set_usage(120, 30) alone", "span.set_attributes(2) alone", loop_set_attrs, loop_set_usage),
        # informational: what the CohortProcessor (present on both sides above) costs a bare span
        (
            "i  bare span WITH CohortProcessor",
            "bare span, no CohortProcessor",
            loop_bare_no_cohort,
            loop_bare,
        ),
    ]
    return pairs, loop_empty


def check_spans_equal(provider: TracerProvider, tracer) -> None:
    """Both sides really produce the same span (name, attributes, parentage)."""
    seen: list[ReadableSpan] = []

    class Grab(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            seen.append(span)

    grab = Grab()
    provider.add_span_processor(grab)
    with tracer.start_as_current_span(SPAN_NAME, attributes=SAME_ATTRS):
        pass
    with spyglass.llm(**LLM_KW):
        pass
    # remove our grabber again (private API of the SDK's multi-processor)
    procs = provider._active_span_processor._span_processors
    provider._active_span_processor._span_processors = tuple(p for p in procs if p is not grab)
    base, cand = seen
    assert base.name == cand.name, (base.name, cand.name)
    assert dict(base.attributes) == dict(cand.attributes), (base.attributes, cand.attributes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=20_000, help="calls per timed block")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument(
        "--chunk",
        type=int,
        default=1000,
        help="calls per alternation inside a round (ABAB at this granularity)",
    )
    ap.add_argument(
        "--processor",
        choices=("noop", "bounded"),
        default="noop",
        help="noop: on_end does nothing; bounded: BoundedExportProcessor + discarding exporter",
    )
    ap.add_argument(
        "--cohort",
        action="store_true",
        help="run every loop inside spyglass.cohort(tenant=..., workflow=...)",
    )
    args = ap.parse_args()

    print(
        "Spyglass SDK overhead: µs per call of a spyglass llm span vs a bare OpenTelemetry span "
        "with the same attributes, same TracerProvider/processors on both sides."
    )
    print(f"machine: {platform.platform()}, {platform.machine()}, os.cpu_count()={os.cpu_count()}")
    print(
        f"python {sys.version.split()[0]} ({platform.python_implementation()}), "
        f"opentelemetry-sdk {md.version('opentelemetry-sdk')}, opentelemetry-api "
        f"{md.version('opentelemetry-api')}, spyglass {spyglass.__version__}"
    )
    print(
        f"processors: CohortProcessor + {args.processor}; cohort active: {args.cohort}; "
        f"{args.iterations} calls per side per round x {args.rounds} rounds, ABAB in chunks of "
        f"{args.chunk} calls"
    )
    os.environ.pop("SPYGLASS_RAISE_INTERNAL_ERRORS", None)

    provider = build_provider(args.processor)
    tracer = provider.get_tracer("spyglass")
    state.tracer = tracer
    bare_provider = build_provider(args.processor, cohort=False)
    bare_tracer = bare_provider.get_tracer("spyglass")
    check_spans_equal(provider, tracer)

    pairs, loop_empty = make_cases(tracer, bare_tracer)
    n, rounds = args.iterations, args.rounds

    cohort_cm = (
        spyglass.cohort(tenant="acme", workflow="support", release="2026.11.2") if args.cohort else None
    )
    if cohort_cm is not None:
        cohort_cm.__enter__()

    # warm-up
    for _label, _bl, base, cand in pairs:
        base(2000)
        cand(2000)

    base_ns: dict[str, list[float]] = {p[0]: [] for p in pairs}
    cand_ns: dict[str, list[float]] = {p[0]: [] for p in pairs}
    ratios: dict[str, list[float]] = {p[0]: [] for p in pairs}
    empty_ns: list[float] = []
    t_start = time.perf_counter()
    chunk = max(1, min(args.chunk, n))
    n_chunks = max(1, n // chunk)
    for r in range(rounds):
        for label, _bl, base, cand in pairs:
            # ABAB at chunk granularity inside the round, so slow drifts of a shared machine hit
            # both sides alike; the side that goes first alternates chunk by chunk.
            gc.collect()
            tot = {base: 0, cand: 0}
            for k in range(n_chunks):
                for fn in (base, cand) if (k + r) % 2 == 0 else (cand, base):
                    tot[fn] += fn(chunk)
            calls = n_chunks * chunk
            base_ns[label].append(tot[base] / calls)
            cand_ns[label].append(tot[cand] / calls)
            ratios[label].append(tot[cand] / tot[base])
        empty_ns.append(loop_empty(n) / n)
        elapsed = time.perf_counter() - t_start
        print(
            f"  round {r + 1}/{rounds} done ({elapsed:.1f} s; a ratio this round "
            f"{ratios[pairs[0][0]][-1]:.2f}x)",
            flush=True,
        )

    if cohort_cm is not None:
        cohort_cm.__exit__(None, None, None)
    provider.shutdown()
    bare_provider.shutdown()

    med = statistics.median
    print()
    print(
        f"{'case':38} {'baseline':32} {'base µs':>8} {'spyglass µs':>11} {'ratio':>6} "
        f"{'paired':>7} {'target':>7}"
    )
    print("-" * 116)
    for label, blabel, _b, _c in pairs:
        b, c = med(base_ns[label]) / 1000, med(cand_ns[label]) / 1000
        paired = med(ratios[label])
        info = label.startswith(("i ", "e "))
        verdict = "" if info else ("ok" if paired <= TARGET else "MISS")
        print(f"{label:38} {blabel:32} {b:8.2f} {c:11.2f} {c / b:5.2f}x {paired:6.2f}x {verdict:>7}")
    print("-" * 116)
    print(
        f"bare loop + empty function call: {med(empty_ns) / 1000:.3f} µs per iteration (included in all rows)"
    )
    print(
        f"target <= {TARGET}x  (ratio = median spyglass / median baseline; paired = median of "
        "per-round ratios)"
    )
    spread = {lbl: (min(v), max(v)) for lbl, v in ratios.items()}
    print(
        "per-round ratio range: "
        + ", ".join(f"{lbl.split()[0]} {lo:.2f}-{hi:.2f}" for lbl, (lo, hi) in spread.items())
    )


if __name__ == "__main__":
    main()
