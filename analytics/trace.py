"""Trace reconstruction: the rows of one trace -> a tree of spans with the trace's totals."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from typing import Any

import polars as pl

from .cost import STATUS_OK, STATUS_UNKNOWN_MODEL, PriceTable, price_spans

ROOT_PARENT = "0" * 16

_ID_COLUMNS = ("trace_id", "span_id", "parent_span_id")
_ID_LIST_COLUMNS = ("links_trace_id", "links_span_id")


def hex_ids(spans: pl.DataFrame) -> pl.DataFrame:
    """Span rows with binary IDs (``queries.TRACE_SPANS`` reads them as stored) -> the same
    rows with lowercase hex IDs, as every API answer shows them. Hex columns pass through."""
    exprs = [pl.col(c).bin.encode("hex") for c in _ID_COLUMNS if spans.schema.get(c) == pl.Binary]
    exprs += [
        pl.col(c).list.eval(pl.element().bin.encode("hex"))
        for c in _ID_LIST_COLUMNS
        if spans.schema.get(c) == pl.List(pl.Binary)
    ]
    return spans.with_columns(exprs) if exprs else spans


def iso_ns(ns: int) -> str:
    """Nanoseconds since the epoch -> ISO 8601 UTC with all nine fraction digits."""
    secs, frac = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def str_map(entries: Any) -> dict[str, str]:
    if not entries:
        return {}
    if isinstance(entries, dict):
        return dict(entries)
    return {e["key"]: e["value"] for e in entries}


def _present(section: dict[str, Any]) -> dict[str, Any] | None:
    kept = {k: v for k, v in section.items() if v not in ("", None, [], False)}
    return kept or None


def _span(row: dict[str, Any], trace_start: int) -> dict[str, Any]:
    start = row["start_ns"]
    node: dict[str, Any] = {
        "span_id": row["span_id"],
        "parent_span_id": None if row["parent_span_id"] == ROOT_PARENT else row["parent_span_id"],
        "name": row["name"],
        "kind": row["kind"] or None,
        "span_kind": row["span_kind"],
        "service": row["service"],
        "start_time": iso_ns(start),
        "offset_ms": (start - trace_start) / 1e6,
        "duration_ms": row["duration_ns"] / 1e6,
        "status": {"code": row["status_code"], "message": row["status_message"] or None},
        "error_type": row["error_type"] or None,
        "data_class": row["data_class"] or None,
        "cohort": _present(
            {
                "tenant": row["tenant"],
                "workflow": row["workflow"],
                "intent": row["intent"],
                "release": row["release"],
                "user": row["user_id"],
                "session": row["session_id"],
            }
        ),
        "llm": _present(
            {
                "operation": row["operation"],
                "provider": row["provider"],
                "request_model": row["request_model"],
                "response_model": row["response_model"],
                "endpoint_type": row["endpoint_type"],
                "batch_job_id": row["batch_job_id"],
                "prompt_name": row["prompt_name"],
                "prompt_version": row["prompt_version"],
                "prompt_hash": row["prompt_hash"],
                "input_tokens": row["input_tokens"],
                "output_tokens": row["output_tokens"],
                "cached_input_tokens": row["cached_input_tokens"],
                "finish_reasons": row["finish_reasons"],
                "is_fallback": row["is_fallback"],
                "fallback_from": row["fallback_from"],
            }
        ),
        "retrieval": _present(
            {
                "corpus": row["corpus"],
                "corpus_version": row["corpus_version"],
                "top_k": row["top_k"],
                "documents": [
                    {
                        "rank": i + 1,
                        "id": doc,
                        "score": row["document_scores"][i] if i < len(row["document_scores"] or []) else None,
                    }
                    for i, doc in enumerate(row["document_ids"] or [])
                ],
            }
        ),
        "tool": _present(
            {
                "name": row["tool_name"],
                "schema_version": row["tool_schema_version"],
                "call_id": row["tool_call_id"],
                "authorization": row["authorization"],
                "authorization_reason": row["authorization_reason"],
            }
        ),
        "cost": _cost(row),
        "content": _present({"input": row["input"], "output": row["output"]}),
        "attributes": str_map(row["attributes"]),
        "resource": str_map(row["resource_attributes"]),
        "scope": {
            "name": row["scope_name"],
            "version": row["scope_version"],
            "attributes": str_map(row["scope_attributes"]),
        },
        "events": [
            {"time": iso_ns(t), "offset_ms": (t - trace_start) / 1e6, "name": n, "attributes": str_map(a)}
            for t, n, a in zip(row["events_ns"], row["events_name"], row["events_attributes"], strict=False)
        ],
        "links": [
            {"trace_id": t, "span_id": s, "trace_state": ts or None, "attributes": str_map(a)}
            for t, s, ts, a in zip(
                row["links_trace_id"],
                row["links_span_id"],
                row["links_trace_state"],
                row["links_attributes"],
                strict=False,
            )
        ],
        "trace_state": row["trace_state"] or None,
        "dropped": _present(
            {
                "attributes": row["dropped_attributes_count"],
                "events": row["dropped_events_count"],
                "links": row["dropped_links_count"],
            }
        ),
        "children": [],
    }
    return node


def _cost(row: dict[str, Any]) -> dict[str, Any] | None:
    if row.get("cost_status") is None:
        return None
    return {"usd": row["cost_usd"], "status": row["cost_status"], "model": row["price_model"]}


def cost_totals(spans: pl.DataFrame) -> dict[str, Any]:
    """The cost of a set of priced spans (``cost.price_spans`` output): ``cost_usd`` sums the
    priced spans (``None`` when none could be priced: unknown is not $0) and
    ``unpriced_spans`` counts the spans with token counts whose model has no price."""
    priced = spans.filter(pl.col("cost_status") == STATUS_OK)
    return {
        "cost_usd": float(priced["cost_usd"].sum()) if priced.height else None,
        "unpriced_spans": int((spans["cost_status"] == STATUS_UNKNOWN_MODEL).sum()),
    }


def _totals(spans: pl.DataFrame) -> dict[str, Any]:
    t = spans.select(
        start=pl.col("start_ns").min(),
        end=(pl.col("start_ns") + pl.col("duration_ns").cast(pl.Int64)).max(),
        span_count=pl.len(),
        error_count=(pl.col("status_code") == "error").sum(),
        llm_calls=pl.col("kind").is_in(["llm", "embedding"]).sum(),
        fallback_count=pl.col("is_fallback").sum(),
        input_tokens=pl.col("input_tokens").sum(),
        output_tokens=pl.col("output_tokens").sum(),
        cached_input_tokens=pl.col("cached_input_tokens").sum(),
    ).row(0, named=True)
    return {
        "start_time": iso_ns(t["start"]),
        "end_time": iso_ns(t["end"]),
        "duration_ms": (t["end"] - t["start"]) / 1e6,
        "span_count": t["span_count"],
        "error_count": t["error_count"],
        "llm_calls": t["llm_calls"],
        "fallback_count": t["fallback_count"],
        "input_tokens": t["input_tokens"],
        "output_tokens": t["output_tokens"],
        "cached_input_tokens": t["cached_input_tokens"],
        "total_tokens": t["input_tokens"] + t["output_tokens"],
        "services": sorted(set(spans["service"].to_list()) - {""}),
        **cost_totals(spans),
    }


MAX_DEPTH = 100
"""Deeper spans are re-attached as roots (``reattached_depth``), so no client can make a
trace too deep to serialize."""


def _link(nodes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Put each span under its parent; return the roots. ``nodes`` is in start order.

    The parent links come from clients, so they are not trusted: a span whose parent never
    arrived is a root (``parent_missing``), a cycle is broken at the span where it closes
    (``parent_cycle``), and nesting deeper than ``MAX_DEPTH`` starts a new root."""
    parent_of: dict[str, str | None] = {}
    for sid, node in nodes.items():
        parent = node["parent_span_id"]
        if parent is not None and (parent not in nodes or parent == sid):
            node["parent_missing" if parent not in nodes else "parent_cycle"] = True
            parent = None
        parent_of[sid] = parent
    done: set[str] = set()
    for sid in nodes:
        path: list[str] = []
        on_path: set[str] = set()
        cur: str | None = sid
        while cur is not None and cur not in done:
            if cur in on_path:  # walked back onto this path: a cycle closes at cur
                nodes[cur]["parent_cycle"] = True
                parent_of[cur] = None
                break
            path.append(cur)
            on_path.add(cur)
            cur = parent_of[cur]
        done.update(path)
    children: dict[str, list[str]] = {sid: [] for sid in nodes}
    roots = [sid for sid, parent in parent_of.items() if parent is None]
    for sid, parent in parent_of.items():
        if parent is not None:
            children[parent].append(sid)
    out = []
    pending = deque((sid, 0) for sid in roots)
    while pending:
        sid, depth = pending.popleft()
        if depth == 0:
            out.append(nodes[sid])
        for child in children[sid]:
            if depth + 1 > MAX_DEPTH:
                nodes[child]["reattached_depth"] = True
                pending.append((child, 0))
            else:
                nodes[sid]["children"].append(nodes[child])
                pending.append((child, depth + 1))
    return out


