"""One span's details on the trace page: what it was, what it called, what came back.

Sections appear only when the span carries them (model route, retrieval, tool, content,
exception), so a span reads like the step it was. Values from clients go through
``_format.md`` before they reach markdown.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from ._format import duration, md, span_cost, timestamp, tokens


def _pretty(text: str) -> tuple[str, str]:
    """Captured content is often JSON (messages, tool arguments): indent it when it is."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False), "json"
    except (ValueError, TypeError):
        return text, "text"


def _facts(pairs: list[tuple[str, Any]]) -> None:
    lines = [f"**{label}:** {md(value)}" for label, value in pairs if value not in (None, "", [], False)]
    if lines:
        st.markdown("  \n".join(lines))


def render(span: dict[str, Any], names: dict[str, str]) -> None:
    """Show ``span`` (one node of the API's tree); ``names`` maps span IDs to names, to
    name the parent."""
    status = span.get("status") or {}
    st.subheader(span.get("name") or "(unnamed span)", anchor=False)
    _facts(
        [
            ("Kind", span.get("kind") or "other (not a Spyglass kind)"),
            ("Status", status.get("code")),
            ("Started", f"{timestamp(span.get('start_time'))} (+{duration(span.get('offset_ms'))})"),
            ("Duration", duration(span.get("duration_ms"))),
            ("Service", span.get("service")),
            ("Parent", names.get(span.get("parent_span_id") or "", span.get("parent_span_id"))),
            ("Span ID", span.get("span_id")),
        ]
    )
    if span.get("parent_missing"):
        st.caption("Its parent span never reached the collector, so it is shown as a root.")
    if span.get("parent_cycle") or span.get("reattached_depth"):
        st.caption("Its parent links form a cycle or nest too deep; the chain was cut here.")
    _error(span)
    _model(span)
    _retrieval(span)
    _tool(span)
    _content(span)
    _attributes(span)


def _error(span: dict[str, Any]) -> None:
    status = span.get("status") or {}
    exceptions = [e for e in span.get("events") or [] if e.get("name") == "exception"]
    if status.get("code") != "error" and not exceptions:
        return
    message = status.get("message") or "the span ended in error"
    error_type = f" ({md(span['error_type'])})" if span.get("error_type") else ""
    st.error(f"**Error**{error_type}: {md(message)}")
    for event in exceptions:
        attrs = event.get("attributes") or {}
        st.markdown(
            f"**Exception** at +{duration(event.get('offset_ms'))}: "
            f"{md(attrs.get('exception.type', '?'))}: {md(attrs.get('exception.message', ''))}"
        )
        if attrs.get("exception.stacktrace"):
            st.code(attrs["exception.stacktrace"], language="python")


def _model(span: dict[str, Any]) -> None:
    llm = span.get("llm") or {}
    if not (llm.get("request_model") or llm.get("response_model") or llm.get("provider")):
        return  # a tool span carries only the operation name here
    st.markdown("##### Model route")
    prompt = llm.get("prompt_name")
    if prompt and llm.get("prompt_version"):
        prompt = f"{prompt}@{llm['prompt_version']}"
    fallback = None
    if llm.get("is_fallback") or llm.get("fallback_from"):
        fallback = f"yes, after {llm['fallback_from']} failed" if llm.get("fallback_from") else "yes"
    _facts(
        [
            ("Provider", llm.get("provider")),
            ("Model requested", llm.get("request_model")),
            ("Model answered", llm.get("response_model")),
            ("Prompt", prompt),
            ("Prompt hash", llm.get("prompt_hash")),
            ("Fallback", fallback),
            ("Operation", llm.get("operation")),
            ("Endpoint", llm.get("endpoint_type")),
            ("Batch job", llm.get("batch_job_id")),
            ("Finish reasons", ", ".join(llm.get("finish_reasons") or [])),
        ]
    )
    usage = None
    if llm.get("input_tokens") is not None or llm.get("output_tokens") is not None:
        usage = tokens(llm.get("input_tokens"), llm.get("output_tokens"))
        if llm.get("cached_input_tokens"):
            usage += f" ({llm['cached_input_tokens']:,} input cached)"
    _facts([("Tokens", usage), ("Cost", span_cost(span.get("cost")))])


def _retrieval(span: dict[str, Any]) -> None:
    retrieval = span.get("retrieval")
    if not retrieval:
        return
    st.markdown("##### Retrieved documents")
    corpus = retrieval.get("corpus")
    if corpus and retrieval.get("corpus_version"):
        corpus = f"{corpus}@{retrieval['corpus_version']}"
    _facts([("Corpus", corpus), ("top_k", retrieval.get("top_k"))])
    documents = sorted(retrieval.get("documents") or [], key=lambda d: d.get("rank") or 0)
    if documents:
        st.dataframe(
            [{"rank": d.get("rank"), "document": d.get("id"), "score": d.get("score")} for d in documents],
            hide_index=True,
            column_config={"score": st.column_config.NumberColumn(format="%.4f")},
        )
    else:
        st.caption("The retrieval returned no documents.")


def _tool(span: dict[str, Any]) -> None:
    tool = span.get("tool")
    if not tool:
        return
    st.markdown("##### Tool call")
    _facts(
        [
            ("Tool", tool.get("name")),
            ("Schema version", tool.get("schema_version")),
            ("Call ID", tool.get("call_id")),
        ]
    )
    outcome = tool.get("authorization")
    reason = tool.get("authorization_reason")
    because = f": {md(reason)}" if reason else ""
    if outcome == "denied":
        st.error(f"**Denied** by the application{because}", icon=":material/block:")
    elif outcome == "allowed":
        st.success(f"**Allowed** by the application{because}", icon=":material/check_circle:")
    else:
        st.caption("No authorization decision was recorded for this call.")


def _content(span: dict[str, Any]) -> None:
    content = span.get("content") or {}
    is_tool = bool(span.get("tool"))
    labels = {"input": "Arguments" if is_tool else "Input", "output": "Result" if is_tool else "Output"}
    if not content:
        if span.get("llm") or is_tool:
            st.caption("Content not captured (capture_content was off).")
        return
    for field in ("input", "output"):
        if content.get(field):
            text, language = _pretty(content[field])
            st.markdown(f"##### {labels[field]}")
            st.code(text, language=language, wrap_lines=True)


def _attributes(span: dict[str, Any]) -> None:
    attributes = span.get("attributes") or {}
    events = [e for e in span.get("events") or [] if e.get("name") != "exception"]
    with st.expander(f"Attributes ({len(attributes)}), events ({len(events)}), resource"):
        if attributes:
            st.dataframe(
                [{"attribute": k, "value": v} for k, v in sorted(attributes.items())], hide_index=True
            )
        for event in events:
            st.markdown(f"**Event** {md(event.get('name'))} at +{duration(event.get('offset_ms'))}")
            if event.get("attributes"):
                st.json(event["attributes"], expanded=False)
        st.json(
            {"resource": span.get("resource") or {}, "scope": span.get("scope") or {}},
            expanded=False,
        )
