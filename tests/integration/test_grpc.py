"""OTLP/gRPC beside OTLP/HTTP, in-process against the real embedded ClickHouse: the real
OpenTelemetry gRPC exporter's spans reach the same store and trace API; keys, bad input and a
full collector map to the gRPC status codes the OTLP specification asks for."""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from fastapi.testclient import TestClient
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from spyglass.collector import Settings, create_app
from spyglass.collector.ingest import Denied
from spyglass.collector.store import Store
from tests import payloads as P
from tests.conftest import CollectorProcess, free_port, settled_client

pytestmark = pytest.mark.integration


def _serve(store: Store, **settings: Any) -> Iterator[tuple[TestClient, int]]:
    port = free_port()
    app = create_app(store, Settings(batch_max_delay=0.01, grpc_port=port, **settings))
    with settled_client(app) as client:
        assert app.state.grpc_port == port
        yield client, port


@pytest.fixture()
def served(store: Store) -> Iterator[tuple[TestClient, int]]:
    yield from _serve(store)


def _stub(port: int) -> Any:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return trace_service_pb2_grpc.TraceServiceStub(channel)


def test_the_opentelemetry_grpc_exporter_reaches_the_trace_api(served: tuple[TestClient, int]) -> None:
    client, port = served
    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True, timeout=10)
    provider = TracerProvider(resource=Resource.create({"service.name": "grpc-app"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("chat gpt-4o-mini") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "llm.token_count.prompt": 12,
            }
        )
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    trace = client.get(f"/api/traces/{trace_id}").json()
    (root,) = trace["spans"]
    assert (root["kind"], root["service"], root["llm"]["request_model"]) == ("llm", "grpc-app", "gpt-4o-mini")
    assert trace["totals"]["input_tokens"] == 12  # an OpenInference name, through the same normalizer


def test_partial_success_names_the_rejected_span(served: tuple[TestClient, int]) -> None:
    client, port = served
    tid = os.urandom(16)
    request = P.request(P.span(tid, name="good"), P.span(tid, name="bad", start_ns=0, duration_ns=0))
    response = _stub(port).Export(request, timeout=10)
    assert response.partial_success.rejected_spans == 1
    assert "bad" in response.partial_success.error_message
    assert [s["name"] for s in client.get(f"/api/traces/{tid.hex()}").json()["spans"]] == ["good"]


def test_all_spans_rejected_is_invalid_argument(served: tuple[TestClient, int]) -> None:
    _, port = served
    with pytest.raises(grpc.RpcError) as caught:
        _stub(port).Export(P.request(P.span(b"\x00" * 16)), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "trace_id" in caught.value.details()


def test_the_key_check_sees_the_authorization_metadata(served: tuple[TestClient, int]) -> None:
    client, port = served
    ingest = client.app.state.ingest  # type: ignore[attr-defined]
    seen: list[str | None] = []

    def authorize(header: str | None) -> str | None:
        seen.append(header)
        if header == "Bearer good":
            return "keyed"
        raise Denied(403 if header else 401, "no")

    ingest.authorize = authorize
    tid = os.urandom(16)
    stub = _stub(port)
    for metadata, code in (
        ((), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer x"),), grpc.StatusCode.PERMISSION_DENIED),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            stub.Export(P.request(P.span(tid)), metadata=metadata, timeout=10)
        assert caught.value.code() == code
    stub.Export(P.request(P.span(tid)), metadata=(("authorization", "Bearer good"),), timeout=10)
    assert seen == [None, "Bearer x", "Bearer good"]
    assert client.get(f"/api/traces/{tid.hex()}", params={"project": "keyed"}).status_code == 200


def test_a_full_collector_answers_unavailable_with_retry_info(store: Store) -> None:
    for _client, port in _serve(store, spool_max_bytes=1):
        with pytest.raises(grpc.RpcError) as caught:
            _stub(port).Export(P.request(P.span(os.urandom(16))), timeout=10)
        error = caught.value
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        trailers = dict(error.trailing_metadata())
        status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        info = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(info) and info.retry_delay.seconds > 0
        bare = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
        assert bare.retry_delay.seconds == info.retry_delay.seconds


def test_a_taken_port_leaves_grpc_off_and_http_serving(store: Store) -> None:
    port = free_port()
    with _Holder(port):
        app = create_app(store, Settings(grpc_port=port))
        with settled_client(app) as client:
            assert app.state.grpc_port is None
            assert client.get("/healthz").status_code == 200


class _Holder:
    """Holds a TCP port on 127.0.0.1 while inside."""

    def __init__(self, port: int) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_grpc_off_with_port_zero(store: Store) -> None:
    app = create_app(store, Settings(grpc_port=0))
    with settled_client(app):
        assert app.state.grpc_port is None


def test_spyglass_up_serves_grpc_on_the_configured_port(tmp_path: Path) -> None:
    port = free_port()
    up = CollectorProcess(tmp_path / "data", env={"SPYGLASS_GRPC_PORT": str(port)}).start()
    try:
        exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True, timeout=10)
        provider = TracerProvider(resource=Resource.create({"service.name": "up-grpc"}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with provider.get_tracer("test").start_as_current_span("work") as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
        provider.shutdown()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(urllib.error.HTTPError):
                with urllib.request.urlopen(f"{up.url}/api/traces/{trace_id}", timeout=5) as r:
                    assert json.load(r)["spans"][0]["service"] == "up-grpc"
                    break
            time.sleep(0.2)
        else:
            raise AssertionError(f"trace {trace_id} sent over gRPC never appeared")
    finally:
        up.stop()
