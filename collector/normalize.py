"""OTLP spans -> rows of the ``spans`` table, as one Arrow table per request.

Other instrumentations' names are first translated into Spyglass's (``conventions``); then
typed columns are filled from attributes through ``STRING_SOURCES`` / ``COUNT_SOURCES`` (first
listed name wins); an attribute used for a column leaves the map, every other attribute stays
in it, so nothing a client sent is lost. A span that cannot be stored (bad IDs, bad timestamps)
is rejected on its own, with a reason, and the rest of the batch goes through. Finally, a model
call recorded twice in the batch (two instrumentations) is counted once (``duplicates``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from spyglass import attributes as A

from . import conventions, duplicates
from .store.queries import SPAN_COLUMNS

_STR_MAP = pa.map_(pa.string(), pa.string())
_TS = pa.timestamp("ns", tz="UTC")

SCHEMA = pa.schema(
    [
        (c, t)
        for c, t in {
            "trace_id": pa.binary(16),
            "span_id": pa.binary(8),
            "parent_span_id": pa.binary(8),
            "flags": pa.uint32(),
            "start_time": _TS,
            "duration_ns": pa.uint64(),
            "input_tokens": pa.uint32(),
            "output_tokens": pa.uint32(),
            "cached_input_tokens": pa.uint32(),
            "top_k": pa.uint32(),
            "finish_reasons": pa.list_(pa.string()),
            "is_fallback": pa.bool_(),
            "document_ids": pa.list_(pa.string()),
            "document_scores": pa.list_(pa.float32()),
            "attributes": _STR_MAP,
            "resource_attributes": _STR_MAP,
            "scope_attributes": _STR_MAP,
            "events_time": pa.list_(_TS),
            "events_name": pa.list_(pa.string()),
            "events_attributes": pa.list_(_STR_MAP),
            "links_trace_id": pa.list_(pa.binary(16)),
            "links_span_id": pa.list_(pa.binary(8)),
            "links_trace_state": pa.list_(pa.string()),
            "links_attributes": pa.list_(_STR_MAP),
            "dropped_attributes_count": pa.uint32(),
            "dropped_events_count": pa.uint32(),
            "dropped_links_count": pa.uint32(),
        }.items()
    ]
)

# Column -> attribute names that fill it, in order of precedence.
STRING_SOURCES: dict[str, tuple[str, ...]] = {
    "tenant": (A.COHORT_TENANT,),
    "workflow": (A.COHORT_WORKFLOW,),
    "intent": (A.COHORT_INTENT,),
    "release": (A.COHORT_RELEASE,),
    "user_id": (A.USER_ID,),
    "session_id": (A.SESSION_ID,),
    "operation": (A.GEN_AI_OPERATION_NAME,),
    "provider": (A.GEN_AI_PROVIDER_NAME, A.GEN_AI_SYSTEM),
    "request_model": (A.GEN_AI_REQUEST_MODEL,),
    "response_model": (A.GEN_AI_RESPONSE_MODEL,),
    "endpoint_type": (A.LLM_ENDPOINT_TYPE,),
    "batch_job_id": (A.LLM_BATCH_JOB_ID,),
    "prompt_name": (A.PROMPT_NAME,),
    "prompt_version": (A.PROMPT_VERSION,),
    "prompt_hash": (A.PROMPT_TEMPLATE_HASH,),
    "fallback_from": (A.LLM_FALLBACK_FROM,),
    "corpus": (A.GEN_AI_DATA_SOURCE_ID,),
    "corpus_version": (A.RETRIEVAL_CORPUS_VERSION,),
    "tool_name": (A.GEN_AI_TOOL_NAME,),
    "tool_schema_version": (A.TOOL_SCHEMA_VERSION,),
    "tool_call_id": (A.GEN_AI_TOOL_CALL_ID,),
    "authorization": (A.TOOL_AUTHORIZATION,),
    "authorization_reason": (A.TOOL_AUTHORIZATION_REASON,),
    "error_type": ("error.type",),
    "data_class": (A.DATA_CLASS,),
    "input": (A.GEN_AI_INPUT_MESSAGES, A.GEN_AI_TOOL_CALL_ARGUMENTS, A.INPUT),
    "output": (A.GEN_AI_OUTPUT_MESSAGES, A.GEN_AI_TOOL_CALL_RESULT, A.OUTPUT),
}
COUNT_SOURCES: dict[str, tuple[str, ...]] = {
    "input_tokens": (A.GEN_AI_USAGE_INPUT_TOKENS, A.GEN_AI_USAGE_PROMPT_TOKENS),
    "output_tokens": (A.GEN_AI_USAGE_OUTPUT_TOKENS, A.GEN_AI_USAGE_COMPLETION_TOKENS),
    "cached_input_tokens": (A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,),
    "top_k": (A.RETRIEVAL_TOP_K,),
}
# gen_ai.operation.name -> Spyglass kind, for spans from other instrumentations.
KIND_BY_OPERATION = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "embeddings": "embedding",
    "execute_tool": "tool",
}
_SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
_STATUS = ("unset", "ok", "error")
_MAX_NS = 2**63 - 1
_UINT32 = 2**32


@dataclass
class Normalized:
    """The rows of one export request, and what was rejected (with reasons)."""

    table: pa.Table
    accepted: int
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def error_message(self, limit: int = 5) -> str:
        shown = "; ".join(self.errors[:limit])
        more = len(self.errors) - limit
        return shown + (f"; and {more} more" if more > 0 else "")


def any_value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "string_value":  # most attributes: first
        return value.string_value
    if which is None:
        return None
    if which == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, which)


def as_text(value: Any) -> str:
    """How a non-string attribute value is kept in a string map: JSON, so types survive."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _attrs(kvs: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}


