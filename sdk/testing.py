"""Helpers for testing code decorated with Spyglass: capture its spans in memory.

Example::

    from spyglass.testing import capture_spans

    def test_answer_records_model():
        with capture_spans() as spans:
            answer("hello")
        (call,) = spans.by_kind("llm")
        assert call.attributes["gen_ai.request.model"] == "gpt-4o-mini"
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from . import attributes as A
from ._processors import CohortProcessor
from ._state import state


class CapturedSpans:
    """The spans finished inside ``capture_spans()``, in the order they ended."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self._exporter = exporter

    def all(self) -> list[ReadableSpan]:
        return list(self._exporter.get_finished_spans())

    def by_name(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.all() if s.name == name]

    def by_kind(self, kind: str) -> list[ReadableSpan]:
        return [s for s in self.all() if (s.attributes or {}).get(A.SPAN_KIND) == kind]

    def clear(self) -> None:
        self._exporter.clear()


@contextlib.contextmanager
def capture_spans(*, capture_content: bool = False) -> Iterator[CapturedSpans]:
    """Route Spyglass spans to memory for the duration of the block (not thread-safe
    against a concurrent ``spyglass.init``)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CohortProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    saved = (state.tracer, state.capture_content)
    state.tracer = provider.get_tracer("spyglass")
    state.capture_content = capture_content
    try:
        yield CapturedSpans(exporter)
    finally:
        state.tracer, state.capture_content = saved
        provider.shutdown()


class VirtualClock:
    """A clock that moves only when told to: what ``virtual_clock()`` installs.

    Calling it returns the current time in nanoseconds since the epoch, like ``time.time_ns``.
    Any thread may read it; advance or set it from one thread (the simulation's).
    """

    __slots__ = ("_now_ns",)

    def __init__(self, start_ns: int) -> None:
        self._now_ns = int(start_ns)

    def __call__(self) -> int:
        return self._now_ns

    def now_ns(self) -> int:
        """The current virtual time, nanoseconds since the epoch."""
        return self._now_ns

    def advance(self, seconds: float) -> int:
        """Move the clock forward (a simulated sleep); returns the new time."""
        if seconds < 0:
            raise ValueError(f"cannot advance a clock by {seconds} s")
        self._now_ns += round(seconds * 1e9)
        return self._now_ns

    def set(self, ns: int) -> None:
        """Jump to ``ns`` nanoseconds since the epoch (backwards too: overlapping requests)."""
        self._now_ns = int(ns)


@contextlib.contextmanager
def virtual_clock(start_ns: int | None = None) -> Iterator[VirtualClock]:
    """Give spans simulated times: span start/end and event timestamps come from a clock the
    block controls, so a simulation can spread spans over days without sleeping.

    OpenTelemetry's SDK reads the time through ``time_ns``, imported into
    ``opentelemetry.sdk.trace`` at import; that one name is replaced for the duration of the
    block (process-wide, so every thread's spans get virtual times) and restored on exit.
    Export scheduling is untouched: batch processors keep waiting in real time.

    Example::

        from spyglass.testing import virtual_clock

        with virtual_clock(start_ns=1_700_000_000 * 10**9) as clock:
            with spyglass.llm(model="gpt-4o") as call:
                clock.advance(1.5)        # the span lasts 1.5 s, instantly
    """
    import time

    from opentelemetry.sdk import trace as sdk_trace

    clock = VirtualClock(time.time_ns() if start_ns is None else start_ns)
    saved = sdk_trace.time_ns
    sdk_trace.time_ns = clock
    try:
        yield clock
    finally:
        sdk_trace.time_ns = saved
