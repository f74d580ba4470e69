"""Issue 9, item 1: µs added per decorated call by the Spyglass SDK, against a bare
OpenTelemetry span with the same attributes; sync and async; content capture off and on.

The call: an LLM span with model, provider, prompt name and version, 120/30 tokens, the IDs of
the 5 documents the prompt was built from, and the request's cohort (tenant, workflow,
release). With capture on it also records the prompt (~1.6 KB of policy passages with dates,
amounts, order numbers and an IP address, different on every call) and the answer (~0.5 KB),
redacted by the built-in detectors (nothing in this text is a secret, so nothing is replaced
and both sides export the same bytes). The prompts share their context (instructions and
passages, ~1.45 KB) and differ in the question after it (~130 characters), as a RAG prompt
does: the redactor scans that context once and then finds it in its cache, so each call scans
the question. ``sync_capture_on_unseen`` gives every prompt a different number inside each
passage, so no line of it was seen before and the whole prompt is scanned on every call.

Spyglass: ``@spyglass.llm(model=, provider=, prompt_name=, prompt_version=)`` on a function
whose body is ``call = spyglass.current_span()``, ``call.set_attribute(document_ids)``,
``call.set_usage(120, 30)``, ``call.set_input(prompt)``, ``call.set_output(answer)``, inside
``spyglass.cohort(...)``; its TracerProvider is built as ``spyglass.init`` builds it
(CohortProcessor + BoundedExportProcessor).
Bare: a function whose body is ``with tracer.start_as_current_span(name, attributes=...)``
with the same model, prompt and cohort attributes, then ``span.set_attribute(document_ids)``,
``span.set_attributes(tokens)`` and, with capture on, the prompt and answer serialized as the
GenAI message JSON Spyglass writes; its provider has a plain BatchSpanProcessor.
Both export to an exporter that discards (no network); the caller's thread is what is timed.

Each round makes --iterations calls per side per case, alternating sides in chunks of --chunk
calls (ABAB, the side going first alternating), so a shared machine's drift hits both alike.
Figures are medians over rounds; the ratio is the median of the per-round ratios.
The last line of output is JSON: {"cases": {name: {"bare_us", "spyglass_us", "ratio",
"added_us"}}}.

    .venv/bin/python bench/sdk_overhead.py [--iterations 4000] [--rounds 9] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import importlib.metadata as md
import json
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import spyglass
from spyglass import attributes as A
from spyglass._processors import BoundedExportProcessor, CohortProcessor
from spyglass._state import state

TARGET = 1.3
MODEL = "gpt-4o-mini"
SPAN_NAME = f"chat {MODEL}"
LLM_KW = dict(model=MODEL, provider="openai", prompt_name="answer", prompt_version="v3")
COHORT = dict(tenant="acme", workflow="support", release="2026.11.2")
DOC_IDS = ["kb-1042", "kb-0077", "kb-2210", "kb-0913", "kb-1500"]
TOKENS = {A.GEN_AI_USAGE_INPUT_TOKENS: 120, A.GEN_AI_USAGE_OUTPUT_TOKENS: 30}
# What the spyglass span starts with (checked against the real spans before timing).
START_ATTRS = {
    A.SPAN_KIND: "llm",
    A.GEN_AI_OPERATION_NAME: "chat",
    A.GEN_AI_REQUEST_MODEL: MODEL,
    A.GEN_AI_PROVIDER_NAME: "openai",
    A.PROMPT_NAME: "answer",
    A.PROMPT_VERSION: "v3",
    A.LLM_ENDPOINT_TYPE: "live",
    A.COHORT_TENANT: "acme",
    A.COHORT_WORKFLOW: "support",
    A.COHORT_RELEASE: "2026.11.2",
}

PASSAGE = (
    "Refund policy (revision 2024-03-01, v2.4.1): orders placed on or after 15.01.2024 can be "
    "refunded within 30 days of delivery. Items over $1,200.00 need a manager's approval; "
    "order numbers look like 1234567812345678 and appear on the invoice. Shipping fees of 4.99 "
    "are not refunded. Our warehouse at 10.0.0.12 processes returns Monday to Friday. "
)
ANSWER = (
    "Yes. Your order from 2024-11-02 is within the 30-day window, so you can return the blender "
    "for a full refund. Refunds reach your account 5-10 business days after we receive it. "
) * 3
N_TEXTS = 4096  # distinct prompts, cycled: more than the redactor's cache holds (512 strings)
position = [0]  # the index of the next prompt: both sides walk the same texts


def prompts(n: int = N_TEXTS) -> list[str]:
    """Distinct ~1.6 KB prompts: the same policy context, a different question each."""
    head = "You are a support assistant for Acme. Answer briefly and cite the policy.\n\n" + PASSAGE * 4
    return [
        f"{head}\nCustomer question #{i}: I ordered a blender on 2024-11-02 and it arrived broken. "
        "Can I get my money back, and how long will it take?"
        for i in range(n)
    ]


def unseen_prompts(n: int = N_TEXTS) -> list[str]:
    """The same prompts, each with a different ticket number in every passage: no line of
    one is in any other, so the redactor's cache never helps (content it has never seen)."""
    return [p.replace("Shipping fees", f"Ticket {i}. Shipping fees") for i, p in enumerate(prompts(n))]


