"""The corpus: real OTLP bodies exported by other LLM instrumentations (``tests/corpus/<library>``,
captured by ``tests/corpus/capture.py``) replayed into a collector with the real embedded store;
each trace the API returns must match ``tests/corpus/expected.json``: kind, provider, models,
tokens, cost, tool, cohort fields, prompt version, content presence, and which of two spans
recording one model call is counted.

The bodies are replayed as captured except for their timestamps, shifted so the newest span is
a minute old (retention would otherwise expire a corpus captured months ago)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spyglass.collector import Settings, create_app
from spyglass.collector.store import Store
from tests.conftest import flatten, settled_client

pytestmark = pytest.mark.integration
CORPUS = Path(__file__).resolve().parent.parent / "corpus"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
LIBRARIES = sorted(EXPECTED)


def _rebased(body: bytes, shift: int) -> bytes:
    request = ExportTraceServiceRequest.FromString(body)
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                span.start_time_unix_nano += shift
                span.end_time_unix_nano += shift
                for event in span.events:
                    event.time_unix_nano += shift
    return request.SerializeToString()


def _newest_end(bodies: list[bytes]) -> int:
    request = ExportTraceServiceRequest()
    for body in bodies:
        request.MergeFromString(body)
    return max(
        s.end_time_unix_nano for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans
    )


@pytest.fixture(scope="module")
def replayed(store: Store) -> Iterator[dict[str, Any]]:
    """Every library's bodies sent to one collector at the path and with the auth scheme the
    library used, each library into its own project; yields library -> (client, project)."""
    app = create_app(store, Settings(batch_max_delay=0.01, grpc_port=0))
    with settled_client(app) as client:
        out = {}
        for library in LIBRARIES:
            meta = json.loads((CORPUS / library / "meta.json").read_text())
            bodies = [p.read_bytes() for p in sorted((CORPUS / library).glob("export-*.pb"))]
            assert len(bodies) == len(meta["requests"]) > 0, f"{library}: corpus files missing"
            shift = time.time_ns() - 60 * 10**9 - _newest_end(bodies)
            project = f"corpus-{library}"
            app.state.settings = app.state.ingest.settings = Settings(default_project=project)
            for body, sent in zip(bodies, meta["requests"], strict=True):
                headers = {"content-type": sent["content_type"]}
                if sent["authorization_scheme"] == "Basic":  # Langfuse: public:secret key pair
                    headers["authorization"] = (
                        "Basic " + base64.b64encode(b"pk-lf-corpus:sk-lf-corpus").decode()
                    )
                response = client.post(sent["path"], content=_rebased(body, shift), headers=headers)
                assert response.status_code == 200, f"{library} {sent['path']}: {response.text}"
            out[library] = (client, project)
        yield out


def _model_span(span: dict[str, Any]) -> dict[str, Any]:
    llm, cohort, content = span["llm"] or {}, span["cohort"] or {}, span["content"] or {}
    return {
        "kind": span["kind"],
        "provider": llm.get("provider"),
        "request_model": llm.get("request_model") or "",
        "response_model": llm.get("response_model") or "",
        "input_tokens": llm.get("input_tokens"),
        "output_tokens": llm.get("output_tokens"),
        "tool": (span["tool"] or {}).get("name"),
        "user": cohort.get("user"),
        "session": cohort.get("session"),
        "tenant": cohort.get("tenant"),
        "prompt_version": llm.get("prompt_version"),
        "finish_reasons": llm.get("finish_reasons") or [],
        "content": {"input": bool(content.get("input")), "output": bool(content.get("output"))},
        "counted": "spyglass.llm.duplicate_of" not in span["attributes"],
    }


def _cases() -> list[tuple[str, str]]:
    return [(library, scenario) for library in LIBRARIES for scenario in EXPECTED[library]]


@pytest.mark.parametrize(("library", "scenario"), _cases())
def test_each_trace_matches_its_expected_result(
    replayed: dict[str, Any], library: str, scenario: str
) -> None:
    client, project = replayed[library]
    traces = json.loads((CORPUS / library / "scenarios.json").read_text())
    (trace_id,) = [t for t, name in traces.items() if name == scenario]
    response = client.get(f"/api/traces/{trace_id}", params={"project": project})
    assert response.status_code == 200, response.text
    trace = response.json()
    expected = EXPECTED[library][scenario]
    spans = sorted(flatten(trace["spans"]), key=lambda s: s["start_time"])
    model_spans = [_model_span(s) for s in spans if s["kind"] in ("llm", "embedding")]
    assert model_spans == expected["model_spans"]
    totals = trace["totals"]
    assert (totals["input_tokens"], totals["output_tokens"]) == (
        expected["totals"]["input_tokens"],
        expected["totals"]["output_tokens"],
    )
    assert totals["cost_usd"] == pytest.approx(expected["totals"]["cost_usd"], rel=1e-6)


def test_the_trace_list_counts_a_doubly_recorded_call_once(replayed: dict[str, Any]) -> None:
    client, project = replayed["stacked"]
    rows = client.get("/api/traces", params={"project": project, "limit": 50}).json()["traces"]
    by_id = {r["trace_id"]: r for r in rows}
    traces = json.loads((CORPUS / "stacked" / "scenarios.json").read_text())
    for trace_id, scenario in traces.items():
        totals = EXPECTED["stacked"][scenario]["totals"]
        assert by_id[trace_id]["input_tokens"] == totals["input_tokens"]
        assert by_id[trace_id]["cost_usd"] == pytest.approx(totals["cost_usd"], rel=1e-6)


def test_the_cohort_review_counts_a_doubly_recorded_call_once(replayed: dict[str, Any]) -> None:
    client, project = replayed["stacked"]
    response = client.get(
        "/api/analytics/cohorts", params={"project": project, "by": "tenant", "min_tasks": 1}
    )
    assert response.status_code == 200, response.text
    (row,) = response.json()["rows"]
    expected = sum(s["totals"]["cost_usd"] for s in EXPECTED["stacked"].values())
    assert row["cost"] == pytest.approx(expected, rel=1e-6)
