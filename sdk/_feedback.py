"""``spyglass.feedback``: record a feedback event on a trace, sent to the collector in the
background (``POST /v1/feedback``), never on the application's thread.

Events wait in a bounded queue (more are dropped and counted); a daemon thread posts them in
batches and retries with backoff while the collector is down or busy (503). Each event
carries an ID chosen here, so a retried post is stored once. ``spyglass.flush()`` waits for
the queue, and at interpreter exit the queue gets ``shutdown_timeout`` seconds to drain.
"""

from __future__ import annotations

import atexit
import json
import math
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from . import _redact, _sampling
from ._guard import counters, log_rate_limited, report_internal_error

SOURCES = ("end_user", "support", "reviewer", "eval")
_TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")
_SPAN_ID = re.compile(r"^[0-9a-fA-F]{16}$")
_EVENT_ID = re.compile(r"^[\w.:\-]{1,64}$")
_BATCH = 500
_MAX_QUEUE = 10_000
_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
_FREE_TEXT = ("comment", "escalation_reason", "override", "resolution")


class _Sender:
    """The background poster. Configured by ``spyglass.init`` (URL, headers); until then it
    posts to ``SPYGLASS_ENDPOINT`` or the default collector address."""

    def __init__(self) -> None:
        self.url = ""
        self.headers: dict[str, str] = {}
        self.timeout = 5.0
        self.shutdown_timeout = 3.0
        self._queue: deque[dict[str, Any]] = deque()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._thread: threading.Thread | None = None
        self._closing = False

    def configure(
        self, base_url: str, headers: Mapping[str, str] | None, timeout: float, shutdown: float
    ) -> None:
        self.url = base_url.rstrip("/").removesuffix("/v1/traces") + "/v1/feedback"
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.shutdown_timeout = shutdown

    def put(self, event: dict[str, Any]) -> bool:
        with self._cond:
            if len(self._queue) >= _MAX_QUEUE:
                return False
            self._queue.append(event)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="spyglass-feedback", daemon=True)
                self._thread.start()
                atexit.register(self._at_exit)
            self._cond.notify_all()
        return True

    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def _at_exit(self) -> None:
        self._closing = True
        self.flush(self.shutdown_timeout)

    def _take(self) -> list[dict[str, Any]]:
        with self._cond:
            while not self._queue:
                self._cond.wait()
            batch = [self._queue.popleft() for _ in range(min(_BATCH, len(self._queue)))]
            self._in_flight = len(batch)
            return batch

    def _done(self) -> None:
        with self._cond:
            self._in_flight = 0
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            batch = self._take()
            try:
                self._send(batch)
            except Exception:
                counters.add("feedback_dropped", len(batch))
                try:
                    report_internal_error("feedback export")
                except Exception:
                    pass  # the export thread must survive even under the test suite
            finally:
                self._done()

    def _send(self, batch: list[dict[str, Any]]) -> None:
        body = json.dumps(batch).encode()
        headers = {"content-type": "application/json", **self.headers}
        for attempt, delay in enumerate((*_RETRY_DELAYS, None)):
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout):
                    counters.add("feedback_exported", len(batch))
                    return
            except urllib.error.HTTPError as err:
                if err.code not in (429, 502, 503, 504):
                    detail = err.read()[:500].decode(errors="replace")
                    counters.add("feedback_rejected", len(batch))
                    log_rate_limited(
                        "feedback rejected",
                        "spyglass: the collector rejected feedback (%s): %s",
                        err.code,
                        detail,
                    )
                    return
                retry_after = err.headers.get("Retry-After", "")
                if delay is not None and retry_after.isdigit():
                    delay = min(float(retry_after), 30.0)
            except (urllib.error.URLError, OSError):
                pass
            if delay is None or self._closing:
                break
            time.sleep(delay * (1 + attempt * 0.1))
        counters.add("feedback_dropped", len(batch))
        counters.add("export_failures")
        log_rate_limited(
            "feedback dropped",
            "spyglass: feedback could not reach the collector at %s; %d events dropped",
            self.url,
            len(batch),
        )


sender = _Sender()


def _invalid(message: str) -> None:
    counters.add("feedback_invalid")
    log_rate_limited(
        f"feedback invalid: {message[:40]}", "spyglass.feedback: %s; event not recorded", message
    )


