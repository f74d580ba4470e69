"""Spyglass: tracing for LLM applications, on OpenTelemetry.

Example::

    import spyglass
    spyglass.init(endpoint="http://127.0.0.1:4318", service_name="support-bot")

    with spyglass.cohort(tenant="acme", workflow="support"):
        with spyglass.workflow("answer_question"):
            with spyglass.llm(model="gpt-4o-mini", provider="openai") as call:
                call.set_usage(input_tokens=120, output_tokens=30)
            reference = spyglass.current_trace_id()

Everything public is listed in ``__all__``; modules starting with ``_`` are private.
"""

from __future__ import annotations

from ._cohort import cohort
from ._config import flush, init
from ._data_class import data_class
from ._feedback import feedback
from ._guard import counters as _counters
from ._identity import hash_identifier
from ._instrument import SpanFactory
from ._instrumentations import instrument
from ._kinds import embedding, llm, rerank, retrieval, span, tool, workflow
from ._redact import Redactor
from ._spans import LLMSpan, RetrievalSpan, SpanHandle, ToolSpan, current_span, current_trace_id

__version__ = "0.1.0"


def sdk_stats() -> dict[str, int]:
    """Counters of the SDK's own health: spans exported and dropped, export failures,
    internal errors swallowed, and feedback events exported, dropped (queue full or collector
    unreachable after retries), rejected by the collector or invalid. ``spans_dropped`` grows
    when the export queue is full or the collector cannot be reached."""
    return _counters.snapshot()


__all__ = [
    "LLMSpan",
    "Redactor",
    "RetrievalSpan",
    "SpanFactory",
    "SpanHandle",
    "ToolSpan",
    "__version__",
    "cohort",
    "current_span",
    "current_trace_id",
    "data_class",
    "embedding",
    "feedback",
    "flush",
    "hash_identifier",
    "init",
    "instrument",
    "llm",
    "rerank",
    "retrieval",
    "sdk_stats",
    "span",
    "tool",
    "workflow",
]
