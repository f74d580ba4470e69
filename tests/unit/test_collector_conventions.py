"""Other instrumentations' names -> Spyglass columns (``collector/conventions.py``), for the
shapes the corpus does not cover (older names, events, retrieval, Traceloop workflows, Langfuse
prompts), precedence, the duplicate rule (``collector/duplicates.py``) and the redaction of
third-party content on arrival (``collector/redaction.py``)."""

from __future__ import annotations

import json
import os
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from spyglass.collector.normalize import normalize
from spyglass.collector.redaction import redact_third_party_content
from tests import payloads as P


def rows(*spans: Span, scope: str = "test") -> list[dict[str, Any]]:
    request = P.request(*spans)
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            ss.scope.name = scope
    return normalize(request).table.to_pylist()


def one(
    attrs: dict[str, Any], events: tuple[tuple[str, dict[str, Any]], ...] = (), **kw: Any
) -> dict[str, Any]:
    span = P.span(os.urandom(16), attrs=attrs, **kw)
    for name, event_attrs in events:
        span.events.add(name=name, time_unix_nano=span.start_time_unix_nano, attributes=P.kvs(event_attrs))
    (row,) = rows(span)
    return row


def test_older_genai_names_indexed_messages_and_events() -> None:
    row = one(
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 10,
            "gen_ai.usage.completion_tokens": 3,
            "llm.request.type": "chat",
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "hello",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "hi",
        }
    )
    assert (row["kind"], row["operation"], row["provider"]) == ("llm", "chat", "openai")
    assert (row["input_tokens"], row["output_tokens"]) == (10, 3)
    assert json.loads(row["input"]) == [{"role": "user", "content": "hello"}]
    assert json.loads(row["output"]) == [{"role": "assistant", "content": "hi"}]
    assert not any(k.startswith(("gen_ai.prompt", "gen_ai.completion")) for k, _ in row["attributes"])

    row = one(
        {"gen_ai.operation.name": "chat"},
        events=[
            ("gen_ai.content.prompt", {"gen_ai.prompt": "question?"}),
            ("gen_ai.choice", {"message": "answer"}),
        ],
    )
    assert row["input"] == '{"gen_ai.prompt":"question?"}' and row["output"] == '{"message":"answer"}'
    assert row["events_name"] == ["gen_ai.content.prompt", "gen_ai.choice"]
    assert row["events_attributes"] == [[], []]  # the content left the events for the columns


def test_openinference_retriever_documents_and_content() -> None:
    row = one(
        {
            "openinference.span.kind": "RETRIEVER",
            "input.value": "refund window",
            "retrieval.documents.0.document.id": "doc-7",
            "retrieval.documents.0.document.score": 0.9,
            "retrieval.documents.0.document.content": "Refunds within 30 days",
            "retrieval.documents.1.document.id": "doc-2",
            "retrieval.documents.1.document.score": 0.4,
        }
    )
    assert row["kind"] == "retrieval"
    assert row["document_ids"] == ["doc-7", "doc-2"] and row["document_scores"] == [
        0.8999999761581421,
        0.4000000059604645,
    ]
    assert row["input"] == "refund window"
    assert json.loads(row["output"]) == [{"content": "Refunds within 30 days"}, {}]
    assert dict(row["attributes"]) == {"openinference.span.kind": "RETRIEVER"}


def test_openinference_tool_span_and_prompt_template() -> None:
    row = one(
        {
            "openinference.span.kind": "TOOL",
            "tool.name": "issue_refund",
            "input.value": '{"order": 7}',
            "output.value": "ok",
            "llm.prompt_template.template": "Answer {question}",
        }
    )
    assert (row["kind"], row["operation"], row["tool_name"]) == ("tool", "execute_tool", "issue_refund")
    assert (row["input"], row["output"]) == ('{"order":7}', "ok")
    assert len(row["prompt_hash"]) == 16


def test_traceloop_workflow_association_properties_and_tool_name() -> None:
    row = one(
        {
            "traceloop.span.kind": "tool",
            "traceloop.entity.name": "lookup_order",
            "traceloop.entity.input": '{"args": [1]}',
            "traceloop.workflow.name": "support",
            "traceloop.association.properties.user_id": "u1",
            "traceloop.association.properties.tenant_id": "acme",
            "traceloop.prompt.version": 4,
        },
        name="lookup_order.tool",
    )
    assert (row["kind"], row["tool_name"], row["workflow"]) == ("tool", "lookup_order", "support")
    assert (row["user_id"], row["tenant"], row["prompt_version"]) == ("u1", "acme", "4")
    assert row["input"] == '{"args":[1]}'


