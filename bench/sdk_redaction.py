"""Issue 9, item 1 with content capture on: what redaction costs per decorated call, by kind of
content, against a bare OpenTelemetry span that sets the same content unredacted.

Same harness, providers and call as ``bench/sdk_overhead.py`` (LLM span with model, prompt
version, tokens, 5 document IDs, cohort; ABAB chunks; medians over rounds; ratio = median of
per-round ratios); only the content differs, always distinct from call to call:

  clean     ~1.6 KB prompt of policy passages (dates, amounts, order numbers, an IP) and a
            ~0.5 KB answer: nothing to redact (the same case as sdk_overhead's sync_capture_on)
  pii       the same plus an email, a phone number, a card number and an API key in the prompt
            and the email again in the answer: 5 findings replaced
  prose     ~2 KB of prose without digits or trigger characters (the cheapest realistic case)
  messages  a chat message list (system prompt, user turn with the passages, an earlier
            assistant turn) as the input, the answer as the output
  tool      a tool span: arguments and result as small JSON objects

The bare side sets what Spyglass would export: the PII case exports placeholders on our side
and the raw values on the bare side, so those spans differ by design; every other case is
checked to export identical spans. Informational: ``Redactor.redact`` alone on 200 B, 2 KB
and 20 KB of the PII text and of the clean text, µs per call and per KB.

The last line of output is JSON: {"cases": {name: {"bare_us", "spyglass_us", "ratio",
"added_us"}}, "redact_alone_us": {text: {bytes: µs}}}.

    .venv/bin/python bench/sdk_redaction.py [--iterations 2000] [--rounds 7]
    .venv/bin/python bench/sdk_redaction.py --before 5f8d3b7   # Redactor.redact then vs now
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdk_overhead import (  # the same harness (bench/ is on sys.path when run as a script)
    ANSWER,
    COHORT,
    DOC_IDS,
    LLM_KW,
    SPAN_NAME,
    START_ATTRS,
    TARGET,
    TOKENS,
    Loop,
    measure,
    messages,
    position,
    prompts,
    providers,
)

import spyglass
from spyglass import attributes as A
from spyglass._state import state

PII = (
    " My email is jane.doe@example.com, call me on +44 20 7946 0958, the card was "
    "4111 1111 1111 1111 and our integration key is sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z."
)
PII_ANSWER = ANSWER + " I have noted jane.doe@example.com for the confirmation."
PROSE = (
    "Thank you for reaching out about your order. We are sorry that the blender arrived broken. "
    "Please keep the packaging, take a photo of the damage and reply to this message with it. "
    "Once we have the photo we will arrange a collection at a time that suits you and send a "
    "replacement, or refund the purchase price if you prefer. "
) * 5
SYSTEM = "You are a support assistant for Acme. Answer briefly and cite the policy."
N_DISTINCT = 4096  # distinct inputs per case, cycled: more than the redactor's caches hold
TOOL_ARGS = {"order_id": "1234567812345678", "reason": "arrived broken", "amount": 89.99, "notify": True}
TOOL_RESULT = {"status": "refund_created", "refund_id": "rf_7Hq2", "eta_days": 7}
TOOL_START = {
    A.SPAN_KIND: "tool",
    A.GEN_AI_OPERATION_NAME: "execute_tool",
    A.GEN_AI_TOOL_NAME: "issue_refund",
    **{k: v for k, v in START_ATTRS.items() if k.startswith("spyglass.cohort.")},
}


def contents(n: int) -> dict[str, tuple[list[Any], list[str]]]:
    """case -> (inputs, outputs), ``n`` distinct of each case's input."""
    clean = prompts(n)
    return {
        "clean": (list(clean), [ANSWER]),
        "pii": ([p + PII for p in clean], [PII_ANSWER]),
        "prose": (
            [f"{PROSE} (ticket {chr(65 + i % 26)}{chr(97 + i // 26 % 26)})" for i in range(n)],
            [PROSE],
        ),
        "messages": (
            [
                [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": p[len(SYSTEM) :]},
                    {"role": "assistant", "content": "Which order do you mean?"},
                ]
                for p in clean
            ],
            [ANSWER],
        ),
    }


