"""``spyglass.testing.virtual_clock``: spans take their times from a clock the test moves, the
real clock comes back afterwards, and export scheduling keeps running on real time."""

from __future__ import annotations

import time

import pytest
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import spyglass
from spyglass.testing import capture_spans, virtual_clock

DAY_NS = 86_400 * 10**9
START = 1_795_000_000 * 10**9  # November 2026: far from the real clock


def test_spans_carry_virtual_times() -> None:
    with capture_spans() as spans, virtual_clock(START) as clock:
        with spyglass.workflow("answer_question"):
            clock.advance(0.25)
            with spyglass.llm(model="gpt-4o"):
                clock.advance(1.5)
            clock.advance(0.01)
    (call,) = spans.by_kind("llm")
    (root,) = spans.by_kind("workflow")
    assert root.start_time == START
    assert call.start_time == START + 250_000_000
    assert call.end_time == START + 1_750_000_000
    assert root.end_time == START + 1_760_000_000
    assert clock.now_ns() == START + 1_760_000_000


def test_exception_events_use_the_virtual_clock() -> None:
    with capture_spans() as spans, virtual_clock(START) as clock:
        with pytest.raises(TimeoutError):
            with spyglass.llm(model="gpt-4o"):
                clock.advance(6.0)
                raise TimeoutError("provider timed out after 6 s")
    (call,) = spans.all()
    (event,) = call.events
    assert event.name == "exception"
    assert event.timestamp == START + 6 * 10**9 == call.end_time


def test_set_jumps_both_ways_and_advance_refuses_to_go_back() -> None:
    with virtual_clock(START) as clock:
        clock.set(START + DAY_NS)
        assert clock() == START + DAY_NS
        clock.set(START - DAY_NS)  # an overlapping request started earlier
        assert clock.now_ns() == START - DAY_NS
        assert clock.advance(0.5) == START - DAY_NS + 500_000_000
        with pytest.raises(ValueError):
            clock.advance(-1)


def test_default_start_is_now() -> None:
    before = time.time_ns()
    with virtual_clock() as clock:
        assert before <= clock.now_ns() <= time.time_ns()


def test_real_clock_restored_after_the_block() -> None:
    original = sdk_trace.time_ns
    with capture_spans() as spans:
        with virtual_clock(START):
            assert sdk_trace.time_ns is not original
        assert sdk_trace.time_ns is original
        before = time.time_ns()
        with spyglass.span("after"):
            pass
    (after,) = spans.all()
    assert after.start_time is not None and before <= after.start_time <= time.time_ns()


def test_real_clock_restored_when_the_block_raises() -> None:
    original = sdk_trace.time_ns
    with pytest.raises(RuntimeError):
        with virtual_clock(START):
            raise RuntimeError("simulation failed")
    assert sdk_trace.time_ns is original


def test_batch_export_runs_on_real_time_under_a_frozen_virtual_clock() -> None:
    """The batch processor's schedule must not read the virtual clock: with the clock frozen
    days in the past, a scheduled export still happens after its real delay, and force_flush
    (whose deadline OpenTelemetry computes with the patched ``time_ns``) still succeeds."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=50))
    tracer = provider.get_tracer("test")
    try:
        with virtual_clock(START - 14 * DAY_NS):
            tracer.start_span("scheduled").end()
            deadline = time.monotonic() + 5
            while not exporter.get_finished_spans() and time.monotonic() < deadline:
                time.sleep(0.02)  # no flush: only the real-time schedule can export it
            assert [s.name for s in exporter.get_finished_spans()] == ["scheduled"]
            assert exporter.get_finished_spans()[0].start_time == START - 14 * DAY_NS

            tracer.start_span("flushed").end()
            assert provider.force_flush(5000) is True
            assert [s.name for s in exporter.get_finished_spans()] == ["scheduled", "flushed"]
    finally:
        provider.shutdown()
