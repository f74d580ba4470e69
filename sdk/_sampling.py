"""Head sampling per workflow, with errors and negative feedback kept: a span processor in
front of Spyglass's exporter.

At a trace's local root (a span without a parent in this process) the rate is chosen: the
rate of the cohort's workflow (``spyglass.cohort(workflow=...)``), else of the root span's
name (``spyglass.workflow("answer_question")``), else the default rate. It is written on the
span as ``spyglass.sample_rate`` and copied to every child, so the whole trace shares one
decision, and that decision is a function of the trace ID alone (OpenTelemetry's
``TraceIdRatioBased`` rule: keep when the trace ID's low 64 bits < rate * 2**64).

Spans of a kept trace go on to export at once. Spans of a trace sampled out wait in a
bounded in-memory buffer (``buffer_size`` spans, ``window`` seconds) and are exported after
all if, while they wait, a span of that trace ends with status ERROR or
``spyglass.feedback`` reports it negatively in this process (thumbs down, an escalation or
an override); spans of that trace ending later are then exported too. Otherwise they are
discarded when they leave the buffer.

Why a processor and not an OpenTelemetry ``Sampler``: a sampler's drop makes spans
non-recording, and then no later error or feedback can bring them back; and ``init()``
joining an application's existing ``TracerProvider`` cannot change its sampler. The
application's own processors and exporters still see every span. What this cannot do: keep
a trace whose spans left the buffer (evicted by newer spans or older than the window)
before the error or feedback came, keep a trace for feedback sent from another process
(the spans only ever lived here), or record spans an upstream service or the application's
own sampler chose not to record.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from . import attributes as A
from ._cohort import current_cohort_attributes
from ._guard import report_internal_error

_MASK = (1 << 64) - 1


def check_rate(rate: object, what: str) -> float:
    """``rate`` as a float in [0, 1], else ``ValueError`` naming ``what``."""
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"{what} must be a number from 0 to 1, not {rate!r}")
    return float(rate)


def check_buffer(buffer_size: object, window: object) -> dict[str, Any]:
    """The buffer bounds as ``SamplingProcessor`` arguments, else ``ValueError``."""
    if isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 0:
        raise ValueError(f"sample_buffer_size must be a whole number >= 0, not {buffer_size!r}")
    if isinstance(window, bool) or not isinstance(window, int | float) or not 0 <= window < float("inf"):
        raise ValueError(f"sample_window must be a number of seconds >= 0, not {window!r}")
    return {"buffer_size": buffer_size, "window": float(window)}


def keeps(trace_id: int, rate: float) -> bool:
    """Whether a trace with this ID is sampled in at ``rate`` (the same rule in every process)."""
    return rate >= 1.0 or (trace_id & _MASK) < int(rate * (1 << 64))


class SamplingProcessor(SpanProcessor):
    """Samples traces by workflow before ``next`` (the export processor) sees them; keeps
    sampled-out traces briefly in case they end in error or get negative feedback."""

    def __init__(
        self,
        next_processor: SpanProcessor,
        *,
        rate: float = 1.0,
        rates: Mapping[str, float] | None = None,
        buffer_size: int = 2048,
        window: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._next = next_processor
        self._rate = check_rate(rate, "sample_rate")
        self._rates = {str(k): check_rate(v, f"sample_rates[{k!r}]") for k, v in (rates or {}).items()}
        check_buffer(buffer_size, window)
        self._buffer_size = int(buffer_size)
        self._window = float(window)
        self._clock = clock
        self._lock = threading.Lock()
        # trace ID -> (time its first span was buffered, its spans); oldest first.
        self._held: OrderedDict[int, tuple[float, list[ReadableSpan]]] = OrderedDict()
        self._held_spans = 0
        # Traces rescued by an error or feedback -> when; their later spans skip the buffer.
        self._rescued: OrderedDict[int, float] = OrderedDict()

    # --- decision --------------------------------------------------------------------------------
    def rate_for(self, name: str, parent_context: Context | None) -> float:
        cohort = current_cohort_attributes(parent_context) or {}
        workflow = cohort.get(A.COHORT_WORKFLOW)
        if workflow is not None and workflow in self._rates:
            return self._rates[workflow]
        return self._rates.get(name, self._rate)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            parent = trace.get_current_span(parent_context)
            rate = None
            if parent.get_span_context().is_valid and not parent.get_span_context().is_remote:
                rate = (getattr(parent, "attributes", None) or {}).get(A.SAMPLE_RATE)
            if rate is None:
                rate = self.rate_for(span.name, parent_context)
            span.set_attribute(A.SAMPLE_RATE, rate)
            self._next.on_start(span, parent_context)
        except Exception:
            report_internal_error("sampling processor")

    def on_end(self, span: ReadableSpan) -> None:
        try:
            rate = (span.attributes or {}).get(A.SAMPLE_RATE)
            trace_id = span.context.trace_id if span.context is not None else 0
            if not isinstance(rate, float) or keeps(trace_id, rate):
                self._next.on_end(span)
                return
            now = self._clock()
            with self._lock:
                self._expire(now)
                if trace_id in self._rescued:
                    release = [span]
                elif span.status.status_code is StatusCode.ERROR:
                    release = [*self._rescue_locked(trace_id, now), span]
                else:
                    self._hold(trace_id, span, now)
                    release = []
            for held in release:
                self._next.on_end(held)
        except Exception:
            report_internal_error("sampling processor")

    # --- the buffer ------------------------------------------------------------------------------
    def _hold(self, trace_id: int, span: ReadableSpan, now: float) -> None:
        if self._buffer_size == 0:
            return
        entry = self._held.get(trace_id)
        if entry is None:
            self._held[trace_id] = (now, [span])
        else:
            entry[1].append(span)
        self._held_spans += 1
        while self._held_spans > self._buffer_size:  # evict the oldest traces, whole
            _, (_, spans) = self._held.popitem(last=False)
            self._held_spans -= len(spans)

    def _expire(self, now: float) -> None:
        while self._held:
            trace_id, (since, spans) = next(iter(self._held.items()))
            if now - since <= self._window:
                break
            del self._held[trace_id]
            self._held_spans -= len(spans)
        while self._rescued and now - next(iter(self._rescued.values())) > self._window:
            self._rescued.popitem(last=False)

    def _rescue_locked(self, trace_id: int, now: float) -> list[ReadableSpan]:
        self._rescued[trace_id] = now
        self._rescued.move_to_end(trace_id)
        while len(self._rescued) > max(self._buffer_size, 1):
            self._rescued.popitem(last=False)
        entry = self._held.pop(trace_id, None)
        if entry is None:
            return []
        self._held_spans -= len(entry[1])
        return entry[1]

    def rescue(self, trace_id: int) -> int:
        """Export the held spans of ``trace_id`` and any of its spans ending within the window;
        returns how many held spans were released."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            release = self._rescue_locked(trace_id, now)
        for span in release:
            self._next.on_end(span)
        return len(release)

    def held(self) -> int:
        """Spans waiting in the buffer now (for tests and diagnostics)."""
        with self._lock:
            return self._held_spans

    # --- lifecycle -------------------------------------------------------------------------------
    def shutdown(self) -> None:
        with self._lock:
            self._held.clear()
            self._held_spans = 0
        self._next.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._next.force_flush(timeout_millis)