def _timestamp(value: datetime | float | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        moment = datetime.fromtimestamp(float(value), UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def feedback(
    trace_id: str,
    *,
    thumbs: Literal["up", "down"] | None = None,
    score: float | None = None,
    comment: str | None = None,
    source: Literal["end_user", "support", "reviewer", "eval"] = "end_user",
    escalation_reason: str | None = None,
    override: str | None = None,
    resolution: str | None = None,
    span_id: str | None = None,
    timestamp: datetime | float | None = None,
    attributes: Mapping[str, str] | None = None,
    event_id: str | None = None,
) -> str | None:
    """Record a feedback event on the trace ``trace_id`` (as ``spyglass.current_trace_id()``
    returned it when the answer was produced); returns the event's ID.

    Give at least one of ``thumbs``, ``score``, ``comment``, ``escalation_reason``,
    ``override`` (the human's corrected answer or label) or ``resolution``. ``source`` says
    who gave it; ``span_id`` points at one span (for example the LLM call that was wrong);
    ``timestamp`` (a datetime or seconds since the epoch) defaults to now. Events for one
    trace may come over days, before or after its spans.

    The event is sent in the background; an invalid call is logged and counted in
    ``sdk_stats()["feedback_invalid"]`` and returns None, never raising into the application.
    The free text (``comment``, ``escalation_reason``, ``override``, ``resolution``) goes
    through the same redactor as captured content (``spyglass.Redactor``), whether or not
    content capture is on; the counts ride in ``attributes`` (``spyglass.redaction.email``).
    Negative feedback (thumbs down, an escalation or an override) given in this process
    keeps a trace that head sampling left out, if its spans are still held (``init``).

    Example::

        spyglass.feedback(reference_id, thumbs="down", comment="wrong refund window")
        spyglass.feedback(reference_id, source="support", escalation_reason="customer complaint")
    """
    try:
        if not isinstance(trace_id, str) or not _TRACE_ID.match(trace_id) or not int(trace_id, 16):
            _invalid(f"trace_id {str(trace_id)[:40]!r} is not 32 hexadecimal characters")
            return None
        if span_id is not None and (not isinstance(span_id, str) or not _SPAN_ID.match(span_id)):
            _invalid(f"span_id {str(span_id)[:40]!r} is not 16 hexadecimal characters")
            return None
        if thumbs not in (None, "up", "down"):
            _invalid(f'thumbs must be "up" or "down", not {thumbs!r}')
            return None
        if score is not None and (
            isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score)
        ):
            _invalid(f"score must be a finite number, not {score!r}")
            return None
        if source not in SOURCES:
            _invalid(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
            return None
        if event_id is not None and (not isinstance(event_id, str) or not _EVENT_ID.match(event_id)):
            _invalid(f"event_id {str(event_id)[:40]!r} must be 1-64 letters, digits or . _ : -")
            return None
        content = {
            "thumbs": thumbs,
            "score": score,
            "comment": comment,
            "escalation_reason": escalation_reason,
            "override": override,
            "resolution": resolution,
        }
        if all(v in (None, "") for v in content.values()):
            _invalid(
                "no feedback given: pass thumbs, score, comment, escalation_reason, override or resolution"
            )
            return None
        from ._state import state

        # Free text is what a user or agent typed: redacted like captured content, always
        # (feedback is sent whether or not span content capture is on).
        redacted: dict[str, int] = {}
        for name in _FREE_TEXT:
            if content[name] not in (None, ""):
                content[name], found = _redact.active.scrub(content[name])
                for kind, n in found.items():
                    redacted[kind] = redacted.get(kind, 0) + n
        event: dict[str, Any] = {
            "id": event_id or uuid.uuid4().hex,
            "trace_id": trace_id.lower(),
            "source": source,
        }
        event.update({k: v for k, v in content.items() if v not in (None, "")})
        if span_id is not None:
            event["span_id"] = span_id.lower()
        # Stamped now, not on arrival: the event may wait in the queue or be retried.
        event["timestamp"] = _timestamp(timestamp if timestamp is not None else time.time())
        if attributes or redacted:
            event["attributes"] = {str(k): str(v) for k, v in (attributes or {}).items()}
            event["attributes"].update({k: str(n) for k, n in _redact.count_attributes(redacted).items()})
        if state.project:
            event["project"] = state.project
        if not sender.url:
            from ._config import feedback_url

            sender.configure(feedback_url(None), None, 5.0, 3.0)
        _sampling.on_feedback(trace_id, event)  # keeps a sampled-out trace on negative feedback
        if not sender.put(event):
            counters.add("feedback_dropped")
            log_rate_limited("feedback queue full", "spyglass: feedback queue full; event dropped")
            return None
        return str(event["id"])
    except Exception:
        report_internal_error("feedback")
        return None