def messages(text: str, role: str) -> str:
    """The GenAI message JSON Spyglass writes for a plain-string prompt or answer."""
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}], ensure_ascii=False)


class DiscardExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def providers() -> tuple[TracerProvider, TracerProvider]:
    """(spyglass's, as ``spyglass.init`` builds it; the bare baseline's)."""
    ours = TracerProvider()
    ours.add_span_processor(CohortProcessor())
    ours.add_span_processor(BoundedExportProcessor(DiscardExporter(), max_queue_size=65536))
    bare = TracerProvider()
    bare.add_span_processor(BatchSpanProcessor(DiscardExporter(), max_queue_size=65536))
    return ours, bare


Loop = Callable[[int], int]  # n calls -> nanoseconds


def make_cases(bare_tracer: Any, texts: list[str], unseen: list[str]) -> dict[str, tuple[Loop, Loop]]:
    """name -> (bare loop, spyglass loop); each loop makes n calls and returns elapsed ns."""
    pc = time.perf_counter_ns
    n_texts = len(texts)
    assert len(unseen) == n_texts

    @spyglass.llm(**LLM_KW)  # type: ignore[arg-type]
    def ours(prompt: str, answer: str) -> None:
        call = spyglass.current_span()
        call.set_attribute(A.RETRIEVAL_DOCUMENT_IDS, DOC_IDS)
        call.set_usage(input_tokens=120, output_tokens=30)
        call.set_input(prompt)  # nothing when capture is off
        call.set_output(answer)

    @spyglass.llm(**LLM_KW)  # type: ignore[arg-type]
    async def ours_async(prompt: str, answer: str) -> None:
        call = spyglass.current_span()
        call.set_attribute(A.RETRIEVAL_DOCUMENT_IDS, DOC_IDS)
        call.set_usage(input_tokens=120, output_tokens=30)
        call.set_input(prompt)
        call.set_output(answer)

    def bare_body(span: Any, prompt: str, answer: str, capture: bool) -> None:
        span.set_attribute(A.RETRIEVAL_DOCUMENT_IDS, DOC_IDS)
        span.set_attributes(TOKENS)
        if capture:
            span.set_attribute(A.GEN_AI_INPUT_MESSAGES, messages(prompt, "user"))
            span.set_attribute(A.GEN_AI_OUTPUT_MESSAGES, messages(answer, "assistant"))

    def bare(prompt: str, answer: str, capture: bool) -> None:
        with bare_tracer.start_as_current_span(SPAN_NAME, attributes=START_ATTRS) as span:
            bare_body(span, prompt, answer, capture)

    async def bare_async(prompt: str, answer: str, capture: bool) -> None:
        with bare_tracer.start_as_current_span(SPAN_NAME, attributes=START_ATTRS) as span:
            bare_body(span, prompt, answer, capture)

    def sync_loops(capture: bool, texts: list[str] = texts) -> tuple[Loop, Loop]:
        def loop_bare(n: int) -> int:
            i = position[0]
            t0 = pc()
            for k in range(i, i + n):
                bare(texts[k % n_texts], ANSWER, capture)
            elapsed = pc() - t0
            position[0] = i + n
            return elapsed

        def loop_ours(n: int) -> int:
            state.capture_content = capture
            i = position[0]
            t0 = pc()
            for k in range(i, i + n):
                ours(texts[k % n_texts], ANSWER)
            elapsed = pc() - t0
            position[0] = i + n
            return elapsed

        return loop_bare, loop_ours

    def async_loops(capture: bool) -> tuple[Loop, Loop]:
        async def timed(fn: Callable[..., Any], n: int, *extra: bool) -> int:
            i = position[0]
            t0 = pc()
            for k in range(i, i + n):
                await fn(texts[k % n_texts], ANSWER, *extra)
            elapsed = pc() - t0
            position[0] = i + n
            return elapsed

        def loop_bare(n: int) -> int:
            return asyncio.run(timed(bare_async, n, capture))  # loop setup is not timed

        def loop_ours(n: int) -> int:
            state.capture_content = capture
            return asyncio.run(timed(ours_async, n))

        return loop_bare, loop_ours

    return {
        "sync_capture_off": sync_loops(False),
        "async_capture_off": async_loops(False),
        "sync_capture_on": sync_loops(True),
        "async_capture_on": async_loops(True),
        "sync_capture_on_unseen": sync_loops(True, unseen),
    }