def test_langfuse_prompt_usage_details_and_release() -> None:
    row = one(
        {
            "langfuse.observation.type": "generation",
            "langfuse.observation.model.name": "claude-3-5-haiku",
            "langfuse.observation.prompt.name": "answer",
            "langfuse.observation.prompt.version": 3,
            "langfuse.observation.usage_details": '{"input": 100, "output": 20, "input_cached_tokens": 40}',
            "langfuse.release": "2026.11.2",
            "langfuse.trace.name": "support-bot",
        }
    )
    assert (row["kind"], row["request_model"]) == ("llm", "claude-3-5-haiku")
    assert (row["prompt_name"], row["prompt_version"]) == ("answer", "3")
    assert (row["input_tokens"], row["output_tokens"], row["cached_input_tokens"]) == (100, 20, 40)
    assert (row["release"], row["workflow"]) == ("2026.11.2", "support-bot")
    assert "langfuse.observation.usage_details" in dict(row["attributes"])  # the library's own record stays


def test_spyglass_and_current_names_win_over_foreign_ones_which_stay() -> None:
    row = one(
        {
            "spyglass.span.kind": "embedding",
            "openinference.span.kind": "LLM",
            "gen_ai.usage.input_tokens": 5,
            "llm.token_count.prompt": 99,
            "gen_ai.input.messages": "[1]",
            "input.value": "restated",
        }
    )
    assert (row["kind"], row["input_tokens"], row["input"]) == ("embedding", 5, "[1]")
    attrs = dict(row["attributes"])
    assert attrs["llm.token_count.prompt"] == "99"  # not used, so kept
    assert "input.value" not in attrs  # content never stays in the map, even when restated


def _call(tid: bytes, scope: str, *, parent: bytes = b"", span_id: bytes | None = None, start: int) -> Any:
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 2,
    }
    span = P.span(tid, parent=parent, span_id=span_id, attrs=attrs, start_ns=start, duration_ns=1000)
    return scope, span


def _rows_by_scope(*calls: tuple[str, Span]) -> list[dict[str, Any]]:
    request = P.request()
    request.resource_spans.add()
    for scope, span in calls:
        ss = request.resource_spans[0].scope_spans.add()
        ss.scope.name = scope
        ss.spans.append(span)
    return normalize(request).table.to_pylist()


def test_side_by_side_calls_from_two_instrumentations_count_once() -> None:
    tid, root = os.urandom(16), os.urandom(8)
    a, b = (
        _call(tid, "openinference", parent=root, start=1000),
        _call(tid, "openllmetry", parent=root, start=1100),
    )
    first, second = _rows_by_scope(a, b)
    assert (first["input_tokens"], second["input_tokens"]) == (10, None)
    attrs = dict(second["attributes"])
    assert attrs["spyglass.llm.duplicate_of"] == first["span_id"].hex()
    assert attrs["gen_ai.usage.input_tokens"] == "10"  # still visible on the span


def test_two_calls_from_one_instrumentation_or_apart_in_time_both_count() -> None:
    tid, root = os.urandom(16), os.urandom(8)
    same_scope = _rows_by_scope(
        _call(tid, "openai_v2", parent=root, start=1000), _call(tid, "openai_v2", parent=root, start=1100)
    )
    assert [r["input_tokens"] for r in same_scope] == [10, 10]
    apart = _rows_by_scope(
        _call(tid, "openai_v2", parent=root, start=1000), _call(tid, "other", parent=root, start=5000)
    )
    assert [r["input_tokens"] for r in apart] == [10, 10]


def test_nested_model_spans_count_the_innermost() -> None:
    tid, outer = os.urandom(16), os.urandom(8)
    middle = os.urandom(8)
    outer_row, middle_row, inner_row = _rows_by_scope(
        _call(tid, "langfuse", span_id=outer, start=1000),
        ("http", P.span(tid, parent=outer, span_id=middle, start_ns=1010)),
        _call(tid, "openai_v2", parent=middle, start=1020),
    )
    assert outer_row["input_tokens"] is None and inner_row["input_tokens"] == 10
    assert dict(outer_row["attributes"])["spyglass.llm.duplicate_of"] == inner_row["span_id"].hex()
    assert middle_row["kind"] == ""


def test_third_party_content_is_redacted_and_the_sdks_own_is_left_alone() -> None:
    attrs = {
        "gen_ai.input.messages": '[{"content": "mail bob@example.com"}]',
        "output.value": "call +1 415 555 0100",
    }
    request = P.request()
    request.resource_spans.add()
    for scope in ("openinference.instrumentation.openai", "spyglass"):
        ss = request.resource_spans[0].scope_spans.add()
        ss.scope.name = scope
        ss.spans.append(P.span(os.urandom(16), attrs=attrs))
    table = normalize(request).table
    third, own = redact_third_party_content(table).to_pylist()
    assert json.loads(third["input"]) == [{"content": "mail [REDACTED:email]"}]
    assert "415" not in third["output"] and "[REDACTED:" in third["output"]
    assert dict(third["attributes"])["spyglass.redaction.email"] == "1"
    raw = table.to_pylist()[1]
    assert (own["input"], own["output"]) == (raw["input"], raw["output"])  # redacted in its process
    assert "bob@example.com" in own["input"]
    assert redact_third_party_content(table.slice(0, 0)).num_rows == 0
