"""Fuzzing the ingestion endpoints (hypothesis, derandomized so CI runs the same cases):
random and mutated bodies never get a 5xx, a refused body changes nothing in the store, and
an accepted OTLP body is one the reference protobuf / JSON parser accepts too."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spyglass.collector import Settings, create_app
from spyglass.collector.store import Store
from tests import payloads as P

pytestmark = pytest.mark.integration

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _valid_request() -> ExportTraceServiceRequest:
    tid = P.new_trace_id()
    root = os.urandom(8)
    return P.request(
        P.span(tid, name="root", span_id=root, attrs={"spyglass.cohort.tenant": "fuzz", "n": 3}),
        P.span(tid, name="chat", parent=root, attrs={"gen_ai.request.model": "gpt-4o", "x": [1, 2]}),
        P.span(tid, name="tool", parent=root, error="boom"),
        resource={"service.name": "fuzz", "spyglass.project": "fuzz"},
    )


VALID_PB = _valid_request().SerializeToString()
VALID_JSON = json_format.MessageToJson(_valid_request()).encode()
VALID_FEEDBACK = json.dumps(
    {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "thumbs": "down", "comment": "wrong", "project": "fuzz"}
).encode()


@st.composite
def mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    """``valid`` with a few bytes replaced, removed or inserted, or cut short."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["replace", "delete", "insert", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "replace" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "delete" and data:
            del data[at]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "truncate":
            del data[at:]
    return bytes(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
feedback_events = st.dictionaries(
    st.sampled_from(
        ["trace_id", "span_id", "id", "thumbs", "score", "comment", "source", "timestamp", "project", "x"]
    ),
    json_values,
    max_size=6,
)


@pytest.fixture(scope="module")
def app_client(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    spool = tmp_path_factory.mktemp("fuzz-spool")
    app = create_app(store, Settings(batch_max_delay=0.005, spool_dir=str(spool)))
    with TestClient(app) as client:
        yield client


# Rows stored since the fuzzing began, as queries see them: FINAL, so a background merge that
# collapses two accepted copies of the same span (mutations share IDs) changes nothing.
_SINCE = {
    table: f"SELECT count() FROM {table} FINAL WHERE {arrived} >= {{since:DateTime64(3)}}"
    for table, arrived in (("spans", "ingested_at"), ("feedback", "received_at"))
}
_STARTED = datetime.now(UTC) - timedelta(seconds=1)


def _rows(client: TestClient, store: Store) -> tuple[int, int]:
    assert client.app.state.writer.spool.flush(30)  # type: ignore[attr-defined]
    spans, feedback = (store.query(sql, {"since": _STARTED}).column(0)[0].as_py() for sql in _SINCE.values())
    return spans, feedback


def _check(client: TestClient, store: Store, path: str, body: bytes, content_type: str) -> Any:
    before = _rows(client, store)
    resp = client.post(path, content=body, headers={"Content-Type": content_type})
    assert resp.status_code < 500, resp.text
    if resp.status_code != 200:
        assert resp.status_code in (400, 413, 415), resp.status_code
        assert _rows(client, store) == before  # refused: nothing stored
    return resp


@FUZZ
@given(body=st.binary(max_size=2000) | mutated(VALID_PB))
def test_otlp_protobuf_fuzz(app_client: TestClient, store: Store, body: bytes) -> None:
    resp = _check(app_client, store, "/v1/traces", body, "application/x-protobuf")
    if resp.status_code == 200:
        ExportTraceServiceRequest.FromString(body)  # only what the reference parser accepts


@FUZZ
@given(body=mutated(VALID_JSON) | json_values.map(lambda v: json.dumps(v).encode()))
def test_otlp_json_fuzz(app_client: TestClient, store: Store, body: bytes) -> None:
    resp = _check(app_client, store, "/v1/traces", body, "application/json")
    if resp.status_code == 200:
        json_format.Parse(body, ExportTraceServiceRequest(), ignore_unknown_fields=True)


@FUZZ
@given(
    body=mutated(VALID_FEEDBACK)
    | feedback_events.map(lambda e: json.dumps(e).encode())
    | st.lists(feedback_events, max_size=3).map(lambda e: json.dumps(e).encode())
)
def test_feedback_fuzz(app_client: TestClient, store: Store, body: bytes) -> None:
    resp = _check(app_client, store, "/v1/feedback", body, "application/json")
    if resp.status_code == 200:
        assert resp.json()["accepted"] == len(resp.json()["ids"]) >= 1