def _text_map(attrs: dict[str, Any]) -> dict[str, str]:
    return {k: as_text(v) for k, v in attrs.items() if v is not None}


# Attribute name -> (column, precedence): a span's few attributes are looked up here, rather
# than every column's names looked up in each span (a quarter of normalizing, profiled).
_STRING_BY_NAME = {n: (c, rank) for c, names in STRING_SOURCES.items() for rank, n in enumerate(names)}
_COUNT_BY_NAME = {n: (c, rank) for c, names in COUNT_SOURCES.items() for rank, n in enumerate(names)}
assert not _STRING_BY_NAME.keys() & _COUNT_BY_NAME.keys(), "an attribute fills one column"


def _take_typed(attrs: dict[str, Any]) -> tuple[dict[str, str], dict[str, int]]:
    """The string and count columns ``attrs`` fill (column -> value; per column the first
    listed name with a value of the right type wins), each used attribute removed from ``attrs``."""
    strings: dict[str, tuple[int, str, str]] = {}  # column -> (precedence, name, value)
    counts: dict[str, tuple[int, str, int]] = {}
    for name, value in attrs.items():
        hit = _STRING_BY_NAME.get(name)
        if hit is not None:
            if isinstance(value, str) and (hit[0] not in strings or hit[1] < strings[hit[0]][0]):
                strings[hit[0]] = (hit[1], name, value)
            continue
        hit = _COUNT_BY_NAME.get(name)
        if (
            hit is not None
            and isinstance(value, int)
            and not isinstance(value, bool)
            and 0 <= value < _UINT32
            and (hit[0] not in counts or hit[1] < counts[hit[0]][0])
        ):
            counts[hit[0]] = (hit[1], name, value)
    for _, name, _ in strings.values():
        del attrs[name]
    for _, name, _ in counts.values():
        del attrs[name]
    return {c: v for c, (_, _, v) in strings.items()}, {c: v for c, (_, _, v) in counts.items()}


