"""Span processors: cohort stamping, and export behind a bounded queue that counts what it drops."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from ._cohort import current_cohort_attributes
from ._guard import counters, log_rate_limited, report_internal_error


class CohortProcessor(SpanProcessor):
    """Copies the cohort in force (``spyglass.cohort``) onto every span as it starts,
    including spans from other instrumentations that share the TracerProvider."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            cohort = current_cohort_attributes(parent_context)
            if cohort:
                span.set_attributes(cohort)
        except Exception:
            report_internal_error("cohort processor")


class _CountingExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, on_taken: BoundedExportProcessor) -> None:
        self._inner = inner
        self._owner = on_taken

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._owner._taken(len(spans))
        result = self._inner.export(spans)
        if result is SpanExportResult.SUCCESS:
            counters.add("spans_exported", len(spans))
        else:
            counters.add("export_failures")
            counters.add("spans_dropped", len(spans))
            log_rate_limited(
                "export", "spyglass: could not export %d spans (collector unreachable?)", len(spans)
            )
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class BoundedExportProcessor(SpanProcessor):
    """OpenTelemetry's ``BatchSpanProcessor`` with an explicit bound in front of it.

    Ended spans waiting for export never exceed ``max_queue_size``; beyond it a span is
    dropped on the spot and counted (``spyglass.sdk_stats()['spans_dropped']``), so a dead
    or slow collector costs the application neither time nor unbounded memory.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int = 2048,
        schedule_delay_millis: float = 1000,
        max_export_batch_size: int = 512,
        shutdown_timeout: float = 3.0,
    ) -> None:
        self._max_queue = max_queue_size
        self._shutdown_timeout = shutdown_timeout
        self._pending = 0
        self._lock = threading.Lock()
        self._batch = BatchSpanProcessor(
            _CountingExporter(exporter, self),
            max_queue_size=max_queue_size,
            schedule_delay_millis=schedule_delay_millis,
            max_export_batch_size=min(max_export_batch_size, max_queue_size),
        )

    def _taken(self, n: int) -> None:
        with self._lock:
            self._pending = max(0, self._pending - n)

    def on_end(self, span: ReadableSpan) -> None:
        try:
            if span.context is None or not span.context.trace_flags.sampled:
                return  # never exported (the batch processor ignores it): never counted
            with self._lock:
                full = self._pending >= self._max_queue
                if not full:
                    self._pending += 1
            if full:
                counters.add("spans_dropped")
                log_rate_limited(
                    "queue-full", "spyglass: export queue full (%d spans); dropping spans", self._max_queue
                )
                return
            self._batch.on_end(span)
        except Exception:
            report_internal_error("export processor")

    def shutdown(self) -> None:
        """Export what is queued, but give up after ``shutdown_timeout`` seconds: a dead
        collector must not hold the application's exit (OpenTelemetry's own limit is 30 s)."""
        worker = threading.Thread(target=self._batch.shutdown, name="spyglass-shutdown", daemon=True)
        worker.start()
        worker.join(self._shutdown_timeout)
        if worker.is_alive():
            with self._lock:
                lost = self._pending
            counters.add("spans_dropped", lost)
            log_rate_limited(
                "shutdown",
                "spyglass: gave up exporting %d spans at exit after %.1f s",
                lost,
                self._shutdown_timeout,
            )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._batch.force_flush(timeout_millis)
