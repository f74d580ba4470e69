"""Feedback events through the collector's HTTP edge, against the real embedded ClickHouse:
valid and invalid events, feedback before its trace, ordering, idempotent retries, the inbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spyglass.collector import Settings, create_app
from spyglass.collector.store import Store
from tests import payloads as P
from tests.conftest import settled_client

pytestmark = pytest.mark.integration


@pytest.fixture()
def client(store: Store) -> Iterator[TestClient]:
    with settled_client(create_app(store, Settings(batch_max_delay=0.01))) as c:
        yield c


def send_trace(client: TestClient, tid: bytes, project: str | None = None) -> bytes:
    """A two-span trace; returns the LLM span's ID."""
    root = P.span(tid, name="answer_question")
    call = P.span(tid, name="chat", parent=root.span_id, attrs={"gen_ai.request.model": "gpt-4o-mini"})
    resource = {"spyglass.project": project} if project else None
    resp = client.post(
        "/v1/traces",
        content=P.request(root, call, resource=resource).SerializeToString(),
        headers={"content-type": "application/x-protobuf"},
    )
    assert resp.status_code == 200, resp.text
    return call.span_id


def post(client: TestClient, body: Any) -> Any:
    return client.post("/v1/feedback", content=json.dumps(body), headers={"content-type": "application/json"})


def trace_feedback(client: TestClient, tid: bytes, project: str = "default") -> list[dict[str, Any]]:
    resp = client.get(f"/api/traces/{tid.hex()}", params={"project": project})
    assert resp.status_code == 200, resp.text
    return resp.json()["feedback"]


