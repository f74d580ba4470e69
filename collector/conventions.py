"""Other instrumentations' attribute names -> the names Spyglass reads, one table per convention.

Spans from the OpenTelemetry GenAI instrumentations, OpenInference (Arize), OpenLLMetry
(Traceloop), Langfuse v3 and Pydantic Logfire name the same facts differently. ``translate``
rewrites a span's attributes into Spyglass's own vocabulary (the GenAI semantic-convention
names plus ``spyglass.*``, see ``spyglass.attributes``) before ``normalize`` fills the typed
columns, so every later stage (columns, policy transforms, TTL, cost) treats a third-party
span exactly like one from the Spyglass SDK.

Order of precedence, first wins: the span's own Spyglass / current GenAI names, then the tables
in ``CONVENTIONS`` order: GenAI (older names), OpenInference, OpenLLMetry, Langfuse, Logfire.
A foreign value never overwrites a name already present.

- Plain values are renamed (the foreign attribute leaves the map: its value is now in a column).
- Values inside a JSON attribute (Langfuse usage details, OpenInference invocation parameters
  and metadata) are copied; the JSON attribute stays.
- Content (prompts, completions, tool arguments and results, document text) always leaves the
  attribute map: it goes to ``spyglass.input`` / ``spyglass.output`` (so into the ``input`` /
  ``output`` columns that capture policy, redaction and content TTL act on), unless that side
  is already filled, in which case the foreign copy restates it and is dropped. Indexed
  messages (``llm.input_messages.0.message.content``, ``gen_ai.prompt.0.content``) are
  reassembled into a JSON list first. Content found in span events of the older GenAI event
  conventions is moved out of the event the same way (the event itself stays, without it).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spyglass import attributes as A

_INPUT_SIDE = (A.GEN_AI_INPUT_MESSAGES, A.GEN_AI_TOOL_CALL_ARGUMENTS, A.INPUT)
_OUTPUT_SIDE = (A.GEN_AI_OUTPUT_MESSAGES, A.GEN_AI_TOOL_CALL_RESULT, A.OUTPUT)
_INDEXED = re.compile(r"^(.+?)\.(\d+)\.(.+)$")


@dataclass(frozen=True)
class Convention:
    """One instrumentation family's names. Every field maps foreign -> Spyglass name."""

    name: str
    renames: Mapping[str, str] = field(default_factory=dict)
    """Plain attributes; the value moves to the Spyglass name."""
    json_fields: tuple[tuple[str, str, str], ...] = ()
    """(JSON attribute, dotted key inside it, Spyglass name): the value is copied out."""
    kinds: tuple[tuple[str, Mapping[str, str]], ...] = ()
    """(attribute, its value -> Spyglass kind); the attribute stays (the original label)."""
    content: Mapping[str, str] = field(default_factory=dict)
    """Content attribute -> ``spyglass.input`` or ``spyglass.output``."""
    messages: Mapping[str, str] = field(default_factory=dict)
    """Prefix of indexed message attributes (``<prefix>.<i>.<key>``) -> input or output."""
    documents: tuple[str, ...] = ()
    """Prefixes of indexed documents (``<prefix>.<i>.document.id|score|content``)."""


_LLM_TYPES = {"chat": "llm", "completion": "llm", "embedding": "embedding", "rerank": "rerank"}