def make_cases(bare_tracer: Any, n_texts: int) -> dict[str, tuple[Loop, Loop]]:
    pc = time.perf_counter_ns

    @spyglass.llm(**LLM_KW)  # type: ignore[arg-type]
    def ours(prompt: Any, answer: str) -> None:
        call = spyglass.current_span()
        call.set_attribute(A.RETRIEVAL_DOCUMENT_IDS, DOC_IDS)
        call.set_usage(input_tokens=120, output_tokens=30)
        call.set_input(prompt)
        call.set_output(answer)

    @spyglass.tool("issue_refund")
    def ours_tool(args: dict[str, Any], result: dict[str, Any]) -> None:
        call = spyglass.current_span()
        call.set_input(args)
        call.set_output(result)

    def bare(prompt: Any, answer: str) -> None:
        with bare_tracer.start_as_current_span(SPAN_NAME, attributes=START_ATTRS) as span:
            span.set_attribute(A.RETRIEVAL_DOCUMENT_IDS, DOC_IDS)
            span.set_attributes(TOKENS)
            # Serialized per call, as hand-written OpenTelemetry code does (a list as it is).
            text = (
                messages(prompt, "user")
                if isinstance(prompt, str)
                else json.dumps(prompt, ensure_ascii=False)
            )
            span.set_attribute(A.GEN_AI_INPUT_MESSAGES, text)
            span.set_attribute(A.GEN_AI_OUTPUT_MESSAGES, messages(answer, "assistant"))

    def bare_tool(args: dict[str, Any], result: dict[str, Any]) -> None:
        with bare_tracer.start_as_current_span("execute_tool issue_refund", attributes=TOOL_START) as span:
            span.set_attribute(A.GEN_AI_TOOL_CALL_ARGUMENTS, json.dumps(args, ensure_ascii=False))
            span.set_attribute(A.GEN_AI_TOOL_CALL_RESULT, json.dumps(result, ensure_ascii=False))

    def loops(fn: Callable[[Any, Any], None], inputs: list[Any], outputs: list[Any]) -> Loop:
        def loop(n: int) -> int:
            state.capture_content = True
            i = position[0]
            t0 = pc()
            for k in range(i, i + n):
                fn(inputs[k % len(inputs)], outputs[k % len(outputs)])
            elapsed = pc() - t0
            position[0] = i + n
            return elapsed

        return loop

    cases = {
        name: (loops(bare, ins, outs), loops(ours, ins, outs))
        for name, (ins, outs) in contents(n_texts).items()
    }
    args = [{**TOOL_ARGS, "order_id": str(1234567812345678 + i)} for i in range(n_texts)]
    cases["tool"] = (loops(bare_tool, args, [TOOL_RESULT]), loops(ours_tool, args, [TOOL_RESULT]))
    return cases


def check_spans(ours: Any, bare: Any, cases: dict[str, tuple[Loop, Loop]]) -> None:
    """Every case but pii exports the same span on both sides; pii exports no raw value."""
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

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
        position[0] -= 1
        loop_ours(1)
        b, o = dict(seen["bare"].pop().attributes or {}), dict(seen["ours"].pop().attributes or {})
        if name == "pii":
            exported = json.dumps(o)
            assert "jane.doe@example.com" not in exported and "4111 1111" not in exported, o
            assert o["spyglass.redaction.email"] == 2 and o["spyglass.redaction.card_number"] == 1, o
        elif name == "messages":  # Spyglass exports the message list as given, redacted
            assert json.loads(b[A.GEN_AI_INPUT_MESSAGES]) == json.loads(o[A.GEN_AI_INPUT_MESSAGES]), name
        else:
            assert b == o, (name, b, o)
    for provider in (ours, bare):
        multi = provider._active_span_processor
        multi._span_processors = tuple(p for p in multi._span_processors if not isinstance(p, Grab))


