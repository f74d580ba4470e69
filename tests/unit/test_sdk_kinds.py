"""Span kinds: the attributes and names each one sets, handles' setters, parent/child links."""

from __future__ import annotations

import hashlib
import re

import pytest
from opentelemetry.trace import format_span_id, format_trace_id

import spyglass
from spyglass import attributes as A
from spyglass.testing import capture_spans

TEMPLATE = "You are a careful assistant. Answer {question} using {context} only. XYZZY-TEMPLATE"


@pytest.mark.parametrize(
    ("factory", "name", "expected"),
    [
        (lambda: spyglass.workflow("answer_question"), "answer_question", {A.SPAN_KIND: "workflow"}),
        (lambda: spyglass.span("parse"), "parse", {A.SPAN_KIND: "span"}),
        (
            lambda: spyglass.embedding(model="emb-3", provider="openai"),
            "embeddings emb-3",
            {
                A.SPAN_KIND: "embedding",
                A.GEN_AI_OPERATION_NAME: "embeddings",
                A.GEN_AI_REQUEST_MODEL: "emb-3",
                A.GEN_AI_PROVIDER_NAME: "openai",
            },
        ),
        (
            lambda: spyglass.retrieval(corpus="kb", corpus_version="v7", top_k=5),
            "retrieval kb",
            {
                A.SPAN_KIND: "retrieval",
                A.GEN_AI_DATA_SOURCE_ID: "kb",
                A.RETRIEVAL_CORPUS_VERSION: "v7",
                A.RETRIEVAL_TOP_K: 5,
            },
        ),
        (
            lambda: spyglass.rerank(corpus="kb", top_k=3, model="rr-1"),
            "rerank kb",
            {
                A.SPAN_KIND: "rerank",
                A.GEN_AI_DATA_SOURCE_ID: "kb",
                A.RETRIEVAL_TOP_K: 3,
                A.GEN_AI_REQUEST_MODEL: "rr-1",
            },
        ),
        (
            lambda: spyglass.tool("issue_refund", schema_version="2", call_id="call_1"),
            "execute_tool issue_refund",
            {
                A.SPAN_KIND: "tool",
                A.GEN_AI_OPERATION_NAME: "execute_tool",
                A.GEN_AI_TOOL_NAME: "issue_refund",
                A.TOOL_SCHEMA_VERSION: "2",
                A.GEN_AI_TOOL_CALL_ID: "call_1",
            },
        ),
        (
            lambda: spyglass.llm(model="m1", provider="p1"),
            "chat m1",
            {
                A.SPAN_KIND: "llm",
                A.GEN_AI_OPERATION_NAME: "chat",
                A.GEN_AI_REQUEST_MODEL: "m1",
                A.GEN_AI_PROVIDER_NAME: "p1",
                A.LLM_ENDPOINT_TYPE: "live",
            },
        ),
    ],
)
def test_kind_context_manager_attributes(factory, name, expected) -> None:
    with capture_spans() as spans, factory():
        pass
    (s,) = spans.all()
    assert s.name == name
    for key, value in expected.items():
        assert s.attributes[key] == value, key
    assert s.attributes[A.SPAN_KIND] in A.KINDS


