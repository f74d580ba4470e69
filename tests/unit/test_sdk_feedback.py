"""``spyglass.feedback``: validation, background delivery, retries and rejections, against a
real HTTP server on 127.0.0.1 that records what it receives."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import spyglass
from spyglass import _feedback

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


class Recorder:
    """An HTTP server answering each POST with the next scripted status (then 200)."""

    def __init__(self) -> None:
        self.bodies: list[list[dict[str, Any]]] = []
        self.statuses: list[int] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                status = recorder.statuses.pop(0) if recorder.statuses else 200
                recorder.bodies.append(body)
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "0")
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"detail": "scripted"}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [e for body in self.bodies for e in body]


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    rec = Recorder()
    saved = (_feedback.sender.url, _feedback.sender.headers)
    _feedback.sender.configure(rec.url, {"authorization": "Bearer k"}, 5.0, 3.0)
    monkeypatch.setattr(_feedback, "_RETRY_DELAYS", (0.01, 0.01))
    yield rec
    _feedback.sender.url, _feedback.sender.headers = saved
    rec.server.shutdown()


def stat(name: str) -> int:
    return spyglass.sdk_stats()[name]


def test_event_is_posted_in_the_background_with_its_fields(server: Recorder) -> None:
    event_id = spyglass.feedback(
        TRACE.upper(),
        thumbs="down",
        comment="wrong refund window",
        source="support",
        escalation_reason="complaint",
        override="60 days",
        span_id="00f067aa0ba902b7",
        timestamp=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        attributes={"ticket": "T-1"},
    )
    assert event_id is not None
    assert spyglass.flush(timeout=10)
    (event,) = server.events()
    assert event == {
        "id": event_id,
        "trace_id": TRACE,
        "source": "support",
        "thumbs": "down",
        "comment": "wrong refund window",
        "escalation_reason": "complaint",
        "override": "60 days",
        "span_id": "00f067aa0ba902b7",
        "timestamp": "2026-11-20T09:30:00Z",
        "attributes": {"ticket": "T-1"},
    }


def test_seconds_timestamp_and_chosen_event_id(server: Recorder) -> None:
    assert spyglass.feedback(TRACE, score=0.5, timestamp=1_790_000_000.5, event_id="evt-1") == "evt-1"
    assert spyglass.flush(timeout=10)
    (event,) = server.events()
    assert event["timestamp"] == "2026-09-21T14:13:20.500000Z" and event["score"] == 0.5


def test_default_timestamp_is_the_call_time(server: Recorder) -> None:
    before = datetime.now(UTC)
    spyglass.feedback(TRACE, thumbs="up")
    after = datetime.now(UTC)
    assert spyglass.flush(timeout=10)
    (event,) = server.events()
    assert before <= datetime.fromisoformat(event["timestamp"]) <= after


@pytest.mark.parametrize(
    "kwargs",
    [
        {"trace_id": "nope", "thumbs": "up"},
        {"trace_id": "0" * 32, "thumbs": "up"},
        {"trace_id": TRACE, "thumbs": "meh"},
        {"trace_id": TRACE, "score": float("nan")},
        {"trace_id": TRACE, "score": True},
        {"trace_id": TRACE, "thumbs": "up", "source": "boss"},
        {"trace_id": TRACE, "thumbs": "up", "span_id": "xyz"},
        {"trace_id": TRACE, "thumbs": "up", "event_id": "has space"},
        {"trace_id": TRACE},
    ],
)
def test_invalid_call_is_counted_not_raised_and_not_sent(server: Recorder, kwargs: dict[str, Any]) -> None:
    before = stat("feedback_invalid")
    assert spyglass.feedback(**kwargs) is None
    assert spyglass.flush(timeout=10)
    assert stat("feedback_invalid") == before + 1
    assert server.events() == []


def test_busy_collector_is_retried_and_the_event_arrives_once(server: Recorder) -> None:
    server.statuses = [503, 503]
    event_id = spyglass.feedback(TRACE, thumbs="up")
    assert spyglass.flush(timeout=10)
    assert [e["id"] for e in server.events()] == [event_id] * 3  # two refusals, then stored
    assert len(server.bodies) == 3


def test_rejected_event_is_counted_and_not_retried(server: Recorder) -> None:
    server.statuses = [400]
    before = stat("feedback_rejected")
    spyglass.feedback(TRACE, thumbs="up")
    assert spyglass.flush(timeout=10)
    assert len(server.bodies) == 1 and stat("feedback_rejected") == before + 1


def test_unreachable_collector_drops_after_retries_without_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    saved = _feedback.sender.url
    monkeypatch.setattr(_feedback, "_RETRY_DELAYS", (0.01,))
    _feedback.sender.configure("http://127.0.0.1:9", None, 1.0, 1.0)  # discard port: refused
    try:
        before = stat("feedback_dropped")
        assert spyglass.feedback(TRACE, thumbs="down") is not None
        assert spyglass.flush(timeout=10)
        assert stat("feedback_dropped") == before + 1
    finally:
        _feedback.sender.url = saved


def test_events_are_batched(server: Recorder) -> None:
    ids = [spyglass.feedback(TRACE, score=float(i)) for i in range(1200)]
    assert spyglass.flush(timeout=20)
    assert [e["id"] for e in server.events()] == ids
    assert all(len(body) <= 500 for body in server.bodies)
