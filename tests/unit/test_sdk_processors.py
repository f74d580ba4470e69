"""Span processors: the bounded export queue drops and counts beyond its bound, counts what
it exports, and the cohort processor stamps spans of any tracer on the provider."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

import spyglass
from spyglass import attributes as A
from spyglass._processors import BoundedExportProcessor, CohortProcessor


class BlockingExporter(SpanExporter):
    """Blocks every export until ``release`` is set (a collector that never answers)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait()
        self.exported += len(spans)
        return SpanExportResult.SUCCESS


class ListExporter(SpanExporter):
    def __init__(self, result: SpanExportResult = SpanExportResult.SUCCESS) -> None:
        self.spans: list[ReadableSpan] = []
        self.calls = 0
        self.result = result

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls += 1
        self.spans.extend(spans)
        return self.result


def stats() -> dict[str, int]:
    return spyglass.sdk_stats()


def test_bounded_queue_drops_and_counts_when_exporter_blocks() -> None:
    max_queue, n = 10, 100
    # BoundedExportProcessor caps the batch at min(max_export_batch_size, max_queue_size).
    max_batch = min(512, max_queue)
    exporter = BlockingExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        BoundedExportProcessor(exporter, max_queue_size=max_queue, schedule_delay_millis=10)
    )
    tracer = provider.get_tracer("test")
    before = stats()["spans_dropped"]
    try:
        for i in range(n):
            tracer.start_span(f"s{i}").end()
        dropped = stats()["spans_dropped"] - before
    finally:
        exporter.release.set()
        provider.shutdown()
    # The blocked exporter holds at most one batch (taken off the queue, so no longer counted as
    # pending) and the queue at most max_queue more; everything else was dropped on the spot.
    assert n - max_queue - max_batch <= dropped <= n - max_queue
    # Nothing accepted was lost: after release and shutdown, every accepted span was exported.
    assert exporter.exported == n - dropped


def test_working_exporter_receives_every_span_and_counts_them() -> None:
    n = 25
    exporter = ListExporter()
    provider = TracerProvider()
    provider.add_span_processor(BoundedExportProcessor(exporter, max_queue_size=64))
    tracer = provider.get_tracer("test")
    before = stats()
    try:
        for i in range(n):
            tracer.start_span(f"s{i}").end()
        assert provider.force_flush()
        after = stats()
    finally:
        provider.shutdown()
    assert sorted(s.name for s in exporter.spans) == sorted(f"s{i}" for i in range(n))
    assert after["spans_exported"] - before["spans_exported"] == n
    assert after["spans_dropped"] == before["spans_dropped"]
    assert after["export_failures"] == before["export_failures"]


def test_failed_export_counts_failure_and_drops() -> None:
    exporter = ListExporter(SpanExportResult.FAILURE)
    provider = TracerProvider()
    provider.add_span_processor(BoundedExportProcessor(exporter, max_queue_size=64))
    tracer = provider.get_tracer("test")
    before = stats()
    try:
        for i in range(5):
            tracer.start_span(f"s{i}").end()
        provider.force_flush()
        after = stats()
    finally:
        provider.shutdown()
    assert len(exporter.spans) == 5
    assert after["export_failures"] - before["export_failures"] == exporter.calls >= 1
    assert after["spans_dropped"] - before["spans_dropped"] == 5
    assert after["spans_exported"] == before["spans_exported"]


def test_queue_accepts_again_after_export_drains_it() -> None:
    exporter = ListExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        BoundedExportProcessor(exporter, max_queue_size=5, schedule_delay_millis=60_000)
    )
    tracer = provider.get_tracer("test")
    before = stats()["spans_dropped"]
    try:
        for _round in range(4):
            for i in range(5):
                tracer.start_span(f"s{i}").end()
            provider.force_flush()
    finally:
        provider.shutdown()
    assert stats()["spans_dropped"] == before
    assert len(exporter.spans) == 20


def test_cohort_processor_stamps_any_tracer() -> None:
    exporter = ListExporter()
    provider = TracerProvider()
    provider.add_span_processor(CohortProcessor())
    provider.add_span_processor(BoundedExportProcessor(exporter, max_queue_size=64))
    try:
        with spyglass.cohort(tenant="acme", user="u-1"):
            provider.get_tracer("some.other.instrumentation").start_span("http").end()
        provider.get_tracer("x").start_span("outside").end()
        provider.force_flush()
    finally:
        provider.shutdown()
    spans = {s.name: s for s in exporter.spans}
    assert spans["http"].attributes[A.COHORT_TENANT] == "acme"
    assert spans["http"].attributes[A.USER_ID] == "u-1"
    assert A.COHORT_TENANT not in spans["outside"].attributes


class RecordOnlySampler(Sampler):
    """Records spans named ``record-only`` without sampling them (a valid sampler decision)."""

    def should_sample(
        self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None
    ) -> SamplingResult:
        decision = Decision.RECORD_ONLY if name == "record-only" else Decision.RECORD_AND_SAMPLE
        return SamplingResult(decision, attributes)

    def get_description(self) -> str:
        return "RecordOnlySampler"


def test_unsampled_spans_do_not_fill_the_queue() -> None:
    exporter = ListExporter()
    provider = TracerProvider(sampler=RecordOnlySampler())
    provider.add_span_processor(BoundedExportProcessor(exporter, max_queue_size=10))
    tracer = provider.get_tracer("test")
    before = stats()["spans_dropped"]
    try:
        for _ in range(20):
            tracer.start_span("record-only").end()
        for i in range(5):
            tracer.start_span(f"sampled{i}").end()
        provider.force_flush()
    finally:
        provider.shutdown()
    assert len(exporter.spans) == 5
    assert stats()["spans_dropped"] == before