_active: list[SamplingProcessor] = []


def register(processor: SamplingProcessor) -> None:
    """Make ``processor`` receive negative feedback given through ``spyglass.feedback``."""
    _active.append(processor)


def unregister(processor: SamplingProcessor) -> None:
    if processor in _active:
        _active.remove(processor)


def is_negative(event: Mapping[str, Any]) -> bool:
    """Feedback that should keep its trace: thumbs down, an escalation or an override."""
    if event.get("thumbs") == "down":
        return True
    return bool(event.get("escalation_reason")) or bool(event.get("override"))


def on_feedback(trace_id_hex: str, event: Mapping[str, Any]) -> None:
    """Called by ``spyglass.feedback`` for every valid event."""
    if _active and is_negative(event):
        trace_id = int(trace_id_hex, 16)
        for processor in list(_active):
            processor.rescue(trace_id)


def _env_rates(name: str) -> tuple[float | None, dict[str, float] | None]:
    """``SPYGLASS_SAMPLE_RATE`` / ``SPYGLASS_SAMPLE_RATES`` parsed; an invalid value is
    logged and treated as unset (keeping every trace loses nothing)."""
    import os

    from ._guard import log_rate_limited

    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return None, None
    try:
        if name == "SPYGLASS_SAMPLE_RATE":
            return check_rate(float(raw), name), None
        pairs = [item.partition("=") for item in raw.split(",") if item.strip()]
        if any(not sep or not key.strip() for key, sep, _ in pairs):
            raise ValueError(f"{name}={raw!r} is not name=rate,name=rate")
        return None, {k.strip(): check_rate(float(v), f"{name}[{k.strip()!r}]") for k, _, v in pairs}
    except ValueError as err:
        log_rate_limited(name, "spyglass: %s; ignored (those traces are all kept)", err)
        return None, None


def settings(rate: float | None, rates: Mapping[str, float] | None) -> tuple[float, dict[str, float]] | None:
    """The sampling configuration from ``init`` arguments, else ``SPYGLASS_SAMPLE_RATE`` and
    ``SPYGLASS_SAMPLE_RATES`` (``support=0.1,classify=1``); None when every trace is kept.

    Invalid arguments raise ``ValueError``; invalid environment values are logged and ignored."""
    rate = check_rate(rate, "sample_rate") if rate is not None else _env_rates("SPYGLASS_SAMPLE_RATE")[0]
    if rates is not None:
        rates = {str(k): check_rate(v, f"sample_rates[{k!r}]") for k, v in rates.items()}
    else:
        rates = _env_rates("SPYGLASS_SAMPLE_RATES")[1]
    final_rate = 1.0 if rate is None else rate
    final_rates = dict(rates or {})
    if final_rate >= 1.0 and all(r >= 1.0 for r in final_rates.values()):
        return None  # nothing is ever sampled out: no processor, no cost
    return final_rate, final_rates