def check_same_spans(ours: TracerProvider, bare: TracerProvider, cases: dict[str, tuple[Loop, Loop]]) -> None:
    """Both sides export the same span (name and every attribute) in every case."""
    seen: dict[str, list[ReadableSpan]] = {"bare": [], "ours": []}

    class Grab(SpanProcessor):
        def __init__(self, side: str) -> None:
            self.side = side

        def on_end(self, span: ReadableSpan) -> None:
            seen[self.side].append(span)

    ours.add_span_processor(Grab("ours"))
    bare.add_span_processor(Grab("bare"))
    for name, (loop_bare, loop_ours) in cases.items():
        loop_bare(1)
        position[0] -= 1  # the same prompt on both sides
        loop_ours(1)
        b, o = seen["bare"].pop(), seen["ours"].pop()
        assert b.name == o.name, (name, b.name, o.name)
        assert dict(b.attributes or {}) == dict(o.attributes or {}), (name, b.attributes, o.attributes)
        assert (A.GEN_AI_INPUT_MESSAGES in (o.attributes or {})) == ("_on" in name), name
    for provider in (ours, bare):  # drop the grabbers again (the SDK's private tuple)
        multi = provider._active_span_processor
        multi._span_processors = tuple(p for p in multi._span_processors if not isinstance(p, Grab))


def measure(
    cases: dict[str, tuple[Loop, Loop]], n: int, rounds: int, chunk: int
) -> dict[str, dict[str, float]]:
    per: dict[str, dict[str, list[float]]] = {c: {"bare": [], "ours": [], "ratio": []} for c in cases}
    chunk = max(1, min(chunk, n))
    started = time.perf_counter()
    for r in range(rounds):
        for name, (loop_bare, loop_ours) in cases.items():
            gc.collect()
            total = {"bare": 0, "ours": 0}
            for k in range(n // chunk):
                order = (("bare", loop_bare), ("ours", loop_ours))
                for side, loop in order if (k + r) % 2 == 0 else order[::-1]:
                    total[side] += loop(chunk)
            calls = (n // chunk) * chunk
            per[name]["bare"].append(total["bare"] / calls / 1000)
            per[name]["ours"].append(total["ours"] / calls / 1000)
            per[name]["ratio"].append(total["ours"] / total["bare"])
        print(f"  round {r + 1}/{rounds} done ({time.perf_counter() - started:.1f} s)", flush=True)
    med = statistics.median
    return {
        name: {
            "bare_us": round(med(v["bare"]), 2),
            "spyglass_us": round(med(v["ours"]), 2),
            "ratio": round(med(v["ratio"]), 3),
            "added_us": round(med(v["ours"]) - med(v["bare"]), 2),
            "ratio_min": round(min(v["ratio"]), 3),
            "ratio_max": round(max(v["ratio"]), 3),
        }
        for name, v in per.items()
    }


def profile(loop: Loop, n: int) -> None:
    """Where a spyglass call's time goes (cProfile inflates Python frames; read the order)."""
    prof = cProfile.Profile()
    prof.runcall(loop, n)
    print()
    pstats.Stats(prof).sort_stats("tottime").print_stats(18)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=4000, help="calls per side per case per round")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--chunk", type=int, default=500, help="calls per side before switching sides")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of each spyglass case")
    args = ap.parse_args()
    os.environ.pop("SPYGLASS_RAISE_INTERNAL_ERRORS", None)

    texts = prompts()
    print("Spyglass SDK overhead per decorated LLM call vs a bare OpenTelemetry span (issue 9, item 1)")
    print(f"machine: {platform.platform()}, os.cpu_count()={os.cpu_count()}")
    print(
        f"python {sys.version.split()[0]}, opentelemetry-sdk {md.version('opentelemetry-sdk')}, "
        f"spyglass {spyglass.__version__}; capture-on content: prompt {len(texts[0])} chars "
        f"({N_TEXTS} distinct), answer {len(ANSWER)} chars"
    )
    print(
        f"{args.iterations} calls per side per case x {args.rounds} rounds, sides alternating every "
        f"{args.chunk} calls"
    )
    ours, bare = providers()
    state.tracer = ours.get_tracer("spyglass")
    saved_capture = state.capture_content
    with spyglass.cohort(**COHORT):
        cases = make_cases(bare.get_tracer("bench"), texts, unseen_prompts())
        check_same_spans(ours, bare, cases)
        for loop_bare, loop_ours in cases.values():  # warm-up
            loop_bare(300)
            loop_ours(300)
        results = measure(cases, args.iterations, args.rounds, args.chunk)
        if args.profile:
            for name, (_, loop_ours) in cases.items():
                print(f"\nprofile: spyglass, {name}")
                profile(loop_ours, 2000)
    state.capture_content = saved_capture
    ours.shutdown()
    bare.shutdown()

    print()
    head = f"{'case':20} {'bare µs':>9} {'spyglass µs':>12} {'added µs':>9} {'ratio':>7} {'range':>12}"
    print(f"{head} {'target':>7}")
    print("-" * 82)
    for name, r in results.items():
        verdict = "ok" if r["ratio"] <= TARGET else "MISS"
        spread = f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f}"
        print(
            f"{name:20} {r['bare_us']:9.2f} {r['spyglass_us']:12.2f} {r['added_us']:9.2f} "
            f"{r['ratio']:6.2f}x {spread:>12} {verdict:>7}"
        )
    print("-" * 82)
    print(f"target: spyglass <= {TARGET}x bare (ratio: median of per-round paired ratios; range: min-max)")
    print(json.dumps({"cases": results}))


if __name__ == "__main__":
    main()
