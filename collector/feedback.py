"""Feedback events as JSON -> rows of the ``feedback`` table.

Any application can post feedback without the SDK, so the field names are plain and every
check names the field it rejects: ``events[2].thumbs: expected "up" or "down", got "sideways"``.
A request is all or nothing: one invalid event rejects the request and nothing is stored.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from typing import Any

import pyarrow as pa

from ._time import parse_time_ns
from .store.queries import FEEDBACK_COLUMNS

MAX_EVENTS = 1000
MAX_TEXT = 20_000
MAX_ATTRIBUTES = 64
SOURCES = ("end_user", "support", "reviewer", "eval")
THUMBS = ("up", "down")
CONTENT_FIELDS = ("thumbs", "score", "comment", "escalation_reason", "override", "resolution")
FIELDS = frozenset(
    {"trace_id", "span_id", "id", "source", "timestamp", "project", "attributes", *CONTENT_FIELDS}
)

_TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")
_SPAN_ID = re.compile(r"^[0-9a-fA-F]{16}$")
_EVENT_ID = re.compile(r"^[\w.:\-]{1,64}$")
# Feedback may be backdated (imports from a ticketing system) but not far into the future.
_MAX_FUTURE_NS = 24 * 3600 * 10**9

_TS = pa.timestamp("ns", tz="UTC")
SCHEMA = pa.schema(
    [
        (c, t)
        for c, t in {
            "project": pa.string(),
            "trace_id": pa.binary(16),
            "span_id": pa.binary(8),
            "event_id": pa.string(),
            "timestamp": _TS,
            "received_at": _TS,
            "thumbs": pa.string(),
            "score": pa.float64(),
            "comment": pa.string(),
            "source": pa.string(),
            "escalation_reason": pa.string(),
            "override": pa.string(),
            "resolution": pa.string(),
            "attributes": pa.map_(pa.string(), pa.string()),
        }.items()
    ]
)
assert tuple(SCHEMA.names) == FEEDBACK_COLUMNS


class FeedbackError(ValueError):
    """An invalid feedback request (HTTP 400); the message names the field."""


def parse_body(body: bytes) -> list[dict[str, Any]]:
    """The request body -> a list of event objects (one object is a list of one)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedbackError(f"body is not valid JSON: {exc}") from exc
    events = data if isinstance(data, list) else [data]
    if not events:
        raise FeedbackError("body is an empty list: send one event object or a list of them")
    if len(events) > MAX_EVENTS:
        raise FeedbackError(f"{len(events)} events in one request; send at most {MAX_EVENTS}")
    return events


def _text(where: str, value: Any, limit: int = MAX_TEXT) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FeedbackError(f"{where}: expected a string, got {type(value).__name__}")
    if len(value) > limit:
        raise FeedbackError(f"{where}: {len(value)} characters; at most {limit} are accepted")
    return value


def _timestamp(where: str, value: Any, now_ns: int) -> int:
    if value is None:
        return now_ns
    if isinstance(value, bool):
        raise FeedbackError(f"{where}: expected an RFC 3339 string or seconds since the epoch, got bool")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise FeedbackError(f"{where}: {value!r} is not a valid number of seconds since the epoch")
        ns = int(value * 1e9)
    elif isinstance(value, str):
        try:
            ns = parse_time_ns(value)
        except ValueError as exc:
            raise FeedbackError(f"{where}: {exc}") from None
    else:
        raise FeedbackError(
            f"{where}: expected an RFC 3339 string or seconds since the epoch, got {type(value).__name__}"
        )
    if ns < 0 or ns > now_ns + _MAX_FUTURE_NS:
        raise FeedbackError(f"{where}: {value!r} is more than a day in the future or before 1970")
    return ns