def test_llm_attributes_and_template_hash() -> None:
    with (
        capture_spans() as spans,
        spyglass.llm(
            model="gpt-4o-mini",
            provider="openai",
            prompt_name="answer",
            prompt_version="v3",
            prompt_template=TEMPLATE,
        ),
    ):
        pass
    (s,) = spans.all()
    attrs = dict(s.attributes)
    assert s.name == "chat gpt-4o-mini"
    assert attrs[A.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[A.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attrs[A.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[A.PROMPT_NAME] == "answer"
    assert attrs[A.PROMPT_VERSION] == "v3"
    expected_hash = hashlib.sha256(TEMPLATE.encode()).hexdigest()[:16]
    assert attrs[A.PROMPT_TEMPLATE_HASH] == expected_hash
    assert re.fullmatch(r"[0-9a-f]{16}", attrs[A.PROMPT_TEMPLATE_HASH])
    for key, value in attrs.items():
        assert "XYZZY-TEMPLATE" not in str(value), key
    assert A.LLM_FALLBACK not in attrs and A.LLM_BATCH_JOB_ID not in attrs


def test_llm_handle_setters() -> None:
    with capture_spans() as spans, spyglass.llm(model="m") as call:
        call.set_usage(input_tokens=120, output_tokens=30, cached_input_tokens=100)
        call.set_response(model="m-2024", finish_reason="stop", response_id="resp_1")
    (s,) = spans.all()
    assert s.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 120
    assert s.attributes[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 30
    assert s.attributes[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 100
    assert s.attributes[A.GEN_AI_RESPONSE_MODEL] == "m-2024"
    assert s.attributes[A.GEN_AI_RESPONSE_ID] == "resp_1"
    reasons = s.attributes[A.GEN_AI_RESPONSE_FINISH_REASONS]
    assert isinstance(reasons, (tuple, list)) and list(reasons) == ["stop"]


def test_llm_multiple_finish_reasons_and_partial_usage() -> None:
    with capture_spans() as spans, spyglass.llm(model="m") as call:
        call.set_usage(output_tokens=9)
        call.set_response(finish_reason=["stop", "length"])
    (s,) = spans.all()
    assert list(s.attributes[A.GEN_AI_RESPONSE_FINISH_REASONS]) == ["stop", "length"]
    assert s.attributes[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 9
    assert A.GEN_AI_USAGE_INPUT_TOKENS not in s.attributes


def test_llm_fallback_and_batch() -> None:
    with capture_spans() as spans:
        with spyglass.llm(model="small", fallback_from="big"):
            pass
        with spyglass.llm(model="m", batch_job_id="batch_42"):
            pass
        with spyglass.llm(model="m") as call:
            call.set_fallback("other")
            call.set_batch_job("batch_43")
    fallback, batch, later = spans.all()
    assert fallback.attributes[A.LLM_FALLBACK] is True
    assert fallback.attributes[A.LLM_FALLBACK_FROM] == "big"
    assert batch.attributes[A.LLM_ENDPOINT_TYPE] == "batch"
    assert batch.attributes[A.LLM_BATCH_JOB_ID] == "batch_42"
    assert later.attributes[A.LLM_FALLBACK] is True
    assert later.attributes[A.LLM_FALLBACK_FROM] == "other"
    assert later.attributes[A.LLM_ENDPOINT_TYPE] == "batch"
    assert later.attributes[A.LLM_BATCH_JOB_ID] == "batch_43"


def test_retrieval_documents_in_rank_order() -> None:
    with capture_spans() as spans, spyglass.retrieval(corpus="kb") as r:
        r.set_documents(["d3", "d1", 7], [0.9, 0.5, 1])
    (s,) = spans.all()
    assert list(s.attributes[A.RETRIEVAL_DOCUMENT_IDS]) == ["d3", "d1", "7"]
    assert list(s.attributes[A.RETRIEVAL_DOCUMENT_SCORES]) == [0.9, 0.5, 1.0]


def test_mismatched_scores_raise_with_flag_on() -> None:
    with capture_spans(), spyglass.retrieval(corpus="kb") as r, pytest.raises(ValueError):
        r.set_documents(["a", "b"], [0.1])


def test_mismatched_scores_swallowed_and_counted_with_flag_off(monkeypatch) -> None:
    monkeypatch.delenv("SPYGLASS_RAISE_INTERNAL_ERRORS")
    before = spyglass.sdk_stats()["internal_errors"]
    with capture_spans() as spans, spyglass.rerank(corpus="kb") as r:
        r.set_documents(["a", "b"], [0.1])
    assert spyglass.sdk_stats()["internal_errors"] == before + 1
    (s,) = spans.all()
    assert A.RETRIEVAL_DOCUMENT_SCORES not in s.attributes


def test_tool_authorization_denied() -> None:
    with capture_spans() as spans, spyglass.tool("issue_refund", schema_version="3") as t:
        t.set_authorization(False, "amount over limit")
    (s,) = spans.all()
    assert s.attributes[A.TOOL_SCHEMA_VERSION] == "3"
    assert s.attributes[A.TOOL_AUTHORIZATION] == "denied"
    assert s.attributes[A.TOOL_AUTHORIZATION_REASON] == "amount over limit"


def test_tool_authorization_allowed_without_reason() -> None:
    with capture_spans() as spans, spyglass.tool("search") as t:
        t.set_authorization(True)
    (s,) = spans.all()
    assert s.attributes[A.TOOL_AUTHORIZATION] == "allowed"
    assert A.TOOL_AUTHORIZATION_REASON not in s.attributes


@spyglass.workflow
def handle_request(x: int) -> int:
    return x * 2


@spyglass.tool
def lookup_order(order_id: str) -> str:
    return f"order {order_id}"


def test_bare_decorators() -> None:
    with capture_spans() as spans:
        assert handle_request(21) == 42
        assert lookup_order("o-1") == "order o-1"
    wf, tl = spans.all()
    assert handle_request.__name__ == "handle_request" and lookup_order.__name__ == "lookup_order"
    assert wf.name == "handle_request"
    assert wf.attributes[A.SPAN_KIND] == "workflow"
    assert tl.name == "execute_tool lookup_order"
    assert tl.attributes[A.SPAN_KIND] == "tool"
    assert tl.attributes[A.GEN_AI_TOOL_NAME] == "lookup_order"


def test_parent_child_relations_share_one_trace() -> None:
    with capture_spans() as spans, spyglass.workflow("wf") as wf:
        with spyglass.retrieval(corpus="kb"):
            pass
        with spyglass.llm(model="m"):
            pass
        with spyglass.tool("t"):
            pass
    by_kind = {s.attributes[A.SPAN_KIND]: s for s in spans.all()}
    root = by_kind["workflow"]
    assert root.parent is None
    assert format_span_id(root.context.span_id) == wf.span_id
    for kind in ("retrieval", "llm", "tool"):
        child = by_kind[kind]
        assert child.parent is not None
        assert child.parent.span_id == root.context.span_id
        assert child.context.trace_id == root.context.trace_id


def test_current_trace_id() -> None:
    assert spyglass.current_trace_id() is None
    with capture_spans() as spans, spyglass.workflow("wf") as wf:
        inside = spyglass.current_trace_id()
    assert spyglass.current_trace_id() is None
    assert inside is not None and re.fullmatch(r"[0-9a-f]{32}", inside)
    assert inside == wf.trace_id == format_trace_id(spans.all()[0].context.trace_id)


@spyglass.llm(model="m-dec")
def decorated_llm_call() -> str:
    handle = spyglass.current_span()
    assert isinstance(handle, spyglass.LLMSpan)
    handle.set_usage(input_tokens=11, output_tokens=22)
    return handle.span_id


def test_current_span_in_decorated_llm() -> None:
    with capture_spans() as spans, spyglass.workflow("wf"):
        span_id = decorated_llm_call()
    (call,) = spans.by_kind("llm")
    assert format_span_id(call.context.span_id) == span_id
    assert call.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 11
    assert call.attributes[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 22
    (wf,) = spans.by_kind("workflow")
    assert A.GEN_AI_USAGE_INPUT_TOKENS not in wf.attributes


def test_current_span_handle_types() -> None:
    with capture_spans():
        with spyglass.retrieval(corpus="kb"):
            assert type(spyglass.current_span()) is spyglass.RetrievalSpan
        with spyglass.tool("t"):
            assert type(spyglass.current_span()) is spyglass.ToolSpan
        with spyglass.workflow("w"):
            assert type(spyglass.current_span()) is spyglass.SpanHandle
