"""Feedback events (``queries.TRACE_FEEDBACK`` / ``FEEDBACK_INBOX`` rows) -> JSON-ready dicts."""

from __future__ import annotations

from typing import Any

import polars as pl

from .trace import iso_ns, str_map

NO_SPAN = "0" * 16
_OPTIONAL_TEXT = ("thumbs", "comment", "escalation_reason", "override", "resolution")


def feedback_events(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Feedback rows -> events in the frame's order: empty text is ``None``, times are ISO
    8601 with nanoseconds, ``span_id`` is ``None`` when the event names no span. Inbox rows
    also get ``state`` ("open" or "resolved") and ``trace_resolution``.

    Example::

        events = feedback_events(pl.from_arrow(store.query(queries.TRACE_FEEDBACK, params)))
        [e["thumbs"] for e in events]
    """
    if frame.is_empty():
        return []
    rows = frame.with_columns(
        timestamp_ns=pl.col("timestamp").dt.epoch("ns"),
        received_ns=pl.col("received_at").dt.epoch("ns"),
    ).to_dicts()
    out = []
    for row in rows:
        event: dict[str, Any] = {
            "id": row["event_id"],
            "trace_id": row["trace_id"],
            "span_id": None if row["span_id"] == NO_SPAN else row["span_id"],
            "timestamp": iso_ns(row["timestamp_ns"]),
            "received_at": iso_ns(row["received_ns"]),
            "source": row["source"],
            "score": row["score"],
            "attributes": str_map(row["attributes"]),
        }
        for name in _OPTIONAL_TEXT:
            event[name] = row[name] or None
        if "trace_resolution" in row:
            event["trace_resolution"] = row["trace_resolution"] or None
            event["state"] = "resolved" if row["trace_resolution"] else "open"
        out.append(event)
    return out
