"""The collector's HTTP edge, in-process against the real embedded ClickHouse: OTLP/HTTP ingest
in every encoding, partial success, each kind of bad input, duplicates, the trace API."""

from __future__ import annotations

import gzip
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from spyglass.collector import Settings, create_app
from spyglass.collector.store import Store, StoreError, queries
from tests import payloads as P
from tests.conftest import settled_client

pytestmark = pytest.mark.integration
PB = {"content-type": "application/x-protobuf"}


@pytest.fixture()
def client(store: Store) -> Iterator[TestClient]:
    with settled_client(create_app(store, Settings(batch_max_delay=0.01))) as c:
        yield c


def span_count(store: Store, project: str = "default") -> int:
    return store.query(queries.COUNT_SPANS, {"project": project}).column(0)[0].as_py()


def get(client: TestClient, trace_id: bytes) -> dict:
    resp = client.get(f"/api/traces/{trace_id.hex()}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_protobuf_export(client: TestClient) -> None:
    tid = P.new_trace_id()
    root = P.span(tid, name="root")
    child = P.span(
        tid,
        name="chat",
        parent=root.span_id,
        attrs={"gen_ai.operation.name": "chat", "gen_ai.request.model": "m1", "gen_ai.usage.input_tokens": 7},
    )
    resp = client.post("/v1/traces", content=P.request(root, child).SerializeToString(), headers=PB)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/x-protobuf"
    parsed = ExportTraceServiceResponse.FromString(resp.content)
    assert parsed.partial_success.rejected_spans == 0
    trace = get(client, tid)
    assert trace["spans"][0]["name"] == "root"
    (chat,) = trace["spans"][0]["children"]
    assert chat["kind"] == "llm" and chat["llm"]["request_model"] == "m1" and chat["llm"]["input_tokens"] == 7


def test_json_export_with_hex_ids_and_typed_values(client: TestClient) -> None:
    tid, sid = os.urandom(16).hex(), os.urandom(8).hex()
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "manual"},
                        "spans": [
                            {
                                "traceId": tid.upper(),
                                "spanId": sid,
                                "name": "json span",
                                "kind": 3,
                                "startTimeUnixNano": "1763900000123456789",
                                "endTimeUnixNano": "1763900000223456789",
                                "attributes": [
                                    {"key": "gen_ai.system", "value": {"stringValue": "openai"}},
                                    {"key": "gen_ai.usage.prompt_tokens", "value": {"intValue": "11"}},
                                    {"key": "custom.flag", "value": {"boolValue": True}},
                                    {
                                        "key": "custom.list",
                                        "value": {
                                            "arrayValue": {
                                                "values": [{"intValue": "1"}, {"stringValue": "x"}]
                                            }
                                        },
                                    },
                                    {
                                        "key": "custom.nested",
                                        "value": {
                                            "kvlistValue": {
                                                "values": [{"key": "a", "value": {"doubleValue": 1.5}}]
                                            }
                                        },
                                    },
                                ],
                                "status": {"code": 2, "message": "bad"},
                                "events": [
                                    {
                                        "timeUnixNano": "1763900000200000000",
                                        "name": "retry",
                                        "attributes": [{"key": "attempt", "value": {"intValue": 2}}],
                                    }
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    resp = client.post(
        "/v1/traces", content=json.dumps(body), headers={"content-type": "application/json; charset=utf-8"}
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == {}
    trace = client.get(f"/api/traces/{tid}").json()
    (s,) = trace["spans"]
    assert s["span_id"] == sid and s["span_kind"] == "client" and s["service"] == "json-svc"
    assert s["start_time"] == "2025-11-23T12:13:20.123456789Z" and s["duration_ms"] == 100.0
    assert s["llm"]["provider"] == "openai" and s["llm"]["input_tokens"] == 11
    assert s["status"] == {"code": "error", "message": "bad"}
    # Unknown attributes are kept, with their JSON types.
    assert s["attributes"] == {"custom.flag": "true", "custom.list": '[1,"x"]', "custom.nested": '{"a":1.5}'}
    assert s["events"] == [
        {
            "time": "2025-11-23T12:13:20.200000000Z",
            "offset_ms": 76.543211,
            "name": "retry",
            "attributes": {"attempt": "2"},
        }
    ]


def test_gzip_export(client: TestClient) -> None:
    tid = P.new_trace_id()
    body = gzip.compress(P.request(P.span(tid, name="zipped")).SerializeToString())
    resp = client.post("/v1/traces", content=body, headers={**PB, "content-encoding": "gzip"})
    assert resp.status_code == 200
    assert get(client, tid)["spans"][0]["name"] == "zipped"


def test_partial_success_keeps_the_good_spans(client: TestClient, store: Store) -> None:
    tid = P.new_trace_id()
    good = P.span(tid, name="good")
    bad_id = P.span(tid, name="bad-id")
    bad_id.span_id = b"\x01\x02\x03"
    bad_time = P.span(tid, name="bad-time", start_ns=2_000, duration_ns=0)
    bad_time.end_time_unix_nano = 1_000
    resp = client.post(
        "/v1/traces", content=P.request(good, bad_id, bad_time).SerializeToString(), headers=PB
    )
    assert resp.status_code == 200
    partial = ExportTraceServiceResponse.FromString(resp.content).partial_success
    assert partial.rejected_spans == 2
    assert "'bad-id': span_id must be 8 bytes" in partial.error_message
    assert "'bad-time': end_time_unix_nano is before start_time_unix_nano" in partial.error_message
    assert [s["name"] for s in get(client, tid)["spans"]] == ["good"]


def test_all_spans_rejected_is_400_and_stores_nothing(client: TestClient, store: Store) -> None:
    before = span_count(store)
    bad = P.span(b"\x00" * 16, name="zero-trace")
    resp = client.post("/v1/traces", content=P.request(bad).SerializeToString(), headers=PB)
    assert resp.status_code == 400
    assert "trace_id must be 16 bytes" in status_pb2.Status.FromString(resp.content).message
    assert span_count(store) == before


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"\xff\xff\xff\xff garbage", PB, 400, "not a valid OTLP protobuf"),
        (b"{not json", {"content-type": "application/json"}, 400, "not valid JSON"),
        (b'{"resourceSpans": 5}', {"content-type": "application/json"}, 400, "not a valid OTLP"),
        (b"[1, 2]", {"content-type": "application/json"}, 400, "must be an object"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 5}]}]}]}',
            {"content-type": "application/json"},
            400,
            "not a valid OTLP",
        ),
        (b"hello", {"content-type": "text/plain"}, 415, "Content-Type 'text/plain' is not supported"),
        (b"hello", {}, 415, "is not supported"),
        (b"hello", {**PB, "content-encoding": "br"}, 415, "Content-Encoding 'br' is not supported"),
        (b"not gzip at all", {**PB, "content-encoding": "gzip"}, 400, "not valid gzip"),
        (gzip.compress(b"x" * 100)[:-10], {**PB, "content-encoding": "gzip"}, 400, "truncated"),
    ],
)
def test_bad_input_is_rejected_and_changes_nothing(
    client: TestClient, store: Store, body: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    before = span_count(store)
    resp = client.post("/v1/traces", content=body, headers=headers)
    assert resp.status_code == status
    if resp.headers["content-type"] == "application/x-protobuf":
        text = status_pb2.Status.FromString(resp.content).message
    else:
        text = resp.json()["message"]
    assert message in text
    assert span_count(store) == before


def test_oversized_bodies_get_413(store: Store) -> None:
    before = span_count(store)
    with settled_client(create_app(store, Settings(max_body_bytes=2048))) as small:
        big = P.request(*[P.span(P.new_trace_id(), name="x" * 100) for _ in range(40)]).SerializeToString()
        assert len(big) > 2048
        assert small.post("/v1/traces", content=big, headers=PB).status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
            yield big[:1500]
            yield big[1500:]

        assert small.post("/v1/traces", content=chunks(), headers=PB).status_code == 413

        bomb = gzip.compress(b"\x00" * 1_000_000)  # 1 KB that inflates to 1 MB
        assert len(bomb) < 2048
        resp = small.post("/v1/traces", content=bomb, headers={**PB, "content-encoding": "gzip"})
        assert resp.status_code == 413
        assert (
            "decompressed body exceeds the limit of 2048 bytes"
            in status_pb2.Status.FromString(resp.content).message
        )
    assert span_count(store) == before


def test_redelivery_is_stored_once(client: TestClient, store: Store) -> None:
    tid = P.new_trace_id()
    body = P.request(P.span(tid, name="once"), P.span(tid, name="twice")).SerializeToString()
    for _ in range(3):
        assert client.post("/v1/traces", content=body, headers=PB).status_code == 200
    trace = get(client, tid)
    assert sorted(s["name"] for s in trace["spans"]) == ["once", "twice"]
    assert trace["totals"]["span_count"] == 2
    count = store.query(
        "SELECT count() FROM spans FINAL WHERE trace_id = unhex({t:String})", {"t": tid.hex()}
    )
    assert count.column(0)[0].as_py() == 2


def test_projects_are_separate(client: TestClient, store: Store) -> None:
    tid = P.new_trace_id()
    req = P.request(
        P.span(tid, name="elsewhere"), resource={"service.name": "s", "spyglass.project": "other"}
    )
    assert client.post("/v1/traces", content=req.SerializeToString(), headers=PB).status_code == 200
    assert client.get(f"/api/traces/{tid.hex()}").status_code == 404
    assert client.get(f"/api/traces/{tid.hex()}", params={"project": "other"}).json()["project"] == "other"


@pytest.mark.parametrize(
    "bad_id",
    [
        "abc",
        "0" * 32,
        "g" * 32,
        "a" * 33,
        "' OR 1=1 --" + "a" * 21,
        "%00" + "a" * 29,
        "a" * 5000,
    ],
)
def test_malformed_trace_id_is_400(client: TestClient, bad_id: str) -> None:
    resp = client.get(f"/api/traces/{bad_id}")
    assert resp.status_code == 400
    assert "malformed" in resp.json()["detail"]


def test_unknown_trace_is_404_and_hostile_project_is_just_a_value(client: TestClient) -> None:
    resp = client.get(f"/api/traces/{'ab' * 16}", params={"project": "x' OR '1'='1"})
    assert resp.status_code == 404
    assert f"no trace {'ab' * 16}" in resp.json()["detail"]


def test_orphan_spans_are_listed_as_roots(client: TestClient) -> None:
    tid = P.new_trace_id()
    orphan = P.span(tid, name="orphan", parent=os.urandom(8))
    client.post("/v1/traces", content=P.request(orphan).SerializeToString(), headers=PB)
    (s,) = get(client, tid)["spans"]
    assert s["parent_missing"] is True and s["parent_span_id"] is not None


class BrokenStore:
    """The real store with writes failing: a fault injection point, not a mock of reads."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def insert(self, table: str, batch: object) -> None:
        raise StoreError("disk full (injected)")

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_store_failure_is_absorbed_by_the_spool_and_replayed(store: Store, tmp_path: Path) -> None:
    tid = P.new_trace_id()
    settings = Settings(batch_max_delay=0.01, spool_dir=str(tmp_path), drain_timeout=0.2)
    with TestClient(create_app(BrokenStore(store), settings)) as broken:  # type: ignore[arg-type]
        resp = broken.post("/v1/traces", content=P.request(P.span(tid)).SerializeToString(), headers=PB)
        assert resp.status_code == 200  # durable in the spool although the store is down
        ready = broken.get("/readyz")
        while ready.status_code == 200:  # until the writer's first attempt has failed
            ready = broken.get("/readyz")
        metrics = broken.get("/metrics").text
    assert ready.status_code == 503 and "disk full (injected)" in ready.json()["problems"][0]
    assert "spyglass_store_up 0.0" in metrics and "spyglass_spool_rows 1.0" in metrics
    # The next start replays the spool into the (working) store.
    with settled_client(create_app(store, settings)) as healed:
        assert healed.get(f"/api/traces/{tid.hex()}").status_code == 200
        assert 'spyglass_replayed_rows_total{table="spans"} 1.0' in healed.get("/metrics").text


class UnreadableStore:
    """The real store with reads failing (writes still work): a fault injection point."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def query(self, sql: str, params: object = None) -> object:
        raise StoreError("disk unreadable (injected)")

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.mark.parametrize(
    "path",
    [
        "/api/traces/4bf92f3577b34da6a3ce929d0e0e4736",
        "/api/traces",
        "/api/feedback",
        "/api/analytics/cohorts?by=tenant",
        "/api/analytics/stages",
        "/api/analytics/compare?dimension=release&baseline=a&candidate=b",
    ],
)
def test_unreadable_store_is_503_with_retry_after(store: Store, path: str) -> None:
    with settled_client(create_app(UnreadableStore(store), Settings())) as c:  # type: ignore[arg-type]
        resp = c.get(path)
    assert resp.status_code == 503 and resp.headers["retry-after"] == "5"
    assert resp.json()["detail"] == "the store could not be read; retry shortly"
    assert "injected" not in resp.text  # the store's own message stays in the log


def test_full_spool_is_503_before_accepting(store: Store, tmp_path: Path) -> None:
    before = span_count(store)
    settings = Settings(spool_dir=str(tmp_path), spool_max_bytes=1000)
    with settled_client(create_app(store, settings)) as tiny:
        req = P.request(*[P.span(P.new_trace_id()) for _ in range(5)])
        resp = tiny.post("/v1/traces", content=req.SerializeToString(), headers=PB)
        assert resp.status_code == 503 and resp.headers["retry-after"] == "5"
        assert "spool" in resp.text
        metrics = tiny.get("/metrics").text
    assert span_count(store) == before
    assert 'spyglass_rejected_requests_total{reason="busy",signal="spans"} 1.0' in metrics


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"


def test_hostile_parent_cycle_is_shown_not_crashed(client: TestClient) -> None:
    tid, a, b = P.new_trace_id(), os.urandom(8), os.urandom(8)
    spans = [P.span(tid, name="a", span_id=a, parent=b), P.span(tid, name="b", span_id=b, parent=a)]
    client.post("/v1/traces", content=P.request(*spans).SerializeToString(), headers=PB)
    trace = get(client, tid)
    (root,) = trace["spans"]
    assert root["parent_cycle"] is True
    assert [c["name"] for c in root["children"]] == [("b" if root["name"] == "a" else "a")]
    assert trace["totals"]["span_count"] == 2


def test_very_deep_trace_is_returned_with_deep_spans_reattached(client: TestClient) -> None:
    tid = P.new_trace_id()
    ids = [os.urandom(8) for _ in range(1500)]
    spans = [
        P.span(tid, name=f"level-{i}", span_id=sid, parent=ids[i - 1] if i else b"", start_ns=10**18 + i)
        for i, sid in enumerate(ids)
    ]
    client.post("/v1/traces", content=P.request(*spans).SerializeToString(), headers=PB)
    trace = get(client, tid)
    assert trace["totals"]["span_count"] == 1500

    def count(nodes: list[dict], depth: int = 0) -> tuple[int, int]:
        total, deepest = 0, depth
        for n in nodes:
            sub_total, sub_deep = count(n["children"], depth + 1)
            total, deepest = total + 1 + sub_total, max(deepest, sub_deep)
        return total, deepest

    total, deepest = count(trace["spans"])
    assert total == 1500  # every span is in the tree exactly once
    assert deepest <= 101
    assert trace["spans"][0]["name"] == "level-0"
    assert all(s.get("reattached_depth") for s in trace["spans"][1:])


def test_corrupted_bodies_never_cause_a_server_error(client: TestClient) -> None:
    """Seeded random corruption of valid protobuf and JSON bodies: every answer is 200 or 400."""
    rng = random.Random(20261123)
    tid = P.new_trace_id()
    valid_pb = P.request(
        P.span(tid, name="root", attrs={"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 3}),
        P.span(tid, name="child", attrs={"spyglass.retrieval.document_ids": ["a", "b"]}),
    ).SerializeToString()
    valid_json = json.dumps(
        {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": tid.hex(),
                                    "spanId": "eee19b7ec3c1b174",
                                    "name": "j",
                                    "startTimeUnixNano": "1763900000123456789",
                                    "endTimeUnixNano": "1763900000223456789",
                                    "attributes": [{"key": "k", "value": {"intValue": "1"}}],
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    ).encode()
    statuses = set()
    for i in range(300):
        body, headers = (valid_pb, PB) if i % 2 else (valid_json, {"content-type": "application/json"})
        data = bytearray(body)
        for _ in range(rng.randint(1, 8)):
            op = rng.random()
            pos = rng.randrange(len(data))
            if op < 0.4:
                data[pos] = rng.randrange(256)
            elif op < 0.7:
                del data[pos : pos + rng.randint(1, 16)]
            else:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        resp = client.post("/v1/traces", content=bytes(data), headers=headers)
        statuses.add(resp.status_code)
        assert resp.status_code in (200, 400), (i, resp.status_code, resp.content[:200])
    assert statuses == {200, 400}  # both outcomes were exercised