def _event(i: int, event: Any, default_project: str, now_ns: int) -> dict[str, Any]:
    at = f"events[{i}]"
    if not isinstance(event, dict):
        raise FeedbackError(f"{at}: expected a JSON object, got {type(event).__name__}")
    unknown = sorted(set(event) - FIELDS)
    if unknown:
        raise FeedbackError(f"{at}: unknown field {unknown[0]!r}; known fields: {', '.join(sorted(FIELDS))}")
    trace_id = event.get("trace_id")
    if not isinstance(trace_id, str) or not _TRACE_ID.match(trace_id) or not int(trace_id, 16):
        shown = repr(trace_id)[:70] if trace_id is not None else "missing"
        raise FeedbackError(f"{at}.trace_id: {shown}; expected 32 hexadecimal characters, not all zero")
    span_id = event.get("span_id")
    if span_id is not None and (
        not isinstance(span_id, str) or not _SPAN_ID.match(span_id) or not int(span_id, 16)
    ):
        raise FeedbackError(f"{at}.span_id: {repr(span_id)[:40]}; expected 16 hexadecimal characters")
    event_id = event.get("id")
    if event_id is not None and (not isinstance(event_id, str) or not _EVENT_ID.match(event_id)):
        raise FeedbackError(f"{at}.id: expected 1-64 letters, digits or . _ : -, got {repr(event_id)[:80]}")
    thumbs = event.get("thumbs")
    if thumbs is not None and thumbs not in THUMBS:
        raise FeedbackError(f'{at}.thumbs: expected "up" or "down", got {repr(thumbs)[:40]}')
    score = event.get("score")
    if score is not None and (
        isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score)
    ):
        raise FeedbackError(f"{at}.score: expected a finite number, got {repr(score)[:40]}")
    source = event.get("source", "end_user")
    if source not in SOURCES:
        raise FeedbackError(f"{at}.source: expected one of {', '.join(SOURCES)}; got {repr(source)[:40]}")
    project = _text(f"{at}.project", event.get("project"), 200) or default_project
    attributes = event.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        raise FeedbackError(f"{at}.attributes: expected an object of string values")
    if len(attributes) > MAX_ATTRIBUTES:
        raise FeedbackError(f"{at}.attributes: {len(attributes)} entries; at most {MAX_ATTRIBUTES}")
    row = {
        "project": project,
        "trace_id": bytes.fromhex(trace_id),
        "span_id": bytes.fromhex(span_id) if span_id else bytes(8),
        "event_id": event_id or uuid.uuid4().hex,
        # Events without a timestamp keep their order within the request (1 ns apart).
        "timestamp": _timestamp(f"{at}.timestamp", event.get("timestamp"), now_ns + i),
        "received_at": now_ns,
        "thumbs": thumbs or "",
        "score": float(score) if score is not None else None,
        "comment": _text(f"{at}.comment", event.get("comment")),
        "source": source,
        "escalation_reason": _text(f"{at}.escalation_reason", event.get("escalation_reason")),
        "override": _text(f"{at}.override", event.get("override")),
        "resolution": _text(f"{at}.resolution", event.get("resolution")),
        "attributes": {k: _text(f"{at}.attributes.{k[:40]}", v) for k, v in attributes.items()},
    }
    if not any(row[f] not in ("", None) for f in CONTENT_FIELDS):
        raise FeedbackError(f"{at}: no feedback in it; give at least one of {', '.join(CONTENT_FIELDS)}")
    return row


def decode(body: bytes, default_project: str = "default", project: str | None = None) -> pa.Table:
    """A ``POST /v1/feedback`` body -> one Arrow table of feedback rows (``FeedbackError`` if
    any event is invalid). Events without an ``id`` get a random one; without a
    ``timestamp``, the arrival time. ``project``, when given (an API key's project), overrides
    the events' own ``project`` field.

    Example::

        table = decode(b'{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "thumbs": "down"}')
    """
    now_ns = time.time_ns()
    rows = [_event(i, e, default_project, now_ns) for i, e in enumerate(parse_body(body))]
    if project is not None:
        for row in rows:
            row["project"] = project
    columns = {name: [r[name] for r in rows] for name in SCHEMA.names}
    columns["attributes"] = [list(r["attributes"].items()) for r in rows]
    return pa.table(columns, schema=SCHEMA)