def redact_alone(rounds: int, before: Any = None) -> dict[str, dict[int, dict[str, float]]]:
    """µs per call by text and size, each figure ``{"redact": µs, "scan": µs}`` (plus
    ``"before": µs`` with ``before``, another SDK's ``Redactor`` class):

    - redact: ``Redactor.redact`` on distinct strings (a 4-digit counter, then the same text)
      with a new ``Redactor`` every round, so nothing seen in an earlier round is cached; the
      blocks of lines the strings share are (the repeated context of a prompt).
    - scan: the built-in detectors with no cache at all (``Redactor._scan``): every string
      seen for the first time.

    The variants alternate round by round on the same texts."""
    variants: dict[str, Callable[[], Callable[[str], Any]]] = {
        "redact": lambda: spyglass.Redactor().redact,
        "scan": lambda: spyglass.Redactor()._scan,
    }
    if before is not None:
        variants = {"before": lambda: before().redact, **variants}
    out: dict[str, dict[int, dict[str, float]]] = {}
    for label, source in (("pii", prompts(1)[0] + PII), ("clean", prompts(1)[0]), ("prose", PROSE)):
        out[label] = {}
        for size in (200, 2000, 20000):
            base = (source * (size // len(source) + 1))[:size]
            n = max(20, 100_000 // size)
            texts = [f"{i:04d}{base}" for i in range(n)]  # distinct strings
            if before is not None:
                assert all(before().redact(t) == spyglass.Redactor().redact(t) for t in texts[:3]), label
            times: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(rounds):
                for name, make in variants.items():
                    fn = make()
                    gc.collect()
                    t0 = time.perf_counter_ns()
                    for text in texts:
                        fn(text)
                    times[name].append((time.perf_counter_ns() - t0) / n / 1000)
            out[label][size] = {name: round(statistics.median(acc), 2) for name, acc in times.items()}
    return out


def load_before(rev: str) -> Any:
    """The ``spyglass`` SDK as of git revision ``rev``, imported as ``spyglass_before``."""
    import atexit
    import importlib.util
    import io
    import shutil
    import subprocess
    import tarfile
    import tempfile

    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "archive", rev, "sdk"], cwd=root, capture_output=True, check=True).stdout
    where = Path(tempfile.mkdtemp(prefix="spyglass-before-"))
    atexit.register(shutil.rmtree, where, True)  # the copy is needed until the process ends
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(where, filter="data")
    spec = importlib.util.spec_from_file_location(
        "spyglass_before", where / "sdk" / "__init__.py", submodule_search_locations=[str(where / "sdk")]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["spyglass_before"] = module
    spec.loader.exec_module(module)
    return module


def compare(rev: str, rounds: int) -> None:
    """Print ``Redactor.redact`` before (at ``rev``) and now, interleaved in this process."""
    figures = redact_alone(rounds, load_before(rev).Redactor)
    print(f"Redactor.redact at {rev} vs now, same texts, alternating round by round ({rounds} rounds)")
    print("now: redact (a new Redactor per round: shared blocks cached) and scan (no cache)")
    print(f"{'text':8} {'bytes':>6} {'before µs':>10} {'redact µs':>10} {'scan µs':>8} {'speedup':>8}")
    for label, by_size in figures.items():
        for size, f in by_size.items():
            was, now, scan = f["before"], f["redact"], f["scan"]
            print(f"{label:8} {size:6d} {was:10.1f} {now:10.1f} {scan:8.1f} {was / scan:7.2f}x")
    print("speedup: before / scan, the cost of text never seen before")
    print(json.dumps({"redact_before_now_us": figures, "before": rev}))


def off_thread(iterations: int, rounds: int) -> dict[str, dict[str, float]]:
    """Experiment (not the SDK's design): redaction moved from the application's thread to the
    export thread. Three providers, each making the sync capture-on call of
    ``sdk_overhead.py`` on prompts never seen before (``unseen_prompts``):

    - bare: a bare OpenTelemetry span, BatchSpanProcessor.
    - host: Spyglass as it is (redaction in the decorated call).
    - deferred: Spyglass with a redactor that has no detectors on the application's thread,
      and an exporter that runs the built-in detectors over both content attributes in the
      export thread: the cost a "redact at export" design would have, its bookkeeping aside.

    Per side, chunks of ``iterations`` calls (more than one export batch, so the export thread
    runs during the calls as it would under load), then a flush. ``host_us``: the calls'
    wall time per call (the application's thread). ``cpu_us``: process CPU time per call over
    the calls and the flush (every thread: what the two cores pay)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from sdk_overhead import DiscardExporter, unseen_prompts

    from spyglass import _redact
    from spyglass._processors import BoundedExportProcessor, CohortProcessor

    full, nothing = _redact.active, spyglass.Redactor(detectors=())
    scanner = spyglass.Redactor()

    class RedactingExporter(DiscardExporter):
        def export(self, spans: Any) -> Any:
            for span in spans:
                attrs = span.attributes or {}
                for key in (A.GEN_AI_INPUT_MESSAGES, A.GEN_AI_OUTPUT_MESSAGES):
                    if key in attrs:
                        scanner._scan(attrs[key])  # no cache: every prompt is new
            return super().export(spans)

    def provider(exporter: Any, ours: bool) -> Any:
        tp = TracerProvider()
        if ours:
            tp.add_span_processor(CohortProcessor())
            tp.add_span_processor(BoundedExportProcessor(exporter, max_queue_size=65536))
        else:
            tp.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=65536))
        return tp

    bare_tp, host_tp, deferred_tp = (
        provider(DiscardExporter(), False),
        provider(DiscardExporter(), True),
        provider(RedactingExporter(), True),
    )
    texts = unseen_prompts()
    bare_tracer = bare_tp.get_tracer("bench")

    @spyglass.llm(**LLM_KW)  # type: ignore[arg-type]
    def ours(prompt: str, answer: str) -> None:
        call = spyglass.current_span()
        call.set_attribute(A.RETRIEVAL_DOCUMENT_IDS, DOC_IDS)
        call.set_usage(input_tokens=120, output_tokens=30)
        call.set_input(prompt)
        call.set_output(answer)

    def bare(prompt: str, answer: str) -> None:
        with bare_tracer.start_as_current_span(SPAN_NAME, attributes=START_ATTRS) as span:
            span.set_attribute(A.RETRIEVAL_DOCUMENT_IDS, DOC_IDS)
            span.set_attributes(TOKENS)
            span.set_attribute(A.GEN_AI_INPUT_MESSAGES, messages(prompt, "user"))
            span.set_attribute(A.GEN_AI_OUTPUT_MESSAGES, messages(ANSWER, "assistant"))

    sides = {
        "bare": (bare_tp, bare, full),
        "host": (host_tp, ours, full),
        "deferred": (deferred_tp, ours, nothing),
    }
    per: dict[str, dict[str, list[float]]] = {side: {"host_us": [], "cpu_us": []} for side in sides}
    saved = state.tracer, state.capture_content, _redact.active
    start = 0
    try:
        state.capture_content = True
        with spyglass.cohort(**COHORT):
            for r in range(rounds + 1):  # round 0 warms up
                order = list(sides.items())
                for side, (tp, fn, redactor) in order[r % 3 :] + order[: r % 3]:
                    state.tracer, _redact.active = tp.get_tracer("spyglass"), redactor
                    gc.collect()
                    c0, t0 = time.process_time_ns(), time.perf_counter_ns()
                    for k in range(start, start + iterations):
                        fn(texts[k % len(texts)], ANSWER)
                    t1 = time.perf_counter_ns()
                    tp.force_flush()
                    c1 = time.process_time_ns()
                    if r:
                        per[side]["host_us"].append((t1 - t0) / iterations / 1000)
                        per[side]["cpu_us"].append((c1 - c0) / iterations / 1000)
                start += iterations
    finally:
        state.tracer, state.capture_content, _redact.active = saved
        for tp in (bare_tp, host_tp, deferred_tp):
            tp.shutdown()
    med = statistics.median
    out = {side: {k: round(med(v), 2) for k, v in f.items()} for side, f in per.items()}
    for side in ("host", "deferred"):
        out[side]["host_ratio"] = round(out[side]["host_us"] / out["bare"]["host_us"], 3)
        out[side]["cpu_ratio"] = round(out[side]["cpu_us"] / out["bare"]["cpu_us"], 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=2000, help="calls per side per case per round")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--chunk", type=int, default=250)
    ap.add_argument(
        "--before", metavar="REV", help="only compare Redactor.redact with the SDK at this git revision"
    )
    ap.add_argument(
        "--off-thread",
        action="store_true",
        help="only the experiment: redaction in the export thread instead of the call (see off_thread)",
    )
    args = ap.parse_args()
    if args.before:
        compare(args.before, args.rounds)
        return
    if args.off_thread:
        print(
            "Experiment: redaction in the call vs in the export thread; sync capture-on call, unseen prompts"
        )
        figures = off_thread(args.iterations, args.rounds)
        print(f"{'side':10} {'host µs':>8} {'cpu µs':>8} {'host ratio':>11} {'cpu ratio':>10}")
        for side, f in figures.items():
            print(
                f"{side:10} {f['host_us']:8.2f} {f['cpu_us']:8.2f} "
                f"{f.get('host_ratio', 1.0):10.2f}x {f.get('cpu_ratio', 1.0):9.2f}x"
            )
        print(json.dumps({"off_thread": figures}))
        return
    os.environ.pop("SPYGLASS_RAISE_INTERNAL_ERRORS", None)
    print("Spyglass SDK with content capture on (redaction running) vs a bare OpenTelemetry span")
    print(f"machine: {platform.platform()}, os.cpu_count()={os.cpu_count()}, python {sys.version.split()[0]}")
    print(
        f"{args.iterations} calls per side per case x {args.rounds} rounds, sides alternating every",
        args.chunk,
    )
    ours, bare = providers()
    state.tracer = ours.get_tracer("spyglass")
    saved = state.capture_content
    with spyglass.cohort(**COHORT):
        cases = make_cases(bare.get_tracer("bench"), N_DISTINCT)
        check_spans(ours, bare, cases)
        for loop_bare, loop_ours in cases.values():
            loop_bare(200)
            loop_ours(200)
        results = measure(cases, args.iterations, args.rounds, args.chunk)
    state.capture_content = saved
    ours.shutdown()
    bare.shutdown()
    alone = redact_alone(args.rounds)

    print()
    head = f"{'case':10} {'bare µs':>9} {'spyglass µs':>12} {'added µs':>9} {'ratio':>7} {'range':>12}"
    print(f"{head} {'target':>7}")
    print("-" * 72)
    for name, r in results.items():
        spread = f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f}"
        verdict = "ok" if r["ratio"] <= TARGET else "MISS"
        print(
            f"{name:10} {r['bare_us']:9.2f} {r['spyglass_us']:12.2f} {r['added_us']:9.2f} "
            f"{r['ratio']:6.2f}x {spread:>12} {verdict:>7}"
        )
    print("-" * 72)
    print("Redactor alone, µs per call: redact (shared blocks cached) / scan (no cache); µs per KB at 20 KB")
    for label, by_size in alone.items():
        sizes = ", ".join(f"{size} B {f['redact']:.1f}/{f['scan']:.1f}" for size, f in by_size.items())
        per_kb = f"{by_size[20000]['redact'] / 20:.1f}/{by_size[20000]['scan'] / 20:.1f}"
        print(f"  {label:6} {sizes}  ({per_kb} µs/KB)")
    print(json.dumps({"cases": results, "redact_alone_us": alone}))


if __name__ == "__main__":
    main()