def _take_list(attrs: dict[str, Any], name: str, kind: type) -> list[Any]:
    value = attrs.get(name)
    if isinstance(value, str) and value.startswith("["):  # a JSON array (Logfire writes these)
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if isinstance(value, list) and all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
        del attrs[name]
        return value
    return []


def _fill_from_kind(cols: dict[str, list[Any]], kind: str, span_name: str, attrs: dict[str, Any]) -> None:
    """What a foreign span implies but does not name: the operation of its kind, the tool a
    model call asked for (from its output), a tool span's name as its tool."""
    if not cols["operation"][-1] and kind in A.OPERATION_BY_KIND:
        cols["operation"][-1] = A.OPERATION_BY_KIND[kind]
    if cols["tool_name"][-1]:
        return
    if kind == "llm" and cols["output"][-1]:
        cols["tool_name"][-1], call_id = conventions.requested_tool(cols["output"][-1])
        cols["tool_call_id"][-1] = cols["tool_call_id"][-1] or call_id
    elif kind == "tool":
        entity = attrs.get("traceloop.entity.name")
        cols["tool_name"][-1] = entity if isinstance(entity, str) and entity else span_name


def _exception_type(span: Any, events_attrs: list[dict[str, Any]]) -> str:
    """The first recorded exception's type, for error spans that carry no ``error.type``."""
    if span.status.code != 2:
        return ""
    for event, attrs in zip(span.events, events_attrs, strict=True):
        if event.name == "exception" and attrs.get("exception.type"):
            return str(attrs["exception.type"])
    return ""


def _check_span(span: Any) -> str | None:
    if len(span.trace_id) != 16 or not any(span.trace_id):
        return "trace_id must be 16 bytes (32 hex characters), not all zero"
    if len(span.span_id) != 8 or not any(span.span_id):
        return "span_id must be 8 bytes (16 hex characters), not all zero"
    if len(span.parent_span_id) not in (0, 8):
        return "parent_span_id must be empty or 8 bytes (16 hex characters)"
    if span.start_time_unix_nano == 0 or span.start_time_unix_nano > _MAX_NS:
        return "start_time_unix_nano is missing or out of range"
    if span.end_time_unix_nano < span.start_time_unix_nano or span.end_time_unix_nano > _MAX_NS:
        return "end_time_unix_nano is before start_time_unix_nano or out of range"
    return None