GEN_AI_OLDER = Convention(
    "OpenTelemetry GenAI (older names)",
    renames={
        "gen_ai.usage.cache_read_input_tokens": A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        "gen_ai.conversation.id": A.SESSION_ID,
        "gen_ai.user": A.USER_ID,
    },
    content={"gen_ai.prompt": A.INPUT, "gen_ai.completion": A.OUTPUT, "gen_ai.system_instructions": A.INPUT},
    messages={"gen_ai.prompt": A.INPUT, "gen_ai.completion": A.OUTPUT},
)
OPENINFERENCE = Convention(
    "OpenInference",
    renames={
        "llm.model_name": A.GEN_AI_RESPONSE_MODEL,
        "embedding.model_name": A.GEN_AI_RESPONSE_MODEL,
        "reranker.model_name": A.GEN_AI_REQUEST_MODEL,
        "llm.provider": A.GEN_AI_PROVIDER_NAME,
        "llm.system": A.GEN_AI_PROVIDER_NAME,
        "llm.token_count.prompt": A.GEN_AI_USAGE_INPUT_TOKENS,
        "llm.token_count.completion": A.GEN_AI_USAGE_OUTPUT_TOKENS,
        "llm.token_count.prompt_details.cache_read": A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        "llm.prompt_template.version": A.PROMPT_VERSION,
        "tool.name": A.GEN_AI_TOOL_NAME,
        "tool_call.id": A.GEN_AI_TOOL_CALL_ID,
        "reranker.top_k": A.RETRIEVAL_TOP_K,
    },
    json_fields=(
        ("llm.invocation_parameters", "model", A.GEN_AI_REQUEST_MODEL),
        ("embedding.invocation_parameters", "model", A.GEN_AI_REQUEST_MODEL),
        *(
            ("metadata", key, name)
            for key, name in A.COHORT_ATTRIBUTES.items()
            if name.startswith("spyglass")
        ),
        ("metadata", "tenant_id", A.COHORT_TENANT),
    ),
    kinds=(
        (
            "openinference.span.kind",
            {
                "LLM": "llm",
                "EMBEDDING": "embedding",
                "RETRIEVER": "retrieval",
                "RERANKER": "rerank",
                "TOOL": "tool",
                "CHAIN": "span",
                "AGENT": "span",
                "GUARDRAIL": "span",
                "EVALUATOR": "span",
            },
        ),
    ),
    content={"input.value": A.INPUT, "output.value": A.OUTPUT, "llm.prompt_template.variables": A.INPUT},
    messages={
        "llm.input_messages": A.INPUT,
        "llm.output_messages": A.OUTPUT,
        "embedding.embeddings": A.INPUT,
        "reranker.input_documents": A.INPUT,
    },
    documents=("retrieval.documents", "reranker.output_documents"),
)
OPENLLMETRY = Convention(
    "OpenLLMetry (Traceloop)",
    renames={
        "traceloop.association.properties.user_id": A.USER_ID,
        "traceloop.association.properties.session_id": A.SESSION_ID,
        "traceloop.association.properties.tenant": A.COHORT_TENANT,
        "traceloop.association.properties.tenant_id": A.COHORT_TENANT,
        "traceloop.workflow.name": A.COHORT_WORKFLOW,
        "traceloop.prompt.key": A.PROMPT_NAME,
        "traceloop.prompt.version": A.PROMPT_VERSION,
        "llm.usage.cache_read_input_tokens": A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    },
    kinds=(
        ("traceloop.span.kind", {"workflow": "workflow", "task": "span", "agent": "span", "tool": "tool"}),
        ("llm.request.type", _LLM_TYPES),
    ),
    content={"traceloop.entity.input": A.INPUT, "traceloop.entity.output": A.OUTPUT},
)
LANGFUSE = Convention(
    "Langfuse v3",
    renames={
        "langfuse.observation.model.name": A.GEN_AI_REQUEST_MODEL,
        "langfuse.observation.prompt.name": A.PROMPT_NAME,
        "langfuse.observation.prompt.version": A.PROMPT_VERSION,
        "langfuse.user.id": A.USER_ID,
        "langfuse.session.id": A.SESSION_ID,
        "langfuse.trace.metadata.tenant": A.COHORT_TENANT,
        "langfuse.observation.metadata.tenant": A.COHORT_TENANT,
        "langfuse.release": A.COHORT_RELEASE,
        "langfuse.trace.name": A.COHORT_WORKFLOW,
    },
    json_fields=tuple(
        ("langfuse.observation.usage_details", key, name)
        for name, keys in (
            (A.GEN_AI_USAGE_INPUT_TOKENS, ("input", "prompt_tokens", "input_tokens")),
            (A.GEN_AI_USAGE_OUTPUT_TOKENS, ("output", "completion_tokens", "output_tokens")),
            (A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, ("input_cached_tokens", "cache_read_input_tokens")),
        )
        for key in keys
    ),
    kinds=(
        (
            "langfuse.observation.type",
            {
                "generation": "llm",
                "embedding": "embedding",
                "retriever": "retrieval",
                "tool": "tool",
                "agent": "span",
                "chain": "span",
                "span": "span",
                "evaluator": "span",
                "guardrail": "span",
            },
        ),
    ),
    content={
        "langfuse.observation.input": A.INPUT,
        "langfuse.observation.output": A.OUTPUT,
        "langfuse.trace.input": A.INPUT,
        "langfuse.trace.output": A.OUTPUT,
    },
)
LOGFIRE = Convention(
    "Logfire",  # current versions write GenAI names; older ones wrote request_data / response_data
    json_fields=(
        ("request_data", "model", A.GEN_AI_REQUEST_MODEL),
        ("response_data", "usage.prompt_tokens", A.GEN_AI_USAGE_INPUT_TOKENS),
        ("response_data", "usage.completion_tokens", A.GEN_AI_USAGE_OUTPUT_TOKENS),
    ),
)
CONVENTIONS = (GEN_AI_OLDER, OPENINFERENCE, OPENLLMETRY, LANGFUSE, LOGFIRE)
"""In order of precedence."""

