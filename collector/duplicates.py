"""Count a model call once when two instrumentations recorded it.

A framework's span and the client library's span for one request (a Langfuse generation around
an OpenAI-v2 span, OpenInference and OpenLLMetry both patching ``openai``) each carry the same
token counts; summed, the trace would show the call twice and price it twice. Both spans stay
visible; the duplicate's counts leave the typed token columns (every total, in the trace view
and in the cohort SQL, sums those columns) and stay on the span as attributes, with
``spyglass.llm.duplicate_of`` naming the span that is counted.

The rule, over model spans with token counts (kind ``llm`` or ``embedding``) of one batch:

1. Nested: a model span with a model span below it (nearest model-span descendant) is the
   duplicate; the innermost span, closest to the wire, is counted.
2. Side by side: model spans with the same parent and the same counts, recorded by different
   instrumentations (scope names) and overlapping in time, are one call: the earliest-starting
   is counted (ties: lowest span ID).

Decided at normalization, so both spans must arrive in one export batch; an exporter sends a
process's spans together, so one process's parent and child normally do. Spans that arrive in
different batches are not compared.
"""

from __future__ import annotations

from typing import Any

DUPLICATE_OF = "spyglass.llm.duplicate_of"
"""Set on a model span whose token counts are not counted: the hex ID of the span that is."""

_COUNTS = {
    "input_tokens": "gen_ai.usage.input_tokens",
    "output_tokens": "gen_ai.usage.output_tokens",
    "cached_input_tokens": "gen_ai.usage.cache_read.input_tokens",
}
_MAX_DEPTH = 100


def _is_model_call(cols: dict[str, list[Any]], i: int) -> bool:
    return cols["kind"][i] in ("llm", "embedding") and (
        cols["input_tokens"][i] is not None or cols["output_tokens"][i] is not None
    )


def _mark(cols: dict[str, list[Any]], duplicate: int, counted: int) -> None:
    attrs = cols["attributes"][duplicate]
    for column, name in _COUNTS.items():
        if cols[column][duplicate] is not None:
            attrs.setdefault(name, str(cols[column][duplicate]))
            cols[column][duplicate] = None
    attrs[DUPLICATE_OF] = cols["span_id"][counted].hex()


def count_once(cols: dict[str, list[Any]]) -> None:
    """Apply the rule to a batch of normalized rows (column lists, edited in place)."""
    calls = [i for i in range(len(cols["kind"])) if _is_model_call(cols, i)]
    if len(calls) < 2:
        return
    index = {(cols["trace_id"][i], cols["span_id"][i]): i for i in range(len(cols["kind"]))}
    is_call = set(calls)
    marked: dict[int, int] = {}
    for child in calls:  # 1. nested: mark the nearest model-span ancestor
        node = child
        for _ in range(_MAX_DEPTH):
            parent = index.get((cols["trace_id"][node], cols["parent_span_id"][node]))
            if parent is None or parent == node:
                break
            if parent in is_call:
                marked.setdefault(parent, child)
                break
            node = parent
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i in calls:  # 2. side by side
        if i in marked:
            continue
        key = (cols["trace_id"][i], cols["parent_span_id"][i], *(cols[c][i] for c in _COUNTS))
        groups.setdefault(key, []).append(i)
    for members in groups.values():
        members.sort(key=lambda i: (cols["start_time"][i], cols["span_id"][i]))
        kept: list[int] = []
        for i in members:
            same = next((k for k in kept if _same_call(cols, k, i)), None)
            if same is None:
                kept.append(i)
            else:
                marked[i] = same
    for duplicate, counted in marked.items():
        _mark(cols, duplicate, counted)


def _same_call(cols: dict[str, list[Any]], a: int, b: int) -> bool:
    """Different instrumentations, overlapping in time (``a`` starts first)."""
    if cols["scope_name"][a] == cols["scope_name"][b]:
        return False
    return cols["start_time"][b] <= cols["start_time"][a] + cols["duration_ns"][a]
