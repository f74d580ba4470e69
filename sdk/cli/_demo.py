"""``spyglass demo``: a realistic workload sent through the real SDK to a running collector.

Two applications of one support platform (``service.name`` "support-platform"):

- the support assistant (``answer_question``, 70% of requests): embeds the question, searches
  the knowledge base (sometimes nothing comes back), reranks, looks the customer up in the
  CRM (tool ``lookup_customer``), asks ``gpt-4o`` with the ``answer`` prompt (A/B test of
  ``v3`` against ``v4``, by user), falling back to ``gpt-4o-mini`` (``fallback_from``) on
  timeouts, rate limits and 5xx; often the model asks for a tool (``issue_refund``,
  ``reset_password``... some denied by the application) and answers again with its result;
- the ticket classifier (``classify_ticket``, 30%): CRM lookup, similar tickets, a
  ``gpt-4o-mini`` call (retried when its JSON does not parse), then ``route_ticket``.

Five tenants, five intents, releases 2026.11.1 then 2026.11.2 (rolled out between 55% and
80% of the window), log-normal latencies with a multi-second tail, errors raised inside spans
and handled by the application, and feedback on a share of traces (thumbs, escalations,
support overrides and resolutions, reviewer audits), some arriving hours or days later.

Planted problems (``PLANTED``), and nothing else differs between cohorts:

1. Tenant ``globex``: in the newest week only, 8% of its requests (both apps) spend 2-6 s in
   the ``lookup_customer`` tool (``execute_tool lookup_customer``), which drives its p99
   latency; elsewhere that tool takes ~90 ms.
2. Prompt ``answer`` version ``v4`` gets 18% thumbs-down among rated answers, against 6% for
   ``v3``; latency, tokens, errors and escalations are the same for both versions.

Time is simulated (``spyglass.testing.virtual_clock``): requests are spread over the last
``days`` days and 2000 of them take seconds. Trace and span IDs are drawn like everything
else from the seed, the size, the days and the window's end (the current hour unless given):
the same run gives the same traces and feedback event IDs, and sending it again is idempotent.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from typing import IO

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

import spyglass

from ._demo_feedback import FeedbackEvent
from ._demo_sim import SeededIdGenerator, Workload, examples, generate, make_scenario, resource, simulate
from ._demo_world import PLANTED

__all__ = ["PLANTED", "DemoResult", "Workload", "examples", "run", "run_in_background", "simulate"]

# Export runs while requests are generated, but the collector ingests slower (~1,500 spans/s
# against ~3,500 generated on this 2-core machine): the queue grows by ~8,000 spans per 2,000
# traces. A flush every 2,000 traces lets it drain, far below its bound (~3 KB per span).
FLUSH_EVERY_TRACES = 2_000
DEFAULT_TRACES = 4_000
"""Enough for the review to see the planted tail-latency problem at 99.9% (a tenant's week then
holds ~400 requests); about 15 s on a 2-core machine."""
QUEUE_SIZE = 32_768
FEEDBACK_FLUSH_EVERY = 5_000  # the SDK's feedback queue holds 10,000 events


class _SpanCounter(SpanProcessor):
    def __init__(self) -> None:
        self.ended = 0

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1


class _Progress:
    """``[#####     ] 1200/2000 traces`` on stderr, redrawn every 1%."""

    def __init__(self, total: int, enabled: bool, stream: IO[str] | None = None, width: int = 30) -> None:
        self.total, self.enabled, self.width = total, enabled and total > 0, width
        self.stream = stream or sys.stderr
        self.step = max(1, total // 100)

    def update(self, done: int) -> None:
        if self.enabled and (done % self.step == 0 or done == self.total):
            filled = self.width * done // self.total
            bar = "#" * filled + " " * (self.width - filled)
            self.stream.write(f"\r[{bar}] {done}/{self.total} traces")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


@dataclass(frozen=True)
class DemoResult:
    """A finished demo run, with traces worth opening."""

    trace_ids: list[str]
    spans: int
    feedback: int
    good_trace: str | None  # answered by the primary model, no error, thumbs up
    bad_trace: str | None  # thumbs down, preferably on a request that went wrong
    escalated_trace: str | None  # escalated to a human, resolved when possible
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # dropped spans or feedback, failed flushes


def _wait_until_up(endpoint: str, timeout: float = 30.0) -> bool:
    """True once ``/healthz`` answers; a collector started alongside (``spyglass up --demo``)
    may take seconds to open its store, so keep trying for ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    told = False
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{endpoint}/healthz", timeout=2):
                return True
        except OSError:
            if not told:
                print(f"demo: waiting for the collector at {endpoint} ...", file=sys.stderr, flush=True)
                told = True
            time.sleep(0.2)
    return False


def _wait_until_stored(endpoint: str, timeout: float = 60.0) -> bool:
    """The collector acknowledges once data is in its spool, a moment before its store has it:
    wait until its spool is empty, so the links printed next open at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{endpoint}/healthz", timeout=5) as resp:
                if json.load(resp).get("spool_rows", 0) == 0:
                    return True
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    return False


def _send_feedback(events: list[FeedbackEvent]) -> None:
    for n, e in enumerate(events, 1):
        spyglass.feedback(
            e.trace_id,
            thumbs=e.thumbs,  # type: ignore[arg-type]
            score=e.score,
            comment=e.comment,
            source=e.source,  # type: ignore[arg-type]
            escalation_reason=e.escalation_reason,
            override=e.override,
            resolution=e.resolution,
            span_id=e.span_id,
            timestamp=e.timestamp,
            event_id=e.event_id,
        )
        if n % FEEDBACK_FLUSH_EVERY == 0:
            spyglass.flush(timeout=60)


def run(
    endpoint: str,
    *,
    traces: int = DEFAULT_TRACES,
    days: int = 14,
    seed: int = 7,
    progress: bool = True,
    now: float | None = None,
    ui_url: str | None = None,
    project: str | None = None,
) -> DemoResult:
    """Wait for the collector at ``endpoint``, send the workload (spans, then feedback), flush,
    and print a summary naming traces worth opening (as links into the UI at ``ui_url`` when
    given, else as ``spyglass trace`` commands). The window ends at ``now``
    (seconds since the epoch; default: the current hour). When the collector does not come up
    within 30 s nothing is sent and the result has no trace IDs (and says why in ``problems``).
    Call once per process: ``spyglass.init`` runs here, on a TracerProvider whose IDs come
    from the scenario."""
    started = time.monotonic()
    endpoint = endpoint.rstrip("/")
    if not _wait_until_up(endpoint):
        problem = f"the collector at {endpoint} did not answer {endpoint}/healthz; no demo data sent"
        print(f"demo: {problem}", file=sys.stderr, flush=True)
        return DemoResult([], 0, 0, None, None, None, time.monotonic() - started, [problem])
    plan = make_scenario(traces, days, seed, now)
    ids = SeededIdGenerator(plan)
    provider = TracerProvider(resource=resource(seed, project), id_generator=ids)
    counter = _SpanCounter()
    provider.add_span_processor(counter)
    trace.set_tracer_provider(provider)
    # spyglass.init joins the provider installed above (its IDs and resource stay ours).
    joined = spyglass.init(
        endpoint=endpoint, max_queue_size=QUEUE_SIZE, schedule_delay_millis=200, project=project
    )
    if joined is not provider:
        raise RuntimeError(
            "another TracerProvider or spyglass.init() came first in this process: run the demo in its own"
        )

    problems: list[str] = []
    bar = _Progress(traces, progress)

    def on_trace(done: int) -> None:
        bar.update(done)
        if done % FLUSH_EVERY_TRACES == 0 and not spyglass.flush(timeout=60):
            problems.append(f"a flush after {done} traces timed out")

    try:
        workload = generate(plan, ids, on_trace)
    finally:
        bar.close()
    _send_feedback(workload.feedback)
    if not spyglass.flush(timeout=120):
        problems.append("the final flush timed out")
    if not _wait_until_stored(endpoint):
        problems.append("the collector had not stored everything after 60 s")
    stats = spyglass.sdk_stats()
    problems += [
        f"{name}: {stats[name]}"
        for name in sorted(stats)
        if name.endswith(("_dropped", "_rejected", "_invalid")) and stats[name]
    ]

    good, bad, escalated = examples(workload)
    result = DemoResult(
        trace_ids=workload.trace_ids,
        spans=counter.ended,
        feedback=len(workload.feedback),
        good_trace=good,
        bad_trace=bad,
        escalated_trace=escalated,
        seconds=time.monotonic() - started,
        problems=problems,
    )
    _print_summary(result, days, ui_url)
    return result


def _print_summary(result: DemoResult, days: int, ui_url: str | None = None) -> None:
    lines = [
        f"demo: sent {len(result.trace_ids)} traces ({result.spans} spans) and {result.feedback} "
        f"feedback events over the last {days} days in {result.seconds:.1f} s. Traces worth opening:"
    ]
    examples = (
        ("a good path", result.good_trace),
        ("a bad answer (thumbs-down)", result.bad_trace),
        ("an escalation", result.escalated_trace),
    )
    for label, trace_id in examples:
        if trace_id:
            where = f"{ui_url.rstrip('/')}/?trace_id={trace_id}" if ui_url else f"spyglass trace {trace_id}"
            lines.append(f"  {label:<28} {where}")
    print("\n".join(lines), flush=True)
    for problem in result.problems:
        print(f"demo: warning: {problem}", file=sys.stderr, flush=True)


def run_in_background(
    endpoint: str, traces: int = 50, *, days: int = 14, seed: int = 7, ui_url: str | None = None
) -> subprocess.Popen[bytes]:
    """Run the demo app as its own process, as a real application would be: in the
    collector's process its spans would mix with the collector's own instrumentation."""
    args = ["--traces", str(traces), "--days", str(days), "--seed", str(seed), "--no-progress"]
    if ui_url:
        args += ["--ui-url", ui_url]
    return subprocess.Popen([sys.executable, "-m", "spyglass.cli._demo", endpoint, *args])


def main(argv: list[str] | None = None) -> int:
    """``python -m spyglass.cli._demo ENDPOINT [--traces N] [--days D] [--seed S] [--now T]
    [--no-progress] [--json]``: exit status 1 when the collector is down or data was lost."""
    parser = argparse.ArgumentParser(
        prog="python -m spyglass.cli._demo", description="Send the demo workload to a collector."
    )
    parser.add_argument("endpoint", help="collector URL, e.g. http://127.0.0.1:4318")
    parser.add_argument("--traces", type=int, default=DEFAULT_TRACES)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--now", type=float, default=None, help="window end, seconds since the epoch")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the result as JSON (last line)")
    parser.add_argument("--ui-url", default=None, help="print example traces as links into this UI")
    parser.add_argument("--project", default=None, help="the project to send to (default: default)")
    args = parser.parse_args(argv)
    result = run(
        args.endpoint,
        traces=args.traces,
        days=args.days,
        seed=args.seed,
        progress=not args.no_progress,
        now=args.now,
        ui_url=args.ui_url,
        project=args.project,
    )
    if args.json:
        print(json.dumps(dataclasses.asdict(result)), flush=True)
    return 1 if result.problems or not result.trace_ids else 0


if __name__ == "__main__":
    sys.exit(main())