# Events of the older GenAI event conventions: attribute holding content -> side.
CONTENT_EVENTS: Mapping[str, str] = {
    "gen_ai.content.prompt": A.INPUT,
    "gen_ai.system.message": A.INPUT,
    "gen_ai.user.message": A.INPUT,
    "gen_ai.assistant.message": A.INPUT,
    "gen_ai.tool.message": A.INPUT,
    "gen_ai.content.completion": A.OUTPUT,
    "gen_ai.choice": A.OUTPUT,
}


# A single finish reason (OpenInference; Langfuse's OpenAI integration) -> the list column.
_ONE_FINISH_REASON = ("llm.finish_reason", "langfuse.observation.metadata.finish_reason")
# Every name and prefix a convention reads: a span carrying none of them (the Spyglass SDK's
# own, the common case) skips the tables in one pass over its attribute names.
_NAMES = frozenset(
    {*_ONE_FINISH_REASON, "llm.prompt_template.template"}.union(
        *(c.renames for c in CONVENTIONS),
        *(c.content for c in CONVENTIONS),
        *({source for source, _, _ in c.json_fields} for c in CONVENTIONS),
        *({name for name, _ in c.kinds} for c in CONVENTIONS),
    )
)
_PREFIXES = tuple(f"{p}." for c in CONVENTIONS for p in (*c.messages, *c.documents))


