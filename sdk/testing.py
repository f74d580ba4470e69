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