def test_one_event_is_stored_with_every_field(client: TestClient) -> None:
    tid = P.new_trace_id()
    span_id = send_trace(client, tid)
    resp = post(
        client,
        {
            "trace_id": tid.hex(),
            "span_id": span_id.hex(),
            "thumbs": "down",
            "score": 0.2,
            "comment": "wrong refund window",
            "source": "support",
            "escalation_reason": "customer complaint",
            "override": "Refunds are possible within 60 days.",
            "resolution": "prompt fixed in v4",
            "timestamp": "2026-11-20T09:30:00.123456789Z",
            "attributes": {"ticket": "T-1"},
        },
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 1
    (event,) = trace_feedback(client, tid)
    assert event["id"] == resp.json()["ids"][0]
    assert event["span_id"] == span_id.hex()
    assert event["thumbs"] == "down" and event["score"] == 0.2
    assert event["comment"] == "wrong refund window" and event["source"] == "support"
    assert event["escalation_reason"] == "customer complaint"
    assert event["override"] == "Refunds are possible within 60 days."
    assert event["resolution"] == "prompt fixed in v4"
    assert event["timestamp"] == "2026-11-20T09:30:00.123456789Z"  # nanoseconds kept
    assert event["attributes"] == {"ticket": "T-1"}


def test_events_over_days_are_kept_in_time_order(client: TestClient) -> None:
    tid = P.new_trace_id()
    send_trace(client, tid)
    later = {"trace_id": tid.hex(), "resolution": "fixed", "source": "reviewer", "timestamp": 1_790_000_000}
    first = {"trace_id": tid.hex(), "thumbs": "down", "timestamp": "2026-09-01T00:00:00Z"}
    middle = {
        "trace_id": tid.hex(),
        "escalation_reason": "legal",
        "source": "support",
        "timestamp": 1_789_000_000,
    }
    assert post(client, [later, first]).status_code == 200
    assert post(client, middle).status_code == 200
    events = trace_feedback(client, tid)
    assert [e["thumbs"] or e["escalation_reason"] or e["resolution"] for e in events] == [
        "down",
        "legal",
        "fixed",
    ]
    assert events[0]["source"] == "end_user"  # the default source
    assert events[0]["span_id"] is None and events[0]["comment"] is None


def test_default_timestamp_is_arrival(client: TestClient) -> None:
    tid = P.new_trace_id()
    send_trace(client, tid)
    assert post(client, {"trace_id": tid.hex(), "thumbs": "up"}).status_code == 200
    (event,) = trace_feedback(client, tid)
    assert event["timestamp"] == event["received_at"]  # the first event of a request: exactly arrival


def test_events_of_one_request_without_timestamps_keep_their_order(client: TestClient) -> None:
    tid = P.new_trace_id()
    send_trace(client, tid)
    events = [{"trace_id": tid.hex(), "comment": str(i)} for i in range(20)]
    assert post(client, events).status_code == 200
    assert [e["comment"] for e in trace_feedback(client, tid)] == [str(i) for i in range(20)]


def test_feedback_before_its_trace_is_kept(client: TestClient) -> None:
    tid = P.new_trace_id()
    assert post(client, {"trace_id": tid.hex(), "thumbs": "down", "comment": "early"}).status_code == 200
    missing = client.get(f"/api/traces/{tid.hex()}")
    assert missing.status_code == 404
    assert "1 feedback events are waiting" in missing.json()["detail"]
    send_trace(client, tid)
    (event,) = trace_feedback(client, tid)
    assert event["comment"] == "early"


def test_retried_event_with_the_same_id_is_stored_once(client: TestClient) -> None:
    tid = P.new_trace_id()
    send_trace(client, tid)
    event = {"id": "evt-42", "trace_id": tid.hex(), "thumbs": "down"}
    assert post(client, event).status_code == 200
    assert post(client, event).status_code == 200
    assert [e["id"] for e in trace_feedback(client, tid)] == ["evt-42"]


def test_feedback_is_per_project(client: TestClient) -> None:
    tid = P.new_trace_id()
    send_trace(client, tid, project="billing")
    assert post(client, {"trace_id": tid.hex(), "thumbs": "up", "project": "billing"}).status_code == 200
    assert post(client, {"trace_id": tid.hex(), "thumbs": "down"}).status_code == 200  # default project
    assert [e["thumbs"] for e in trace_feedback(client, tid, "billing")] == ["up"]


GOOD = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    ("event", "names"),
    [
        ({"thumbs": "down"}, "events[0].trace_id: missing"),
        ({"trace_id": "xyz", "thumbs": "down"}, "events[0].trace_id"),
        ({"trace_id": "0" * 32, "thumbs": "down"}, "events[0].trace_id"),
        ({"trace_id": GOOD, "thumbs": "sideways"}, 'events[0].thumbs: expected "up" or "down"'),
        ({"trace_id": GOOD, "score": "high"}, "events[0].score: expected a finite number"),
        ({"trace_id": GOOD, "score": True}, "events[0].score"),
        ({"trace_id": GOOD, "thumbs": "up", "source": "ceo"}, "events[0].source: expected one of"),
        ({"trace_id": GOOD, "thumbs": "up", "span_id": "12"}, "events[0].span_id"),
        ({"trace_id": GOOD, "thumbs": "up", "timestamp": "yesterday"}, "events[0].timestamp"),
        ({"trace_id": GOOD, "thumbs": "up", "timestamp": "2026-11-20T09:30:00"}, "has no time zone"),
        ({"trace_id": GOOD, "thumbs": "up", "timestamp": 4e12}, "events[0].timestamp"),
        ({"trace_id": GOOD, "comment": 7}, "events[0].comment: expected a string, got int"),
        ({"trace_id": GOOD, "comment": "x" * 20_001}, "events[0].comment: 20001 characters"),
        ({"trace_id": GOOD, "thumbs": "up", "attributes": {"a": 1}}, "events[0].attributes"),
        ({"trace_id": GOOD, "thumbs": "up", "id": "a b'; DROP TABLE feedback"}, "events[0].id"),
        ({"trace_id": GOOD, "thumbs": "up", "rating": 5}, "unknown field 'rating'"),
        ({"trace_id": GOOD}, "events[0]: no feedback in it"),
        ("thumbs down", "events[0]: expected a JSON object"),
    ],
)
def test_invalid_event_is_400_naming_the_field(client: TestClient, event: Any, names: str) -> None:
    resp = post(client, event)
    assert resp.status_code == 400
    assert names in resp.json()["detail"]