def build_trace(spans: pl.DataFrame, prices: PriceTable | None = None) -> dict[str, Any]:
    """One trace's span rows (``queries.TRACE_SPANS`` as a polars frame, non-empty) -> the
    trace as JSON-ready data: ``spans`` holds the root spans, each child under its parent
    (ordered by start time); spans whose parent never arrived are listed as roots with
    ``parent_missing`` (see ``_link`` for cycles and depth); ``totals`` sums the whole trace.
    LLM and embedding spans are priced with ``prices`` (default: the shipped price table).

    Example::

        trace = build_trace(pl.from_arrow(store.query(queries.TRACE_SPANS, params)))
        trace["totals"]["input_tokens"]
    """
    frame = (
        price_spans(hex_ids(spans), prices or PriceTable.load())
        .with_columns(
            start_ns=pl.col("start_time").dt.epoch("ns"),
            events_ns=pl.col("events_time").list.eval(pl.element().dt.epoch("ns")),
        )
        .sort("start_ns", "span_id")
    )
    totals = _totals(frame)
    trace_start = frame["start_ns"].min()
    rows = frame.to_dicts()
    nodes = {row["span_id"]: _span(row, trace_start) for row in rows}  # type: ignore[arg-type]
    roots = _link(nodes)
    return {
        "trace_id": rows[0]["trace_id"],
        "project": rows[0]["project"],
        "totals": totals,
        "spans": roots,
    }