def _json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _dig(value: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _side_filled(attrs: dict[str, Any], side: str) -> bool:
    return any(name in attrs for name in (_INPUT_SIDE if side == A.INPUT else _OUTPUT_SIDE))


def _put_content(attrs: dict[str, Any], side: str, value: Any) -> None:
    if value not in (None, "", [], {}) and not _side_filled(attrs, side):
        attrs[side] = _text(value)


def _indexed(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Take ``<prefix>.<i>.<key>`` attributes out of ``attrs`` -> a list of dicts, by index."""
    found: dict[int, dict[str, Any]] = {}
    for name in [n for n in attrs if n.startswith(prefix + ".")]:
        match = _INDEXED.match(name)
        if match and match.group(1) == prefix:
            key = match.group(3).removeprefix("message.").removeprefix("document.").removeprefix("embedding.")
            found.setdefault(int(match.group(2)), {})[key] = attrs.pop(name)
    return [found[i] for i in sorted(found)]


def _documents(attrs: dict[str, Any], prefix: str) -> None:
    docs = _indexed(attrs, prefix)
    if not docs:
        return
    ids = [d.get("id") for d in docs]
    scores = [d.get("score") for d in docs]
    if A.RETRIEVAL_DOCUMENT_IDS not in attrs and all(isinstance(i, str) for i in ids):
        attrs[A.RETRIEVAL_DOCUMENT_IDS] = ids
        if all(isinstance(s, int | float) and not isinstance(s, bool) for s in scores):
            attrs[A.RETRIEVAL_DOCUMENT_SCORES] = scores
    # What is not an ID or a score (text, metadata) is content: the output side.
    _put_content(attrs, A.OUTPUT, [{k: v for k, v in d.items() if k not in ("id", "score")} for d in docs])


def kind_of(attrs: Mapping[str, Any]) -> str:
    """The Spyglass kind a foreign convention gives the span ("" when none does)."""
    for convention in CONVENTIONS:
        for name, table in convention.kinds:
            value = attrs.get(name)
            if isinstance(value, str) and value in table:
                return table[value]
    return ""


def _apply(attrs: dict[str, Any], convention: Convention) -> None:
    for foreign, name in convention.renames.items():
        if foreign in attrs and name not in attrs and attrs[foreign] is not None:
            value = attrs.pop(foreign)
            attrs[name] = (
                str(value) if isinstance(value, int | float) and name.startswith("spyglass.") else value
            )
    for source, key, name in convention.json_fields:
        if source in attrs and name not in attrs:
            value = _dig(_json(attrs[source]), key)
            if value is not None and not isinstance(value, dict | list):
                attrs[name] = value
    for foreign, side in convention.content.items():
        if foreign in attrs:
            _put_content(attrs, side, _json(attrs.pop(foreign)))
    for prefix, side in convention.messages.items():
        messages = _indexed(attrs, prefix)
        if messages:
            _put_content(attrs, side, messages)
    for prefix in convention.documents:
        _documents(attrs, prefix)


def translate(attrs: dict[str, Any], events: list[tuple[str, dict[str, Any]]]) -> None:
    """Rewrite ``attrs`` (one span's, in place) into Spyglass names; move content out of the
    attribute map and out of ``events`` (name, attributes) into ``spyglass.input``/``output``."""
    if not any(name in _NAMES or name.startswith(_PREFIXES) for name in attrs) and not any(
        name in CONTENT_EVENTS for name, _ in events
    ):
        return
    for convention in CONVENTIONS:
        _apply(attrs, convention)
    for name in _ONE_FINISH_REASON:
        if isinstance(attrs.get(name), str) and A.GEN_AI_RESPONSE_FINISH_REASONS not in attrs:
            attrs[A.GEN_AI_RESPONSE_FINISH_REASONS] = [attrs.pop(name)]
    for side in (A.INPUT, A.OUTPUT):
        payloads = [dict(ea) for name, ea in events if CONTENT_EVENTS.get(name) == side and ea]
        _put_content(attrs, side, payloads[0] if len(payloads) == 1 else payloads)
    for name, ea in events:
        if name in CONTENT_EVENTS:
            ea.clear()
    template = attrs.get("llm.prompt_template.template")
    if isinstance(template, str) and A.PROMPT_TEMPLATE_HASH not in attrs:
        attrs[A.PROMPT_TEMPLATE_HASH] = hashlib.sha256(template.encode()).hexdigest()[:16]


def requested_tool(output: str) -> tuple[str, str]:
    """(name, call ID) of the first tool call an LLM's output asks for, in any of the message
    shapes the conventions use (GenAI parts, OpenAI ``tool_calls``, flattened keys); ("", "")."""
    found = _find_tool(_json(output))
    return found or ("", "")


def _find_tool(value: Any) -> tuple[str, str] | None:
    if isinstance(value, list):
        for item in value:
            found = _find_tool(item)
            if found:
                return found
    elif isinstance(value, dict):
        if value.get("type") == "tool_call" and isinstance(value.get("name"), str):
            return value["name"], str(value.get("id") or "")
        function = value.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return function["name"], str(value.get("id") or "")
        for key, item in value.items():  # flattened: tool_calls.0.tool_call.function.name
            if key.startswith("tool_calls.") and key.endswith("function.name") and isinstance(item, str):
                call_id = value.get(key.removesuffix("function.name") + "id")
                return item, str(call_id or "")
        for item in value.values():
            if isinstance(item, list | dict):
                found = _find_tool(item)
                if found:
                    return found
    return None
