"""Redact content that other instrumentations captured, on arrival (an ingest transform).

The Spyglass SDK redacts captured content in the application's process (``spyglass.Redactor``)
before it leaves; spans from other instrumentations (OpenAI-v2, OpenInference, OpenLLMetry,
Langfuse, Logfire) arrive with whatever their library captured. ``normalize`` has already moved
their content into the ``input`` / ``output`` columns (``conventions``), so this transform
runs the same built-in detectors over those two columns for every span not written by the
Spyglass SDK, and records the counts as the SDK does (``spyglass.redaction.email = 2``).

Example::

    ingest.transforms.append(redact_third_party_content)
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from spyglass import Redactor
from spyglass import attributes as A

SDK_SCOPE = "spyglass"
"""Instrumentation scope of the Spyglass SDK's own spans (already redacted in-process)."""

_REDACTOR = Redactor()


def _redact(text: str, counts: dict[str, int]) -> str:
    try:
        value = json.loads(text) if text[:1] in "[{" else None
    except ValueError:
        value = None
    if value is None:
        redacted, found = _REDACTOR.redact(text)
    else:  # keep JSON content valid JSON
        scrubbed, found = _REDACTOR.scrub(value)
        redacted = text if not found else json.dumps(scrubbed, ensure_ascii=False, separators=(",", ":"))
    for kind, n in found.items():
        counts[kind] = counts.get(kind, 0) + n
    return redacted


def redact_third_party_content(table: pa.Table) -> pa.Table:
    """``table`` with the content of non-SDK spans redacted (rows without content untouched)."""
    if table.num_rows == 0:
        return table
    has_content = pc.or_(pc.not_equal(table["input"], ""), pc.not_equal(table["output"], ""))
    todo = pc.and_(has_content, pc.not_equal(table["scope_name"], SDK_SCOPE))
    if not pc.any(todo).as_py():
        return table  # the common case for the SDK's own traffic: no per-row work
    inputs, outputs = table["input"].to_pylist(), table["output"].to_pylist()
    attrs: list[Any] = table["attributes"].to_pylist()
    for row, needed in enumerate(todo.to_pylist()):
        if not needed:
            continue
        counts: dict[str, int] = {}
        inputs[row] = _redact(inputs[row], counts) if inputs[row] else inputs[row]
        outputs[row] = _redact(outputs[row], counts) if outputs[row] else outputs[row]
        if counts:
            attrs[row] = [*attrs[row], *((A.REDACTION_PREFIX + k, str(n)) for k, n in sorted(counts.items()))]
    for name, values in (("input", inputs), ("output", outputs), ("attributes", attrs)):
        index = table.schema.get_field_index(name)
        table = table.set_column(
            index, table.schema.field(index), pa.array(values, table.schema.field(index).type)
        )
    return table
