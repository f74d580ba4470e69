"""Turn on the standard OpenTelemetry instrumentations of LLM client libraries, where installed.

Instead of wrapping each client call in ``spyglass.llm(...)`` by hand, an application can let the
libraries' own instrumentations record them (``opentelemetry-instrumentation-openai-v2`` and
friends); their spans go to the same provider as Spyglass's and the collector maps their names.
Nothing here is a dependency of Spyglass: a missing package is reported, never raised.

Content follows Spyglass's capture setting: before an instrumentation starts, the environment
variables through which it decides whether to record prompts and completions are set to match
``capture_content`` (only where the application has not set them itself).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from dataclasses import dataclass

from ._guard import internal_errors
from ._state import state

log = logging.getLogger("spyglass")


@dataclass(frozen=True)
class Candidate:
    """One instrumentation package that can instrument a library: where its instrumentor is."""

    package: str
    module: str
    instrumentor: str


_OTEL, _OI = "opentelemetry.instrumentation.", "openinference.instrumentation."
# Library name -> instrumentations to try, first installed wins (the official OpenTelemetry one
# first, then OpenInference, then OpenLLMetry).
INSTRUMENTATIONS: dict[str, tuple[Candidate, ...]] = {
    "openai": (
        Candidate("opentelemetry-instrumentation-openai-v2", _OTEL + "openai_v2", "OpenAIInstrumentor"),
        Candidate("openinference-instrumentation-openai", _OI + "openai", "OpenAIInstrumentor"),
        Candidate("opentelemetry-instrumentation-openai", _OTEL + "openai", "OpenAIInstrumentor"),
    ),
    "anthropic": (
        Candidate("opentelemetry-instrumentation-anthropic", _OTEL + "anthropic", "AnthropicInstrumentor"),
        Candidate("openinference-instrumentation-anthropic", _OI + "anthropic", "AnthropicInstrumentor"),
    ),
    "google-genai": (
        Candidate(
            "opentelemetry-instrumentation-google-genai", _OTEL + "google_genai", "GoogleGenAiSdkInstrumentor"
        ),
    ),
    "vertexai": (
        Candidate("opentelemetry-instrumentation-vertexai", _OTEL + "vertexai", "VertexAIInstrumentor"),
    ),
    "bedrock": (
        Candidate("opentelemetry-instrumentation-botocore", _OTEL + "botocore", "BotocoreInstrumentor"),
    ),
    "langchain": (
        Candidate("openinference-instrumentation-langchain", _OI + "langchain", "LangChainInstrumentor"),
        Candidate("opentelemetry-instrumentation-langchain", _OTEL + "langchain", "LangchainInstrumentor"),
    ),
    "llama-index": (
        Candidate("openinference-instrumentation-llama-index", _OI + "llama_index", "LlamaIndexInstrumentor"),
    ),
}  # fmt: skip


def _content_environment(capture: bool) -> dict[str, str]:
    """Each instrumentation family's own content switch, set to Spyglass's decision."""
    hide = "false" if capture else "true"
    env = {
        # OpenTelemetry GenAI instrumentations (openai-v2 and the util-genai based ones)
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY" if capture else "NO_CONTENT",
        # OpenInference
        "OPENINFERENCE_HIDE_INPUTS": hide,
        "OPENINFERENCE_HIDE_OUTPUTS": hide,
        "OPENINFERENCE_HIDE_INPUT_MESSAGES": hide,
        "OPENINFERENCE_HIDE_OUTPUT_MESSAGES": hide,
        "OPENINFERENCE_HIDE_EMBEDDING_VECTORS": "true",
        # OpenLLMetry
        "TRACELOOP_TRACE_CONTENT": "true" if capture else "false",
    }
    if capture:  # content on spans (not log events) needs the latest GenAI conventions
        env["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
    return env


def _conflict(instrumentor: object) -> object | None:
    """Why the instrumented library cannot be instrumented (missing, wrong version), or None."""
    try:
        from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
    except ImportError:  # every real instrumentor depends on it; nothing to check without it
        return None
    return get_dependency_conflicts(instrumentor.instrumentation_dependencies())  # type: ignore[attr-defined]


def _instrument_one(name: str) -> str:
    candidates = INSTRUMENTATIONS.get(name)
    if candidates is None:
        return f"unknown: choose from {', '.join(INSTRUMENTATIONS)}"
    for candidate in candidates:
        try:
            found = importlib.util.find_spec(candidate.module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            continue
        try:
            instrumentor = getattr(importlib.import_module(candidate.module), candidate.instrumentor)()
            if instrumentor.is_instrumented_by_opentelemetry:
                return f"already on ({candidate.package})"
            conflict = _conflict(instrumentor)
            if conflict is not None:
                return f"skipped: {conflict} ({candidate.package})"
            kwargs = {"tracer_provider": state.provider} if state.provider is not None else {}
            instrumentor.instrument(**kwargs)
        except Exception as exc:  # a third-party instrumentor failing must not reach the host
            return f"failed: {type(exc).__name__}: {exc} ({candidate.package})"
        return f"on ({candidate.package})"
    return f"not installed: pip install {candidates[0].package}"


def instrument(*libraries: str) -> dict[str, str]:
    """Turn on the standard OpenTelemetry instrumentation of each named LLM client library
    (all known ones when none is named) where its package is installed; call after
    ``spyglass.init()``. Returns each library's outcome (``on (package)``, ``already on``,
    ``not installed: pip install ...``, ``skipped``, ``failed: ...``, ``unknown``); never
    raises. Known names: ``INSTRUMENTATIONS`` (openai, anthropic, google-genai, vertexai,
    bedrock, langchain, llama-index).

    Example::

        spyglass.init(service_name="support-bot")
        spyglass.instrument("openai", "anthropic")
        # {'openai': 'on (opentelemetry-instrumentation-openai-v2)',
        #  'anthropic': 'not installed: pip install opentelemetry-instrumentation-anthropic'}
    """
    outcome: dict[str, str] = {}
    with internal_errors("instrument"):
        for key, value in _content_environment(state.capture_content).items():
            os.environ.setdefault(key, value)
        for name in libraries or tuple(INSTRUMENTATIONS):
            outcome[name] = _instrument_one(name)
        turned_on = sorted(n for n, s in outcome.items() if s.startswith("on "))
        log.info("spyglass: instrumentations on: %s", ", ".join(turned_on) or "none")
    return outcome
