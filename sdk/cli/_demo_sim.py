"""The demo's engine, without any network: run a scenario's requests through the SDK on a
virtual clock, with trace and span IDs drawn from the scenario (``generate``), or into memory
(``simulate``, for tests and dry runs), and pick example traces worth opening."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator

from spyglass import attributes as A
from spyglass.testing import virtual_clock

from .._processors import CohortProcessor
from .._state import state
from ._demo_apps import APPS, Outcome
from ._demo_feedback import FeedbackEvent, plan_feedback
from ._demo_world import Scenario, Sim, anchor, plan_requests

SERVICE = "support-platform"


class SeededIdGenerator(IdGenerator):
    """Trace and span IDs from the scenario: request ``i`` always gets the same IDs, whatever
    the requests before it did."""

    def __init__(self, scenario: Scenario) -> None:
        self._scenario = scenario
        self._rng = scenario.rng("ids")

    def begin(self, index: int) -> None:
        """Draw the IDs of request ``index`` from here on."""
        self._rng = self._scenario.rng("ids", index)

    def generate_span_id(self) -> int:
        return self._rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._rng.getrandbits(128) or 1


@dataclass
class Workload:
    """What a demo run produced: one outcome per request, and the feedback to send."""

    outcomes: list[Outcome]
    feedback: list[FeedbackEvent]

    @property
    def trace_ids(self) -> list[str]:
        return [o.trace_id for o in self.outcomes]


def generate(
    scenario: Scenario, ids: SeededIdGenerator | None = None, on_trace: Callable[[int], None] | None = None
) -> Workload:
    """Run the scenario's requests through the SDK as it is wired now, on a virtual clock;
    ``ids`` is the TracerProvider's ID generator, told which request is running."""
    outcomes = []
    with virtual_clock(scenario.now_ns) as clock:
        for req in plan_requests(scenario):
            if ids is not None:
                ids.begin(req.index)
            clock.set(req.start_ns)
            outcomes.append(APPS[req.app](Sim(scenario.rng("app", req.index), clock), req))
            if on_trace is not None:
                on_trace(len(outcomes))
    return Workload(outcomes, plan_feedback(scenario, outcomes))


def make_scenario(traces: int, days: float, seed: int, now: float | None) -> Scenario:
    """The run's scenario; ``now`` (seconds since the epoch) defaults to the current hour."""
    end_ns = anchor(time.time_ns()) if now is None else round(now * 1e9)
    return Scenario(traces=traces, days=days, seed=seed, now_ns=end_ns)


def resource(seed: int, project: str | None = None) -> Resource:
    # A fixed instance ID: OpenTelemetry would draw a random one, and runs must be identical.
    attributes = {
        "service.name": SERVICE,
        "service.instance.id": f"demo-{seed}",
        "deployment.environment.name": "demo",
    }
    if project:
        attributes[A.PROJECT] = project
    return Resource.create(attributes)


def simulate(
    traces: int, *, days: float = 14, seed: int = 7, now: float | None = None
) -> tuple[Workload, Sequence[ReadableSpan]]:
    """Generate the workload into memory instead of a collector (tests, dry runs); the SDK's
    tracer is borrowed for the duration, as ``spyglass.testing.capture_spans`` does."""
    exporter = InMemorySpanExporter()
    plan = make_scenario(traces, days, seed, now)
    ids = SeededIdGenerator(plan)
    provider = TracerProvider(resource=resource(seed), id_generator=ids)
    provider.add_span_processor(CohortProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    saved = state.tracer
    state.tracer = provider.get_tracer("spyglass")
    try:
        workload = generate(plan, ids)
    finally:
        state.tracer = saved
        provider.shutdown()
    return workload, exporter.get_finished_spans()


def examples(workload: Workload) -> tuple[str | None, str | None, str | None]:
    """(good, bad, escalated) trace IDs, the newest of each kind."""
    events: dict[str, list[FeedbackEvent]] = {}
    for event in workload.feedback:
        events.setdefault(event.trace_id, []).append(event)

    def newest(test: Callable[[Outcome, list[FeedbackEvent]], bool]) -> str | None:
        for out in reversed(workload.outcomes):
            if test(out, events.get(out.trace_id, [])):
                return out.trace_id
        return None

    def went_wrong(o: Outcome) -> bool:
        return o.errors > 0 or o.fallback or o.denied_tool is not None

    def thumbs_down(o: Outcome, ev: list[FeedbackEvent]) -> bool:
        return any(e.thumbs == "down" for e in ev)

    def escalated(o: Outcome, ev: list[FeedbackEvent]) -> bool:
        return any(e.escalation_reason for e in ev)

    good = newest(
        lambda o, ev: o.request.app == "support" and not went_wrong(o) and any(e.thumbs == "up" for e in ev)
    )
    bad = newest(lambda o, ev: went_wrong(o) and thumbs_down(o, ev)) or newest(thumbs_down)
    resolved = newest(lambda o, ev: escalated(o, ev) and any(e.resolution for e in ev))
    return good, bad, resolved or newest(escalated)
    return good, bad, escalated
