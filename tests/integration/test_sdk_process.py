"""The SDK inside real application processes: a dead or hung collector never blocks or grows
the application, an existing TracerProvider is joined rather than replaced, and environment
variables configure everything."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import CollectorProcess, free_port, run_app
from tests.integration.test_end_to_end import flatten, get_trace

pytestmark = pytest.mark.integration


def last_json(stdout: str) -> dict[str, Any]:
    return json.loads(stdout.strip().splitlines()[-1])


class Blackhole:
    """Accepts TCP connections and never answers: a hung collector."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.sock.close()


def test_hung_collector_neither_blocks_nor_grows_the_app() -> None:
    hole = Blackhole()
    try:
        result = run_app(
            "sdk_probe.py",
            "busy",
            "5000",
            env={"SPYGLASS_ENDPOINT": f"http://127.0.0.1:{hole.port}"},
            timeout=90,
        )
    finally:
        hole.close()
    assert result.returncode == 0, result.stderr
    out = last_json(result.stdout)
    assert out["total"] == sum(i * 2 for i in range(5000))  # the app's own results are untouched
    # The exporter was stuck inside the hung collector while all 5000 requests completed:
    # nothing was exported, and spans beyond the 256-span queue were dropped and counted.
    assert hole.accepted >= 1
    assert out["stats"]["spans_exported"] == 0
    assert out["stats"]["spans_dropped"] >= 10_000 - 256 - 512
    assert out["stats"]["internal_errors"] == 0


def test_dead_collector_costs_the_app_nothing() -> None:
    result = run_app(
        "sdk_probe.py",
        "busy",
        "3000",
        env={"SPYGLASS_ENDPOINT": f"http://127.0.0.1:{free_port()}"},
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    out = last_json(result.stdout)
    assert out["total"] == sum(i * 2 for i in range(3000))
    assert out["stats"]["spans_exported"] == 0 and out["stats"]["spans_dropped"] > 0


def test_joins_an_existing_tracer_provider(collector: CollectorProcess) -> None:
    result = run_app("sdk_probe.py", "host_provider", env={"SPYGLASS_ENDPOINT": collector.url})
    assert result.returncode == 0, result.stderr
    out = last_json(result.stdout)
    assert out["same_provider"] and out["global_is_host"]
    # The host's own exporter still gets every span, Spyglass's included...
    assert out["memory_spans"] == ["chat gpt-4o-mini", "host-own-span", "host_request"]
    # ...and the collector gets them too, the host's span stamped with the cohort as well.
    trace = get_trace(collector.url, out["trace_id"])
    spans = {s["name"]: s for s in flatten(trace["spans"])}
    assert set(spans) == {"chat gpt-4o-mini", "host-own-span", "host_request"}
    assert spans["host-own-span"]["cohort"] == {"tenant": "t-host"}
    assert spans["chat gpt-4o-mini"]["parent_span_id"] == spans["host-own-span"]["span_id"]
    assert {s["service"] for s in spans.values()} == {"host-app"}


class Recorder:
    """An HTTP endpoint that records what exporters send it and answers 200."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                recorder.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture()
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.server.shutdown()


def exported(rec: Recorder) -> tuple[dict[str, str], dict[str, str], Any]:
    """The one export request received: its headers, resource attributes and first span."""
    assert len(rec.requests) == 1
    req = rec.requests[0]
    assert req["path"] == "/v1/traces"
    body = ExportTraceServiceRequest.FromString(req["body"])
    headers = {k.lower(): v for k, v in req["headers"].items()}
    resource = {kv.key: kv.value.string_value for kv in body.resource_spans[0].resource.attributes}
    return headers, resource, body.resource_spans[0].scope_spans[0].spans[0]


def test_spyglass_environment_variables(recorder: Recorder) -> None:
    result = run_app(
        "sdk_probe.py",
        "env",
        env={
            "SPYGLASS_ENDPOINT": recorder.url,
            "SPYGLASS_API_KEY": "sk-test-123",
            "SPYGLASS_SERVICE_NAME": "env-svc",
            "SPYGLASS_PROJECT": "proj-a",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-extra=1",
        },
    )
    assert result.returncode == 0, result.stderr
    headers, resource, span = exported(recorder)
    assert headers["authorization"] == "Bearer sk-test-123"
    assert headers["x-extra"] == "1"
    assert resource["service.name"] == "env-svc" and resource["spyglass.project"] == "proj-a"
    assert span.trace_id.hex() == last_json(result.stdout)["trace_id"]


def test_standard_otel_environment_variables(recorder: Recorder) -> None:
    result = run_app(
        "sdk_probe.py",
        "env",
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": recorder.url,
            "OTEL_SERVICE_NAME": "otel-svc",
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20from-otel",
        },
    )
    assert result.returncode == 0, result.stderr
    headers, resource, _ = exported(recorder)
    assert headers["authorization"] == "Bearer from-otel"
    assert resource["service.name"] == "otel-svc"
