"""The trace list (``queries.TRACE_LIST`` rows) -> JSON-ready rows with each trace's cost."""

from __future__ import annotations

from typing import Any

import polars as pl

from .cost import REQUIRED_COLUMNS, STATUS_OK, STATUS_UNKNOWN_MODEL, PriceTable, price_spans
from .trace import iso_ns

# queries.TRACE_LIST's llm_calls tuples hold exactly what pricing reads, in this order.
_CALL_FIELDS = list(REQUIRED_COLUMNS)


def _trace_costs(frame: pl.DataFrame, prices: PriceTable) -> pl.DataFrame:
    """trace_id -> cost_usd (None when nothing could be priced), unpriced_spans."""
    calls = (
        frame.select("trace_id", "llm_calls")
        .explode("llm_calls")
        .drop_nulls("llm_calls")
        .with_columns(pl.col("llm_calls").struct.rename_fields(_CALL_FIELDS))
        .unnest("llm_calls")
    )
    if calls.is_empty():
        return pl.DataFrame(
            {"trace_id": [], "cost_usd": [], "unpriced_spans": []},
            schema={"trace_id": pl.String, "cost_usd": pl.Float64, "unpriced_spans": pl.Int64},
        )
    priced = price_spans(calls, prices)
    return priced.group_by("trace_id").agg(
        cost_usd=pl.when((pl.col("cost_status") == STATUS_OK).any())
        .then(pl.col("cost_usd").filter(pl.col("cost_status") == STATUS_OK).sum())
        .otherwise(None),
        unpriced_spans=(pl.col("cost_status") == STATUS_UNKNOWN_MODEL).sum().cast(pl.Int64),
    )


def trace_rows(frame: pl.DataFrame, prices: PriceTable) -> list[dict[str, Any]]:
    """One row per trace, in the frame's order (newest first), with ``cost_usd`` summed over
    its priced LLM and embedding calls (``None`` when none could be priced) and
    ``unpriced_spans`` counting calls whose model has no price.

    Example::

        rows = trace_rows(pl.from_arrow(store.query(queries.TRACE_LIST, params)), prices)
        rows[0]["trace_id"], rows[0]["cost_usd"]
    """
    if frame.is_empty():
        return []
    costs = _trace_costs(frame, prices)
    joined = frame.drop("llm_calls").join(costs, on="trace_id", how="left", maintain_order="left")
    out = []
    for row in joined.to_dicts():
        out.append(
            {
                "trace_id": row["trace_id"],
                "start_time": iso_ns(row["start_ns"]),
                "duration_ms": (row["end_ns"] - row["start_ns"]) / 1e6,
                "name": row["name"],
                "service": row["service"] or None,
                "tenant": row["tenant"] or None,
                "workflow": row["workflow"] or None,
                "intent": row["intent"] or None,
                "release": row["release"] or None,
                "models": list(row["models"] or []),
                "span_count": row["span_count"],
                "error_count": row["error_count"],
                "input_tokens": row["input_tokens"],
                "output_tokens": row["output_tokens"],
                "cost_usd": row["cost_usd"],
                "unpriced_spans": row["unpriced_spans"] or 0,
                "feedback_count": row["feedback_count"] or 0,
                "negative_feedback": bool(row["negative_feedback"]),
                "escalated": bool(row["escalated"]),
            }
        )
    return out
