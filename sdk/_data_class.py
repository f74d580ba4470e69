"""``spyglass.data_class(...)``: label the data of a span or of a whole workflow.

The label travels in the OpenTelemetry Context with the cohort, so every span started inside
the block carries it (child spans, asyncio tasks, other instrumentations' spans on the same
provider), and the collector applies that class's retention and content policy. A label set
on one span (``handle.set_data_class``) wins over the block's.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from opentelemetry import context as otel_context

from . import attributes as A
from ._cohort import _COHORT_KEY, current_cohort_attributes
from ._guard import log_rate_limited

BUILTIN = ("public", "internal", "customer", "regulated")
_VALID = re.compile(r"^[a-z0-9_\-]{1,32}$")


def check_data_class(name: object) -> str | None:
    """``name`` lower-cased and stripped if it is a valid data class, else None (logged).

    Valid: 1-32 characters among a-z, 0-9, ``_`` and ``-`` (the built-in names are
    ``public``, ``internal``, ``customer``, ``regulated``; operators may add their own)."""
    label = name.strip().lower() if isinstance(name, str) else None
    if label is None or not _VALID.match(label):
        log_rate_limited(
            f"data class {str(name)[:40]}",
            "spyglass: data class %r is not 1-32 characters of a-z, 0-9, _ or -; label not applied",
            name,
        )
        return None
    return label


@contextlib.contextmanager
def data_class(name: str) -> Iterator[None]:
    """Label every span started inside the block with the data class ``name``.

    An invalid name is logged and the block runs with the label it already had (the SDK
    never raises into the application).

    Example::

        with spyglass.data_class("regulated"):
            with spyglass.workflow("answer_claim"):
                ...   # every span of this workflow is labelled regulated
    """
    label = check_data_class(name)
    if label is None:
        yield
        return
    merged = {**(current_cohort_attributes() or {}), A.DATA_CLASS: label}
    token = otel_context.attach(otel_context.set_value(_COHORT_KEY, merged))
    try:
        yield
    finally:
        otel_context.detach(token)
