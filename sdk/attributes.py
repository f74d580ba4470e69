"""Every span attribute name Spyglass writes or reads, in one place.

OpenTelemetry GenAI semantic-convention names are used wherever one exists
(https://opentelemetry.io/docs/specs/semconv/gen-ai/); ``spyglass.*`` names only
where the conventions have none. The collector maps these names to typed columns;
any attribute not listed here is still stored, in the span's attribute map.

Example::

    from spyglass import attributes as A
    span.set_attribute(A.GEN_AI_REQUEST_MODEL, "gpt-4o-mini")
"""

from __future__ import annotations

# --- Spyglass span kind -------------------------------------------------------------------------
SPAN_KIND = "spyglass.span.kind"
"""One of ``KINDS``: what the span does in an LLM application."""

KINDS = ("workflow", "llm", "retrieval", "rerank", "embedding", "tool", "span")

# --- GenAI semantic conventions -----------------------------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
"""``chat``, ``embeddings``, ``execute_tool``... (set from the span kind)."""
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_SYSTEM = "gen_ai.system"
"""Deprecated name of the provider (older instrumentations); read, never written."""
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"
"""Deprecated input-token name (older instrumentations); read, never written."""
GEN_AI_USAGE_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"
"""Deprecated output-token name (older instrumentations); read, never written."""
GEN_AI_DATA_SOURCE_ID = "gen_ai.data_source.id"
"""The retrieval corpus a retrieval or rerank span searched."""
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
"""Content: exported only with content capture on."""
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"
"""Content: exported only with content capture on."""
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
"""Content (JSON list of messages): exported only with content capture on."""
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
"""Content (JSON list of messages): exported only with content capture on."""

OPERATION_BY_KIND = {"llm": "chat", "embedding": "embeddings", "tool": "execute_tool"}

# --- LLM calls (no convention exists) -----------------------------------------------------------
LLM_ENDPOINT_TYPE = "spyglass.llm.endpoint_type"
"""``live`` (a request answered now) or ``batch`` (a provider batch job)."""
LLM_BATCH_JOB_ID = "spyglass.llm.batch_job_id"
LLM_FALLBACK = "spyglass.llm.fallback"
"""True when this call is a fallback route taken after another model failed."""
LLM_FALLBACK_FROM = "spyglass.llm.fallback_from"
"""The model this fallback call replaced."""
PROMPT_NAME = "spyglass.prompt.name"
PROMPT_VERSION = "spyglass.prompt.version"
PROMPT_TEMPLATE_HASH = "spyglass.prompt.template_hash"
"""sha256 of the prompt template text, first 16 hex characters: the template itself is never exported."""

# --- Retrieval and rerank -----------------------------------------------------------------------
RETRIEVAL_CORPUS_VERSION = "spyglass.retrieval.corpus_version"
RETRIEVAL_DOCUMENT_IDS = "spyglass.retrieval.document_ids"
"""Retrieved document IDs in rank order (string array)."""
RETRIEVAL_DOCUMENT_SCORES = "spyglass.retrieval.document_scores"
"""Scores aligned with ``RETRIEVAL_DOCUMENT_IDS`` (float array)."""
RETRIEVAL_TOP_K = "spyglass.retrieval.top_k"

# --- Tools --------------------------------------------------------------------------------------
TOOL_SCHEMA_VERSION = "spyglass.tool.schema_version"
TOOL_AUTHORIZATION = "spyglass.tool.authorization"
"""The application's decision on a tool call the model requested: ``allowed`` or ``denied``."""
TOOL_AUTHORIZATION_REASON = "spyglass.tool.authorization_reason"

# --- Generic content ----------------------------------------------------------------------------
INPUT = "spyglass.input"
"""Content of a non-LLM span's input: exported only with content capture on."""
OUTPUT = "spyglass.output"
"""Content of a non-LLM span's output: exported only with content capture on."""

# --- Cohort: stamped on every span inside ``spyglass.cohort(...)`` ------------------------------
COHORT_TENANT = "spyglass.cohort.tenant"
COHORT_WORKFLOW = "spyglass.cohort.workflow"
COHORT_INTENT = "spyglass.cohort.intent"
COHORT_RELEASE = "spyglass.cohort.release"
USER_ID = "user.id"
SESSION_ID = "session.id"

COHORT_ATTRIBUTES = {
    "tenant": COHORT_TENANT,
    "workflow": COHORT_WORKFLOW,
    "intent": COHORT_INTENT,
    "release": COHORT_RELEASE,
    "user": USER_ID,
    "session": SESSION_ID,
}
"""Keyword of ``spyglass.cohort(...)`` -> attribute name."""

# --- Governance ---------------------------------------------------------------------------------
DATA_CLASS = "spyglass.data_class"
"""public, internal, customer, regulated, or the operator's own label."""
PROJECT = "spyglass.project"
"""Resource attribute naming the project a service's spans belong to (default ``default``)."""
REDACTION_PREFIX = "spyglass.redaction."
"""Prefix of the redaction counts: ``spyglass.redaction.email = 2`` means two email addresses
in this span's content were replaced by ``[REDACTED:email]`` (the values are never exported)."""
SAMPLE_RATE = "spyglass.sample_rate"
"""The head-sampling rate applied to the span's trace (set only when sampling is configured);
a trace kept at rate r stands for 1/r traces."""