def test_one_bad_event_rejects_the_whole_request(client: TestClient) -> None:
    tid = P.new_trace_id()
    send_trace(client, tid)
    resp = post(client, [{"trace_id": tid.hex(), "thumbs": "up"}, {"trace_id": tid.hex(), "thumbs": "meh"}])
    assert resp.status_code == 400 and "events[1].thumbs" in resp.json()["detail"]
    assert trace_feedback(client, tid) == []


@pytest.mark.parametrize(
    ("body", "headers", "status", "names"),
    [
        (b"{not json", {"content-type": "application/json"}, 400, "not valid JSON"),
        (b"[]", {"content-type": "application/json"}, 400, "empty list"),
        (b'{"trace_id": 1}', {"content-type": "text/plain"}, 415, "send application/json"),
        (json.dumps([{"trace_id": GOOD, "thumbs": "up"}] * 1001).encode(), {}, 400, "at most 1000"),
    ],
)
def test_malformed_bodies(
    client: TestClient, body: bytes, headers: dict[str, str], status: int, names: str
) -> None:
    resp = client.post("/v1/feedback", content=body, headers=headers or {"content-type": "application/json"})
    assert resp.status_code == status and names in resp.json()["detail"]


def test_oversized_feedback_body_is_413(store: Store) -> None:
    with settled_client(create_app(store, Settings(max_body_bytes=1000))) as small:
        resp = post(small, {"trace_id": GOOD, "comment": "x" * 2000})
    assert resp.status_code == 413


def inbox(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    resp = client.get("/api/feedback", params={"project": "inbox-test", **params})
    assert resp.status_code == 200, resp.text
    return resp.json()["events"]


def test_inbox_lists_negative_and_escalations_newest_first_with_state(client: TestClient) -> None:
    a, b, c = (P.new_trace_id().hex() for _ in range(3))
    now = "2026-11-2{}T10:00:00Z"
    events = [
        {"trace_id": a, "thumbs": "down", "comment": "wrong", "timestamp": now.format(0)},
        {"trace_id": b, "escalation_reason": "legal", "source": "support", "timestamp": now.format(1)},
        {"trace_id": c, "thumbs": "up", "timestamp": now.format(2)},  # positive: not in the inbox
        {"trace_id": c, "score": 0.1, "timestamp": now.format(2)},  # a score alone is not an escalation
    ]
    assert post(client, [{**e, "project": "inbox-test"} for e in events]).status_code == 200
    window = {"since": "2026-11-19T00:00:00Z", "until": "2026-11-23T00:00:00Z"}
    listed = inbox(client, **window)
    assert [(e["trace_id"], e["state"]) for e in listed] == [(b, "open"), (a, "open")]
    resolution = {
        "trace_id": a,
        "resolution": "answered by agent",
        "source": "support",
        "project": "inbox-test",
    }
    assert post(client, {**resolution, "timestamp": now.format(2)}).status_code == 200
    listed = inbox(client, **window)
    assert [(e["trace_id"], e["state"], e["trace_resolution"]) for e in listed] == [
        (b, "open", None),
        (a, "resolved", "answered by agent"),
    ]
    assert [e["trace_id"] for e in inbox(client, state="open", **window)] == [b]
    assert [e["trace_id"] for e in inbox(client, state="resolved", **window)] == [a]
    assert [e["trace_id"] for e in inbox(client, source="support", **window)] == [b]
    page = client.get("/api/feedback", params={"project": "inbox-test", "limit": 1, **window}).json()
    assert page["has_more"] is True and len(page["events"]) == 1


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"state": "closed"}, "'state'"),
        ({"limit": 0}, "'limit'"),
        ({"limit": "ten"}, "'limit'"),
        ({"since": "last week"}, "'since'"),
        ({"since": "2026-11-23T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, "since is after until"),
        ({"source": "boss"}, "'source'"),
    ],
)
def test_inbox_rejects_bad_parameters(client: TestClient, params: dict[str, Any], names: str) -> None:
    resp = client.get("/api/feedback", params=params)
    assert resp.status_code == 400 and names in resp.json()["detail"]
