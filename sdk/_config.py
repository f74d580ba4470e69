"""``spyglass.init``: wire OpenTelemetry tracing to a Spyglass collector."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.util.re import parse_env_headers

from . import _identity, _redact, _sampling
from . import attributes as A
from ._feedback import sender
from ._guard import logger
from ._processors import BoundedExportProcessor, CohortProcessor
from ._redact import Redactor
from ._state import TRUTHY, state

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _traces_url(endpoint: str | None) -> str | None:
    """Full OTLP/HTTP traces URL, or None to let the exporter read ``OTEL_EXPORTER_OTLP_*``."""
    base = endpoint or _env("SPYGLASS_ENDPOINT")
    if base is None and (_env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or _env("OTEL_EXPORTER_OTLP_ENDPOINT")):
        return None
    base = (base or DEFAULT_ENDPOINT).rstrip("/")
    return base if base.endswith("/v1/traces") else base + "/v1/traces"


def feedback_url(endpoint: str | None) -> str:
    """The collector's base URL for feedback: ``endpoint``, else ``SPYGLASS_ENDPOINT``, else
    the OTLP endpoint variables (without their ``/v1/traces``), else the default address."""
    base = (
        endpoint
        or _env("SPYGLASS_ENDPOINT")
        or _env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or _env("OTEL_EXPORTER_OTLP_ENDPOINT")
        or DEFAULT_ENDPOINT
    )
    return base.rstrip("/").removesuffix("/v1/traces")


def _headers(api_key: str | None, headers: Mapping[str, str] | None) -> dict[str, str] | None:
    key = api_key or _env("SPYGLASS_API_KEY")
    if key is None and headers is None:
        return None  # the exporter reads OTEL_EXPORTER_OTLP_(TRACES_)HEADERS itself
    env = _env("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or _env("OTEL_EXPORTER_OTLP_HEADERS") or ""
    merged = {**parse_env_headers(env, liberal=True), **(headers or {})}
    if key is not None:
        merged["authorization"] = f"Bearer {key}"
    return merged


def init(
    endpoint: str | None = None,
    *,
    service_name: str | None = None,
    api_key: str | None = None,
    capture_content: bool | None = None,
    project: str | None = None,
    headers: Mapping[str, str] | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    tracer_provider: TracerProvider | None = None,
    max_queue_size: int = 2048,
    schedule_delay_millis: float = 1000,
    export_timeout: float = 5.0,
    shutdown_timeout: float = 3.0,
    redactor: Redactor | Callable[[str], str] | None = None,
    identifiers: str | None = None,
    identifier_key: str | bytes | None = None,
    sample_rate: float | None = None,
    sample_rates: Mapping[str, float] | None = None,
    sample_buffer_size: int = 2048,
    sample_window: float = 300.0,
) -> TracerProvider:
    """Send this process's spans to a Spyglass collector over OTLP/HTTP.

    Every argument has an environment variable, used when the argument is not given:
    ``SPYGLASS_ENDPOINT`` (else the standard ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` /
    ``OTEL_EXPORTER_OTLP_ENDPOINT``, else http://127.0.0.1:4318), ``SPYGLASS_SERVICE_NAME``
    (else ``OTEL_SERVICE_NAME``), ``SPYGLASS_API_KEY`` (sent as ``Authorization: Bearer KEY``;
    other headers from ``OTEL_EXPORTER_OTLP_HEADERS``), ``SPYGLASS_CAPTURE_CONTENT``,
    ``SPYGLASS_PROJECT``.

    If the application already installed an OpenTelemetry SDK ``TracerProvider``, Spyglass
    adds its processors to it instead of replacing it (its resource, and so its service
    name, stay the application's). Returns the provider in use.

    Export never runs on the application's threads: at most ``max_queue_size`` ended spans
    wait for export (more are dropped and counted in ``spyglass.sdk_stats()``), one export
    waits at most ``export_timeout`` seconds, and at interpreter exit Spyglass gives up
    exporting after ``shutdown_timeout`` seconds.

    Data governance (invalid arguments raise ``ValueError`` and change nothing; invalid
    environment values are logged and fail safe):

    - ``redactor``: what redacts captured content and feedback text (a ``spyglass.Redactor``,
      or a ``str -> str`` callable run after the built-in detectors; default: the built-ins).
    - ``identifiers`` (``SPYGLASS_IDENTIFIERS``): ``raw`` or ``hmac``; ``identifier_key``
      (``SPYGLASS_IDENTIFIER_KEY``, at least 16 bytes) turns ``hmac`` on: tenant and user are
      exported as ``spyglass.hash_identifier(value)``.
    - ``sample_rate`` (``SPYGLASS_SAMPLE_RATE``, default 1: keep all) and ``sample_rates``
      (``SPYGLASS_SAMPLE_RATES=support=0.1,classify=1``): the share of traces exported, per
      cohort workflow or root span name. Traces sampled out wait up to ``sample_window``
      seconds in a buffer of ``sample_buffer_size`` spans and are exported after all if
      they end in error or get negative ``spyglass.feedback`` in this process.

    Example::

        spyglass.init(endpoint="http://127.0.0.1:4318", service_name="support-bot")
    """
    if state.provider is not None:
        logger.warning("spyglass.init() was already called; ignoring this call")
        return state.provider  # type: ignore[return-value]
    if capture_content is None:
        capture_content = (_env("SPYGLASS_CAPTURE_CONTENT") or "").lower() in TRUTHY
    # Governance options: every one validated (raising) before any takes effect.
    new_redactor = _redact.resolve(redactor)
    sampling = _sampling.settings(sample_rate, sample_rates)
    sampler_args = _sampling.check_buffer(sample_buffer_size, sample_window)
    _identity.configure(identifiers, identifier_key)  # the last check: applies only if valid
    _redact.configure(new_redactor)

    provider = tracer_provider
    if provider is None:
        existing = trace.get_tracer_provider()
        if isinstance(existing, TracerProvider):
            provider = existing
        else:
            resource_attrs: dict[str, Any] = dict(resource_attributes or {})
            name = service_name or _env("SPYGLASS_SERVICE_NAME")
            if name:
                resource_attrs["service.name"] = name
            proj = project or _env("SPYGLASS_PROJECT")
            if proj:
                resource_attrs[A.PROJECT] = proj
            provider = TracerProvider(resource=Resource.create(resource_attrs))
            trace.set_tracer_provider(provider)

    exporter = OTLPSpanExporter(
        endpoint=_traces_url(endpoint), headers=_headers(api_key, headers), timeout=export_timeout
    )
    cohort = CohortProcessor()
    export = BoundedExportProcessor(
        exporter,
        max_queue_size=max_queue_size,
        schedule_delay_millis=schedule_delay_millis,
        shutdown_timeout=shutdown_timeout,
    )
    provider.add_span_processor(cohort)
    if sampling is None:
        provider.add_span_processor(export)
    else:
        sampler = _sampling.SamplingProcessor(export, rate=sampling[0], rates=sampling[1], **sampler_args)
        _sampling.register(sampler)
        provider.add_span_processor(sampler)

    state.provider = provider
    state.tracer = provider.get_tracer("spyglass")
    state.capture_content = capture_content
    state.project = project or _env("SPYGLASS_PROJECT")
    sender.configure(feedback_url(endpoint), _headers(api_key, headers), export_timeout, shutdown_timeout)
    return provider


def flush(timeout: float = 5.0) -> bool:
    """Export every ended span and every feedback event now; True if all went out within
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    provider = state.provider
    spans_ok = provider is None or bool(provider.force_flush(int(timeout * 1000)))  # type: ignore[attr-defined]
    return sender.flush(max(0.0, deadline - time.monotonic())) and spans_ok