def normalize(
    request: ExportTraceServiceRequest, default_project: str = "default", project: str | None = None
) -> Normalized:
    """Turn one export request into span rows (an Arrow table in ``SPAN_COLUMNS`` order).
    Spans go to the project their resource names (``spyglass.project``), else ``default_project``;
    ``project``, when given (an API key's project), overrides both."""
    forced_project = project
    cols: dict[str, list[Any]] = {c: [] for c in SPAN_COLUMNS}
    string_columns = [(c, cols[c].append) for c in STRING_SOURCES]
    count_columns = [(c, cols[c].append) for c in COUNT_SOURCES]
    errors: list[str] = []
    rejected = 0
    for rs in request.resource_spans:
        resource = _attrs(rs.resource.attributes)
        resource_text = _text_map(resource)
        service = resource.get("service.name")
        service = service if isinstance(service, str) else ""
        project = resource.get(A.PROJECT)
        project = project if isinstance(project, str) and project else default_project
        project = forced_project or project
        for ss in rs.scope_spans:
            scope_attrs = _text_map(_attrs(ss.scope.attributes))
            for span in ss.spans:
                problem = _check_span(span)
                if problem is not None:
                    rejected += 1
                    errors.append(f"span {span.name[:100]!r}: {problem}")
                    continue
                attrs = _attrs(span.attributes)
                events = [(e.name, _attrs(e.attributes)) for e in span.events] if span.events else []
                conventions.translate(attrs, events)
                cols["project"].append(project)
                cols["trace_id"].append(span.trace_id)
                cols["span_id"].append(span.span_id)
                cols["parent_span_id"].append(span.parent_span_id or b"\x00" * 8)
                cols["trace_state"].append(span.trace_state)
                cols["flags"].append(span.flags)
                cols["start_time"].append(span.start_time_unix_nano)
                cols["duration_ns"].append(span.end_time_unix_nano - span.start_time_unix_nano)
                cols["name"].append(span.name)
                cols["span_kind"].append(_SPAN_KINDS[span.kind] if span.kind < 6 else str(span.kind))
                cols["status_code"].append(_STATUS[span.status.code] if span.status.code < 3 else "unset")
                cols["status_message"].append(span.status.message)
                cols["service"].append(service)
                cols["scope_name"].append(ss.scope.name)
                cols["scope_version"].append(ss.scope.version)
                strings, counts = _take_typed(attrs)
                for column, append in string_columns:
                    append(strings.get(column, ""))
                for column, append in count_columns:
                    append(counts.get(column))
                kind = attrs.get(A.SPAN_KIND)
                if isinstance(kind, str) and kind in A.KINDS:
                    del attrs[A.SPAN_KIND]
                else:
                    kind = conventions.kind_of(attrs) or KIND_BY_OPERATION.get(cols["operation"][-1], "")
                cols["kind"].append(kind)
                _fill_from_kind(cols, kind, span.name, attrs)
                fallback = attrs.get(A.LLM_FALLBACK)
                if isinstance(fallback, bool):
                    del attrs[A.LLM_FALLBACK]
                # A call naming the model it fell back from is a fallback, flag or not.
                cols["is_fallback"].append(fallback is True or bool(cols["fallback_from"][-1]))
                cols["finish_reasons"].append(_take_list(attrs, A.GEN_AI_RESPONSE_FINISH_REASONS, str))
                cols["document_ids"].append(_take_list(attrs, A.RETRIEVAL_DOCUMENT_IDS, str))
                scores = _take_list(attrs, A.RETRIEVAL_DOCUMENT_SCORES, (int, float))  # type: ignore[arg-type]
                cols["document_scores"].append([float(s) for s in scores])
                events_attrs = [ea for _, ea in events]
                if not cols["error_type"][-1]:
                    cols["error_type"][-1] = _exception_type(span, events_attrs)
                cols["attributes"].append(_text_map(attrs))
                cols["resource_attributes"].append(resource_text)
                cols["scope_attributes"].append(scope_attrs)
                if events:
                    cols["events_time"].append([e.time_unix_nano for e in span.events])
                    cols["events_name"].append([e.name for e in span.events])
                    cols["events_attributes"].append([_text_map(ea) for ea in events_attrs])
                else:
                    cols["events_time"].append([])
                    cols["events_name"].append([])
                    cols["events_attributes"].append([])
                valid_links = (
                    [lk for lk in span.links if len(lk.trace_id) == 16 and len(lk.span_id) == 8]
                    if span.links
                    else []
                )
                cols["links_trace_id"].append([lk.trace_id for lk in valid_links])
                cols["links_span_id"].append([lk.span_id for lk in valid_links])
                cols["links_trace_state"].append([lk.trace_state for lk in valid_links])
                cols["links_attributes"].append([_text_map(_attrs(lk.attributes)) for lk in valid_links])
                cols["dropped_attributes_count"].append(span.dropped_attributes_count)
                cols["dropped_events_count"].append(span.dropped_events_count)
                cols["dropped_links_count"].append(
                    span.dropped_links_count + len(span.links) - len(valid_links)
                )
    duplicates.count_once(cols)
    table = pa.Table.from_pydict(
        {
            c: pa.array(cols[c], SCHEMA.field(c).type if c in SCHEMA.names else pa.string())
            for c in SPAN_COLUMNS
        }
    )
    return Normalized(table=table, accepted=table.num_rows, rejected=rejected, errors=errors)
