"""``spyglass.cohort(...)``: who a request is for, stamped on every span created inside it.

The cohort lives in the OpenTelemetry Context, not in a variable of our own, so anything that
propagates OpenTelemetry context (``asyncio`` tasks, ``asyncio.to_thread``,
``contextvars.copy_context().run`` in a thread pool, OpenTelemetry's threading
instrumentation) carries the cohort along with the parent span.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from opentelemetry import context as otel_context

from . import _identity
from . import attributes as A

_COHORT_KEY = otel_context.create_key("spyglass-cohort")


def current_cohort_attributes(ctx: otel_context.Context | None = None) -> Mapping[str, str] | None:
    """The cohort attributes in force in ``ctx`` (the current context when None)."""
    return otel_context.get_value(_COHORT_KEY, ctx)  # type: ignore[return-value]


@contextlib.contextmanager
def cohort(
    *,
    tenant: str | None = None,
    workflow: str | None = None,
    intent: str | None = None,
    release: str | None = None,
    user: str | None = None,
    session: str | None = None,
) -> Iterator[None]:
    """Stamp the request's cohort on every span started inside the block.

    Nested blocks add to or override the outer cohort; ``None`` leaves a field as it was.
    With an identifier key configured, ``tenant`` and ``user`` are exported as keyed hashes
    (``spyglass.hash_identifier``).

    Example::

        with spyglass.cohort(tenant="acme", workflow="support", release="2026.11.2"):
            answer(question)      # every span inside carries the cohort
    """
    given = {
        "tenant": tenant,
        "workflow": workflow,
        "intent": intent,
        "release": release,
        "user": user,
        "session": session,
    }
    merged = dict(current_cohort_attributes() or {})
    hashing = _identity.hashing()
    for field, value in given.items():
        if value is not None:
            text: str | None = str(value)
            if hashing and field in ("tenant", "user"):
                text = _identity.export_identifier(str(value))  # None: withheld, fail closed
            if text is not None:
                merged[A.COHORT_ATTRIBUTES[field]] = text
    token = otel_context.attach(otel_context.set_value(_COHORT_KEY, merged))
    try:
        yield
    finally:
        otel_context.detach(token)
