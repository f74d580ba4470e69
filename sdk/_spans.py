"""Span handles: what ``with spyglass.llm(...) as call`` gives the application.

Every method is guarded: a bad value is logged and ignored, never raised into the host.
Content setters do nothing at all unless content capture is on.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.trace import format_span_id, format_trace_id

from . import _redact
from . import attributes as A
from ._data_class import check_data_class
from ._guard import report_internal_error
from ._state import state

F = TypeVar("F", bound=Callable[..., Any])


def _guarded(method: F) -> F:
    site = method.__qualname__

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception:
            report_internal_error(site)
            return None

    return wrapper  # type: ignore[return-value]


# One encoder for every call: json.dumps with any non-default argument builds a new one.
_JSON = json.JSONEncoder(default=str, ensure_ascii=False)
_quote = json.encoder.encode_basestring  # what _JSON writes for a str (ensure_ascii off)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return _JSON.encode(value)


def _messages(value: Any, role: str) -> str:
    """Content as a GenAI-convention message list (a plain string becomes one text message)."""
    if isinstance(value, str):
        # The bytes _JSON.encode([{"role": role, "parts": [{"type": "text", "content": value}]}])
        # writes (a test checks), without building and walking the list for one string.
        return f'[{{"role": {_quote(role)}, "parts": [{{"type": "text", "content": {_quote(value)}}}]}}]'
    return _JSON.encode(value)


class SpanHandle:
    """A started Spyglass span. Methods never raise; content setters obey content capture."""

    __slots__ = ("_span",)
    _input_key = A.INPUT
    _output_key = A.OUTPUT

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    @property
    def trace_id(self) -> str:
        """The trace ID as 32 hex characters."""
        return format_trace_id(self._span.get_span_context().trace_id)

    @property
    def span_id(self) -> str:
        """The span ID as 16 hex characters."""
        return format_span_id(self._span.get_span_context().span_id)

    @property
    def otel_span(self) -> trace.Span:
        """The underlying OpenTelemetry span."""
        return self._span

    @_guarded
    def set_attribute(self, key: str, value: Any) -> None:
        """Set any attribute (metadata: always exported)."""
        self._span.set_attribute(key, value)

    @_guarded
    def set_attributes(self, attributes: dict[str, Any]) -> None:
        self._span.set_attributes(attributes)

    @_guarded
    def set_data_class(self, data_class: str) -> None:
        """Label the span's data (public, internal, customer, regulated, or your own label of
        1-32 characters a-z, 0-9, ``_``, ``-``); an invalid label is logged and not applied."""
        label = check_data_class(data_class)
        if label is not None:
            self._span.set_attribute(A.DATA_CLASS, label)

    def _format_input(self, value: Any) -> str:
        return _text(value)

    def _format_output(self, value: Any) -> str:
        return _text(value)

    def set_input(self, value: Any) -> None:
        """Record the span's input (prompt, query, arguments). Exported only with capture on,
        redacted (``spyglass.Redactor``)."""
        # Checked before entering the guard: with capture off this is the whole call.
        if state.capture_content:
            self._set_content(self._input_key, self._format_input, value)

    def set_output(self, value: Any) -> None:
        """Record the span's output (completion, answer, result). Exported only with capture
        on, redacted (``spyglass.Redactor``)."""
        if state.capture_content:
            self._set_content(self._output_key, self._format_output, value)

    def _set_content(self, key: str, fmt: Callable[[Any], str], value: Any) -> None:
        # Redact the strings inside the value before serializing, so JSON stays valid; the
        # counts add up over every content value set on this span.
        try:  # the guard inline (as _guarded does): this runs for every content value
            span = self._span
            if not span.is_recording():
                return  # nothing would be kept: skip the redaction's cost
            redactor = _redact.active
            if type(value) is str:
                scrubbed, counts = redactor.redact(value)
            else:
                scrubbed, counts = redactor.scrub(value)
            span.set_attribute(key, fmt(scrubbed))
            if counts:
                current = getattr(span, "attributes", None) or {}
                attrs = _redact.count_attributes(counts)
                span.set_attributes({k: n + int(current.get(k, 0)) for k, n in attrs.items()})
        except Exception:
            report_internal_error("SpanHandle._set_content")


class LLMSpan(SpanHandle):
    """An LLM (or embedding) call."""

    __slots__ = ()
    _input_key = A.GEN_AI_INPUT_MESSAGES
    _output_key = A.GEN_AI_OUTPUT_MESSAGES

    def _format_input(self, value: Any) -> str:
        return _messages(value, "user")

    def _format_output(self, value: Any) -> str:
        return _messages(value, "assistant")

    @_guarded
    def set_usage(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        *,
        cached_input_tokens: int | None = None,
    ) -> None:
        """Token counts as the provider reported them."""
        usage = {}
        if input_tokens is not None:
            usage[A.GEN_AI_USAGE_INPUT_TOKENS] = int(input_tokens)
        if output_tokens is not None:
            usage[A.GEN_AI_USAGE_OUTPUT_TOKENS] = int(output_tokens)
        if cached_input_tokens is not None:
            usage[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = int(cached_input_tokens)
        if usage:
            self._span.set_attributes(usage)  # one call: the span takes its lock once

    @_guarded
    def set_response(
        self,
        *,
        model: str | None = None,
        finish_reason: str | Sequence[str] | None = None,
        response_id: str | None = None,
    ) -> None:
        """What the provider answered with: the model that served it, why it stopped, its ID."""
        if model is not None:
            self._span.set_attribute(A.GEN_AI_RESPONSE_MODEL, model)
        if finish_reason is not None:
            reasons = [finish_reason] if isinstance(finish_reason, str) else list(finish_reason)
            self._span.set_attribute(A.GEN_AI_RESPONSE_FINISH_REASONS, reasons)
        if response_id is not None:
            self._span.set_attribute(A.GEN_AI_RESPONSE_ID, response_id)

    @_guarded
    def set_fallback(self, from_model: str) -> None:
        """Mark this call as the fallback route taken after ``from_model`` failed."""
        self._span.set_attribute(A.LLM_FALLBACK, True)
        self._span.set_attribute(A.LLM_FALLBACK_FROM, from_model)

    @_guarded
    def set_batch_job(self, job_id: str) -> None:
        """This call ran in a provider batch job."""
        self._span.set_attribute(A.LLM_ENDPOINT_TYPE, "batch")
        self._span.set_attribute(A.LLM_BATCH_JOB_ID, job_id)


class RetrievalSpan(SpanHandle):
    """A retrieval or rerank step."""

    __slots__ = ()

    @_guarded
    def set_documents(self, ids: Sequence[str], scores: Sequence[float] | None = None) -> None:
        """The documents returned, in rank order, with their scores when known."""
        id_list = [str(i) for i in ids]
        score_list = None if scores is None else [float(s) for s in scores]
        if score_list is not None and len(score_list) != len(id_list):
            raise ValueError(f"{len(id_list)} document IDs but {len(score_list)} scores")
        self._span.set_attribute(A.RETRIEVAL_DOCUMENT_IDS, id_list)
        if score_list is not None:
            self._span.set_attribute(A.RETRIEVAL_DOCUMENT_SCORES, score_list)


class ToolSpan(SpanHandle):
    """A tool call the model requested."""

    __slots__ = ()
    _input_key = A.GEN_AI_TOOL_CALL_ARGUMENTS
    _output_key = A.GEN_AI_TOOL_CALL_RESULT

    def set_arguments(self, arguments: Any) -> None:
        """The tool's arguments (content: exported only with capture on)."""
        self.set_input(arguments)

    def set_result(self, result: Any) -> None:
        """The tool's result (content: exported only with capture on)."""
        self.set_output(result)

    @_guarded
    def set_authorization(self, allowed: bool, reason: str | None = None) -> None:
        """The application's decision on this call: allowed or denied, and why."""
        self._span.set_attribute(A.TOOL_AUTHORIZATION, "allowed" if allowed else "denied")
        if reason is not None:
            self._span.set_attribute(A.TOOL_AUTHORIZATION_REASON, reason)


HANDLE_BY_KIND: dict[str, type[SpanHandle]] = {
    "llm": LLMSpan,
    "embedding": LLMSpan,
    "retrieval": RetrievalSpan,
    "rerank": RetrievalSpan,
    "tool": ToolSpan,
}


def current_span() -> SpanHandle:
    """A handle on the innermost active span (inside a decorated function, its own span)."""
    span = trace.get_current_span()
    kind = None
    try:  # the guard inline: this runs in every decorated function that reports anything
        attrs = getattr(span, "attributes", None)
        kind = attrs.get(A.SPAN_KIND) if attrs else None
    except Exception:
        report_internal_error("current_span")
    return HANDLE_BY_KIND.get(kind, SpanHandle)(span)  # type: ignore[arg-type]


def current_trace_id() -> str | None:
    """The active trace ID as 32 hex characters (None outside any span).

    Show it to the user as a reference, so support can find the trace::

        reference = spyglass.current_trace_id()
    """
    ctx = trace.get_current_span().get_span_context()
    return format_trace_id(ctx.trace_id) if ctx.is_valid else None
