"""The span kinds of an LLM application: ``workflow``, ``llm``, ``retrieval``, ``rerank``,
``embedding``, ``tool`` and a generic ``span``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from . import attributes as A
from ._instrument import SpanFactory, static_attributes
from ._spans import LLMSpan, RetrievalSpan, SpanHandle, ToolSpan


def _factory(
    kind: str,
    name: Any,
    values: dict[str, Any],
    extra: dict[str, Any] | None,
    handle: type,
    default_name: str | None,
) -> Any:
    func = None
    if callable(name):  # bare decorator: @spyglass.workflow
        func, name = name, None
    attrs = static_attributes(kind, {**values, **(extra or {})})
    factory: SpanFactory[Any] = SpanFactory(name or default_name, attrs, handle)
    return factory(func) if func is not None else factory


def workflow(
    name: str | Callable[..., Any] | None = None, *, attributes: dict[str, Any] | None = None
) -> SpanFactory[SpanHandle]:
    """The root of one request: ``with spyglass.workflow("answer_question"):`` or
    ``@spyglass.workflow`` (the span is named after the function)."""
    return _factory("workflow", name, {}, attributes, SpanHandle, None)


def span(
    name: str | Callable[..., Any] | None = None, *, attributes: dict[str, Any] | None = None
) -> SpanFactory[SpanHandle]:
    """A generic step of the application's own code."""
    return _factory("span", name, {}, attributes, SpanHandle, None)


def llm(
    name: str | Callable[..., Any] | None = None,
    *,
    model: str | None = None,
    provider: str | None = None,
    prompt_name: str | None = None,
    prompt_version: str | None = None,
    prompt_template: str | None = None,
    endpoint_type: str = "live",
    batch_job_id: str | None = None,
    fallback_from: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> SpanFactory[LLMSpan]:
    """One model call. ``prompt_template`` is hashed, never exported; ``fallback_from`` marks
    this call as the fallback route that replaced the named model.

    Example::

        with spyglass.llm(model="gpt-4o-mini", provider="openai",
                          prompt_name="answer", prompt_version="v3") as call:
            call.set_usage(input_tokens=120, output_tokens=30)
    """
    template_hash = (
        hashlib.sha256(prompt_template.encode()).hexdigest()[:16] if prompt_template is not None else None
    )
    values = {
        A.GEN_AI_OPERATION_NAME: "chat",
        A.GEN_AI_REQUEST_MODEL: model,
        A.GEN_AI_PROVIDER_NAME: provider,
        A.PROMPT_NAME: prompt_name,
        A.PROMPT_VERSION: prompt_version,
        A.PROMPT_TEMPLATE_HASH: template_hash,
        A.LLM_ENDPOINT_TYPE: "batch" if batch_job_id else endpoint_type,
        A.LLM_BATCH_JOB_ID: batch_job_id,
        A.LLM_FALLBACK: True if fallback_from else None,
        A.LLM_FALLBACK_FROM: fallback_from,
    }
    return _factory("llm", name, values, attributes, LLMSpan, f"chat {model}" if model else "chat")


def embedding(
    name: str | Callable[..., Any] | None = None,
    *,
    model: str | None = None,
    provider: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> SpanFactory[LLMSpan]:
    """An embedding call (token usage through ``set_usage``)."""
    values = {
        A.GEN_AI_OPERATION_NAME: "embeddings",
        A.GEN_AI_REQUEST_MODEL: model,
        A.GEN_AI_PROVIDER_NAME: provider,
    }
    return _factory(
        "embedding", name, values, attributes, LLMSpan, f"embeddings {model}" if model else "embeddings"
    )


def _retrieval_kind(
    kind: str,
    name: Any,
    corpus: str | None,
    corpus_version: str | None,
    top_k: int | None,
    model: str | None,
    attributes: dict[str, Any] | None,
) -> Any:
    values = {
        A.GEN_AI_DATA_SOURCE_ID: corpus,
        A.RETRIEVAL_CORPUS_VERSION: corpus_version,
        A.RETRIEVAL_TOP_K: top_k,
        A.GEN_AI_REQUEST_MODEL: model,
    }
    return _factory(kind, name, values, attributes, RetrievalSpan, f"{kind} {corpus}" if corpus else kind)


def retrieval(
    name: str | Callable[..., Any] | None = None,
    *,
    corpus: str | None = None,
    corpus_version: str | None = None,
    top_k: int | None = None,
    attributes: dict[str, Any] | None = None,
) -> SpanFactory[RetrievalSpan]:
    """A search over a corpus; report what came back with ``set_documents(ids, scores)``."""
    return _retrieval_kind("retrieval", name, corpus, corpus_version, top_k, None, attributes)


def rerank(
    name: str | Callable[..., Any] | None = None,
    *,
    corpus: str | None = None,
    corpus_version: str | None = None,
    top_k: int | None = None,
    model: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> SpanFactory[RetrievalSpan]:
    """A reranking of retrieved documents; report the new order with ``set_documents``."""
    return _retrieval_kind("rerank", name, corpus, corpus_version, top_k, model, attributes)


def tool(
    tool_name: str | Callable[..., Any] | None = None,
    *,
    schema_version: str | None = None,
    call_id: str | None = None,
    name: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> SpanFactory[ToolSpan]:
    """A tool call the model requested: ``with spyglass.tool("issue_refund") as t:`` then
    ``t.set_authorization(allowed=False, reason=...)``. As a bare decorator the tool is
    named after the function."""
    if callable(tool_name):
        func = tool_name
        return tool(
            func.__name__, schema_version=schema_version, call_id=call_id, name=name, attributes=attributes
        )(func)
    values = {
        A.GEN_AI_OPERATION_NAME: "execute_tool",
        A.GEN_AI_TOOL_NAME: tool_name,
        A.TOOL_SCHEMA_VERSION: schema_version,
        A.GEN_AI_TOOL_CALL_ID: call_id,
    }
    return _factory(
        "tool",
        name,
        values,
        attributes,
        ToolSpan,
        f"execute_tool {tool_name}" if tool_name else "execute_tool",
    )
