"""SDK cost per call with content capture on (redaction running), against a bare OpenTelemetry
span that sets the same content unredacted.

Both sides use ONE opentelemetry-sdk TracerProvider with spyglass's CohortProcessor and a
processor whose on_end does nothing, so the comparison isolates the SDK's content path:
capture check, redaction of every string (built-in detectors), JSON serialization, count
attributes. Baseline: ``tracer.start_as_current_span(name, attributes=SAME)`` then
``span.set_attribute`` of the already-serialized content (what hand-written OTel code does).

Pairs (baseline vs candidate), ABAB in chunks, medians over rounds:
  off   capture off: set_input/set_output do nothing      vs bare span, no content
  clean capture on, a ~1.6 KB prompt and answer, nothing to redact
  pii   capture on, the same with an email, a phone, a card number and an API key
  tool  capture on, tool arguments (a dict) and result
Informational: ``Redactor.redact`` alone on 200 B, 2 KB and 20 KB of text, µs per call.

Usage: .venv/bin/python bench/sdk_redaction.py [--iterations 2000] [--rounds 9]
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata as md
import json
import os
import platform
import statistics
import sys
import time

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

import spyglass
from spyglass import attributes as A
from spyglass._processors import CohortProcessor
from spyglass._state import state

MODEL = "gpt-4o-mini"
LLM_KW = dict(model=MODEL, provider="openai", prompt_name="answer", prompt_version="v3")
SAME = {
    A.SPAN_KIND: "llm",
    A.GEN_AI_OPERATION_NAME: "chat",
    A.GEN_AI_REQUEST_MODEL: MODEL,
    A.GEN_AI_PROVIDER_NAME: "openai",
    A.PROMPT_NAME: "answer",
    A.PROMPT_VERSION: "v3",
    A.LLM_ENDPOINT_TYPE: "live",
}
PASSAGE = (
    "Refund policy (revision 2024-03-01, v2.4.1): orders placed on or after 15.01.2024 can be "
    "refunded within 30 days of delivery. Items over $1,200.00 need a manager's approval; "
    "order numbers look like 1234567812345678 and appear on the invoice. Shipping fees of 4.99 "
    "are not refunded. Our warehouse at 10.0.0.12 processes returns Monday to Friday. "
)
PROMPT_CLEAN = (
    "You are a support assistant for Acme. Answer briefly and cite the policy.\n\n"
    + PASSAGE * 4
    + "\nCustomer question: I ordered a blender on 2024-11-02 and it arrived broken. Can I get "
    "my money back, and how long will it take?"
)
ANSWER_CLEAN = (
    "Yes. Your order from 2024-11-02 is within the 30-day window, so you can return the blender "
    "for a full refund. Refunds reach your account 5-10 business days after we receive it. "
) * 3
PII = (
    " My email is jane.doe@example.com, call me on +44 20 7946 0958, the card was "
    "4111 1111 1111 1111 and our integration key is sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z."
)
PROMPT_PII = PROMPT_CLEAN + PII
ANSWER_PII = ANSWER_CLEAN + " I have noted jane.doe@example.com for the confirmation."
TOOL_ARGS = {"order_id": "1234567812345678", "reason": "arrived broken", "amount": 89.99, "notify": True}
TOOL_RESULT = {"status": "refund_created", "refund_id": "rf_7Hq2", "eta_days": 7}


class NoopProcessor(SpanProcessor):
    def on_end(self, span: ReadableSpan) -> None:
        pass


def messages(text: str, role: str) -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}], ensure_ascii=False)


def make_pairs(tracer):
    pc = time.perf_counter_ns
    factory = spyglass.llm(**LLM_KW)
    tool_factory = spyglass.tool("issue_refund")
    name = f"chat {MODEL}"

    def bare(prompt: str | None, answer: str | None):
        def loop(n: int) -> int:
            t0 = pc()
            for _ in range(n):
                with tracer.start_as_current_span(name, attributes=SAME) as span:
                    if prompt is not None and answer is not None:
                        # serialized per call, as the application's own code would
                        span.set_attribute(A.GEN_AI_INPUT_MESSAGES, messages(prompt, "user"))
                        span.set_attribute(A.GEN_AI_OUTPUT_MESSAGES, messages(answer, "assistant"))
            return pc() - t0

        return loop

    def ours(prompt: str, answer: str, capture: bool):
        def loop(n: int) -> int:
            state.capture_content = capture
            t0 = pc()
            for _ in range(n):
                with factory as call:
                    call.set_input(prompt)
                    call.set_output(answer)
            return pc() - t0

        return loop

    def bare_tool(n: int) -> int:
        t0 = pc()
        for _ in range(n):
            with tracer.start_as_current_span("execute_tool issue_refund") as span:
                span.set_attribute(A.GEN_AI_TOOL_CALL_ARGUMENTS, json.dumps(TOOL_ARGS, default=str))
                span.set_attribute(A.GEN_AI_TOOL_CALL_RESULT, json.dumps(TOOL_RESULT, default=str))
        return pc() - t0

    def ours_tool(n: int) -> int:
        state.capture_content = True
        t0 = pc()
        for _ in range(n):
            with tool_factory as t:
                t.set_arguments(TOOL_ARGS)
                t.set_result(TOOL_RESULT)
        return pc() - t0

    return [
        ("off   capture off", "bare span, no content", bare(None, None), ours(PROMPT_PII, ANSWER_PII, False)),
        (
            "clean capture on, nothing found",
            "bare span + 2 content attrs",
            bare(PROMPT_CLEAN, ANSWER_CLEAN),
            ours(PROMPT_CLEAN, ANSWER_CLEAN, True),
        ),
        (
            "pii   capture on, 5 findings",
            "bare span + 2 content attrs",
            bare(PROMPT_PII, ANSWER_PII),
            ours(PROMPT_PII, ANSWER_PII, True),
        ),
        ("tool  capture on, args + result", "bare span + 2 json attrs", bare_tool, ours_tool),
    ]


def redact_alone(rounds: int) -> list[tuple[int, float]]:
    redactor = spyglass.Redactor()
    out = []
    for size in (200, 2000, 20000):
        text = (PROMPT_PII * (size // len(PROMPT_PII) + 1))[:size]
        n = max(20, 200_000 // size)
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter_ns()
            for _ in range(n):
                redactor.redact(text)
            times.append((time.perf_counter_ns() - t0) / n / 1000)
        out.append((size, statistics.median(times)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=2000, help="calls per side per round")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--chunk", type=int, default=250)
    args = ap.parse_args()
    os.environ.pop("SPYGLASS_RAISE_INTERNAL_ERRORS", None)
    print("Spyglass SDK cost with content capture on (redaction running) vs a bare OpenTelemetry span")
    print(f"machine: {platform.platform()}, os.cpu_count()={os.cpu_count()}")
    print(
        f"python {sys.version.split()[0]}, opentelemetry-sdk {md.version('opentelemetry-sdk')}, "
        f"prompt {len(PROMPT_CLEAN)} chars, answer {len(ANSWER_CLEAN)} chars"
    )
    provider = TracerProvider()
    provider.add_span_processor(CohortProcessor())
    provider.add_span_processor(NoopProcessor())
    tracer = provider.get_tracer("spyglass")
    state.tracer = tracer
    pairs = make_pairs(tracer)
    for _, _, base, cand in pairs:  # warm-up
        base(200)
        cand(200)

    n, chunk = args.iterations, max(1, min(args.chunk, args.iterations))
    base_us: dict[str, list[float]] = {p[0]: [] for p in pairs}
    cand_us: dict[str, list[float]] = {p[0]: [] for p in pairs}
    ratios: dict[str, list[float]] = {p[0]: [] for p in pairs}
    started = time.perf_counter()
    for r in range(args.rounds):
        for label, _, base, cand in pairs:
            gc.collect()
            tot = {base: 0, cand: 0}
            for k in range(n // chunk):
                for fn in (base, cand) if (k + r) % 2 == 0 else (cand, base):
                    tot[fn] += fn(chunk)
            calls = (n // chunk) * chunk
            base_us[label].append(tot[base] / calls / 1000)
            cand_us[label].append(tot[cand] / calls / 1000)
            ratios[label].append(tot[cand] / tot[base])
        print(f"  round {r + 1}/{args.rounds} done ({time.perf_counter() - started:.1f} s)", flush=True)
    provider.shutdown()

    med = statistics.median
    print()
    print(f"{'case':34} {'baseline':28} {'base µs':>8} {'spyglass µs':>11} {'paired ratio':>12}")
    print("-" * 98)
    for label, blabel, _, _ in pairs:
        print(
            f"{label:34} {blabel:28} {med(base_us[label]):8.1f} {med(cand_us[label]):11.1f} "
            f"{med(ratios[label]):11.2f}x"
        )
    print("-" * 98)
    print(
        "Redactor.redact alone (text with 5 findings per 1.8 KB): "
        + ", ".join(f"{size} B {us:.1f} µs" for size, us in redact_alone(args.rounds))
    )


if __name__ == "__main__":
    main()
