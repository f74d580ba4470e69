"""Head sampling per workflow in a span processor: one decision per trace from its ID, rates by
cohort workflow or root span name, and sampled-out traces kept after all when they end in
error or get negative feedback within the window; the buffer stays bounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import format_trace_id

import spyglass
from spyglass import _feedback, _sampling
from spyglass import attributes as A
from spyglass._processors import CohortProcessor
from spyglass._sampling import SamplingProcessor, keeps

KEEP = 0x00000000000000000000000000000001  # low 64 bits tiny: kept at any rate > 0
DROP = 0x0000000000000000FFFFFFFFFFFFFFFF  # low 64 bits maximal: dropped at any rate < 1


class ChosenIds(IdGenerator):
    """Trace IDs from a list the test sets, so every sampling decision is known in advance."""

    def __init__(self) -> None:
        self.next_trace_ids: list[int] = []
        self._span = 0

    def generate_trace_id(self) -> int:
        return self.next_trace_ids.pop(0)

    def generate_span_id(self) -> int:
        self._span += 1
        return self._span


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Setup:
    def __init__(self, **kwargs: Any) -> None:
        self.ids = ChosenIds()
        self.clock = Clock()
        self.ours = InMemorySpanExporter()  # behind the sampler: what Spyglass exports
        self.hosts = InMemorySpanExporter()  # the application's own processor on the same provider
        self.provider = TracerProvider(id_generator=self.ids)
        self.provider.add_span_processor(CohortProcessor())
        self.provider.add_span_processor(SimpleSpanProcessor(self.hosts))
        self.sampler = SamplingProcessor(SimpleSpanProcessor(self.ours), clock=self.clock, **kwargs)
        self.provider.add_span_processor(self.sampler)
        self.tracer = self.provider.get_tracer("test")

    def request(self, trace_id: int, name: str = "answer", *, fail: bool = False, children: int = 2) -> None:
        self.ids.next_trace_ids.append(trace_id)
        with self.tracer.start_as_current_span(name):
            for i in range(children):
                with self.tracer.start_as_current_span(f"step{i}"):
                    pass
            if fail:
                with pytest.raises(RuntimeError), self.tracer.start_as_current_span("failing"):
                    raise RuntimeError("model timed out")

    def exported(self) -> list[tuple[int, str]]:
        return [(s.context.trace_id, s.name) for s in self.ours.get_finished_spans()]

    def exported_traces(self) -> set[int]:
        return {t for t, _ in self.exported()}


@pytest.fixture()
def setup() -> Iterator[Setup]:
    s = Setup(rate=0.5, buffer_size=100, window=60.0)
    _sampling.register(s.sampler)
    yield s
    _sampling.unregister(s.sampler)
    s.provider.shutdown()


def test_decision_is_the_trace_id_ratio_rule() -> None:
    assert keeps(KEEP, 0.5) and not keeps(DROP, 0.5) and keeps(DROP, 1.0) and not keeps(KEEP, 0.0)
    half = 1 << 63
    assert keeps(half - 1, 0.5) and not keeps(half, 0.5)
    assert keeps((0xABC << 64) | (half - 1), 0.5)  # only the low 64 bits count


def test_whole_trace_shares_the_roots_decision(setup: Setup) -> None:
    setup.request(KEEP)
    setup.request(DROP)
    assert setup.exported() == [(KEEP, "step0"), (KEEP, "step1"), (KEEP, "answer")]
    assert len(setup.hosts.get_finished_spans()) == 6  # the application's own export is untouched
    assert setup.sampler.held() == 3
    assert all(s.attributes[A.SAMPLE_RATE] == 0.5 for s in setup.ours.get_finished_spans())


def test_rates_per_cohort_workflow_then_root_name_then_default() -> None:
    s = Setup(rate=0.0, rates={"support": 1.0, "nightly_eval": 1.0, "classify": 0.0})
    with spyglass.cohort(workflow="support"):
        s.request(DROP, "answer")  # by cohort workflow: kept
    s.request(DROP, "nightly_eval")  # by root span name: kept
    with spyglass.cohort(workflow="classify"):
        s.request(KEEP, "nightly_eval")  # the cohort workflow wins over the name: 0
    s.request(KEEP, "other")  # default 0
    assert s.exported_traces() == {DROP}
    assert len(s.exported()) == 6
    rates = {(sp.name, sp.attributes[A.SAMPLE_RATE]) for sp in s.hosts.get_finished_spans()}
    assert ("nightly_eval", 0.0) in rates and ("nightly_eval", 1.0) in rates


def test_share_kept_follows_the_rate() -> None:
    s = Setup(rate=0.25, buffer_size=0)
    n = 400
    for i in range(n):
        s.request((i * (1 << 64)) // n, children=0)  # low 64 bits spread evenly over the range
    assert len(s.exported_traces()) == n // 4
    assert s.sampler.held() == 0  # buffer_size=0: nothing held


def test_error_keeps_a_sampled_out_trace_whole(setup: Setup) -> None:
    setup.request(DROP, fail=True)
    names = [n for t, n in setup.exported() if t == DROP]
    # Spans that ended before the error were held and released; the root ended after it.
    assert names == ["step0", "step1", "failing", "answer"]
    assert setup.sampler.held() == 0


def negative(trace_id: int, **kwargs: Any) -> None:
    spyglass.feedback(format_trace_id(trace_id), **kwargs)


@pytest.fixture()
def no_send(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    monkeypatch.setattr(_feedback.sender, "url", "http://127.0.0.1:9/v1/feedback")
    monkeypatch.setattr(_feedback.sender, "put", lambda event: events.append(event) or True)
    return events


@pytest.mark.parametrize(
    "feedback",
    [{"thumbs": "down"}, {"escalation_reason": "complaint", "source": "support"}, {"override": "60 days"}],
)
def test_negative_feedback_within_the_window_keeps_the_trace(
    setup: Setup, no_send: list[dict[str, Any]], feedback: dict[str, Any]
) -> None:
    setup.request(DROP)
    setup.request(DROP + (1 << 64))  # another sampled-out trace, not the one the feedback names
    setup.clock.now += 59
    negative(DROP, **feedback)
    assert setup.exported() == [(DROP, "step0"), (DROP, "step1"), (DROP, "answer")]
    assert setup.sampler.held() == 3
    assert len(no_send) == 1  # the feedback itself still goes to the collector


def test_positive_feedback_does_not_keep_it(setup: Setup, no_send: list[dict[str, Any]]) -> None:
    setup.request(DROP)
    negative(DROP, thumbs="up", comment="great")
    negative(DROP, score=0.1)
    assert setup.exported() == [] and setup.sampler.held() == 3


def test_feedback_after_the_window_cannot_bring_it_back(setup: Setup, no_send: list[dict[str, Any]]) -> None:
    setup.request(DROP)
    setup.clock.now += 61
    negative(DROP, thumbs="down")
    assert setup.exported() == [] and setup.sampler.held() == 0


def test_feedback_before_the_trace_ends_keeps_its_later_spans(
    setup: Setup, no_send: list[dict[str, Any]]
) -> None:
    setup.ids.next_trace_ids.append(DROP)
    with setup.tracer.start_as_current_span("answer"):
        with setup.tracer.start_as_current_span("step0"):
            pass
        negative(DROP, thumbs="down")
        with setup.tracer.start_as_current_span("step1"):
            pass
    assert setup.exported() == [(DROP, "step0"), (DROP, "step1"), (DROP, "answer")]


def test_buffer_is_bounded_and_evicts_the_oldest_traces(setup: Setup, no_send: list[dict[str, Any]]) -> None:
    first = DROP
    for i in range(200):
        setup.request(DROP + (i << 64))  # 3 spans each, all sampled out
        assert setup.sampler.held() <= 100
    negative(first, thumbs="down")  # evicted long ago
    assert setup.exported() == []
    last = DROP + (199 << 64)
    negative(last, thumbs="down")
    assert [t for t, _ in setup.exported()] == [last] * 3


def test_only_processors_registered_by_init_hear_feedback(no_send: list[dict[str, Any]]) -> None:
    s = Setup(rate=0.0)
    s.request(DROP)
    negative(DROP, thumbs="down")
    assert s.exported() == []  # not registered: nothing to rescue through


def test_settings_from_arguments_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPYGLASS_SAMPLE_RATE", raising=False)
    monkeypatch.delenv("SPYGLASS_SAMPLE_RATES", raising=False)
    assert _sampling.settings(None, None) is None  # keep everything: no processor at all
    assert _sampling.settings(1, {"a": 1.0}) is None
    assert _sampling.settings(0.1, None) == (0.1, {})
    monkeypatch.setenv("SPYGLASS_SAMPLE_RATE", "0.2")
    monkeypatch.setenv("SPYGLASS_SAMPLE_RATES", "support=1, classify=0.05")
    assert _sampling.settings(None, None) == (0.2, {"support": 1.0, "classify": 0.05})
    assert _sampling.settings(0.5, {"x": 0.0}) == (0.5, {"x": 0.0})  # arguments win
    monkeypatch.setenv("SPYGLASS_SAMPLE_RATE", "lots")
    monkeypatch.setenv("SPYGLASS_SAMPLE_RATES", "support")
    assert _sampling.settings(None, None) is None  # invalid environment: ignored, all kept
    for bad in (1.5, -0.1, float("nan"), "0.5", True):
        with pytest.raises(ValueError, match="sample_rate must be a number from 0 to 1"):
            _sampling.settings(bad, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"sample_rates\['x'\]"):
        _sampling.settings(None, {"x": 2})
    with pytest.raises(ValueError, match="sample_buffer_size"):
        _sampling.check_buffer(-1, 10)
    with pytest.raises(ValueError, match="sample_window"):
        _sampling.check_buffer(10, float("inf"))


INIT_SCRIPT = """
import json, sys
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import spyglass
from spyglass import _sampling

mine = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(mine))
spyglass.init(endpoint="http://127.0.0.1:9", tracer_provider=provider, sample_rate=0.0,
              sample_rates={"support": 1.0}, shutdown_timeout=0.1)
with spyglass.cohort(workflow="support"), spyglass.workflow("kept"):
    pass
with spyglass.workflow("dropped"):
    pass
processors = [type(p).__name__ for p in provider._active_span_processor._span_processors]
print(json.dumps({"processors": processors, "registered": len(_sampling._active),
                  "host_saw": sorted(s.name for s in mine.get_finished_spans())}))
"""


def test_init_joins_an_existing_provider_with_the_sampler_in_front_of_export() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SPYGLASS_"))}
    done = subprocess.run(
        [sys.executable, "-c", INIT_SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["processors"] == ["SimpleSpanProcessor", "CohortProcessor", "SamplingProcessor"]
    assert result["registered"] == 1
    assert result["host_saw"] == ["dropped", "kept"]  # the host's own exporter still sees all
