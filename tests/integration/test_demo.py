"""``spyglass demo`` for real: the demo process sends its workload through the SDK to a
``spyglass up`` process, and the traces and feedback come back through the API as the same
scenario generated in memory says they should. Sending it again changes nothing."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode, format_span_id, format_trace_id

from spyglass import attributes as A
from spyglass.cli._demo import Workload, simulate
from tests.conftest import CollectorProcess, flatten, run_demo

pytestmark = pytest.mark.integration

TRACES, SEED = 150, 1  # seed 1 at this size has fallbacks, denials, errors, empty searches
NOW = 1_795_000_000 - 1_795_000_000 % 3600  # fixed window end: the same data on every run


def demo_run(url: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """The test's demo scenario sent to the collector at ``url``."""
    return run_demo(url, "--traces", str(TRACES), "--seed", str(SEED), "--now", str(NOW), timeout=120)


def get_trace(url: str, trace_id: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/api/traces/{trace_id}", timeout=10) as resp:
        return json.load(resp)


@pytest.fixture(scope="module")
def expected() -> tuple[Workload, Sequence[ReadableSpan]]:
    return simulate(TRACES, seed=SEED, now=NOW)


@pytest.fixture(scope="module")
def sent(collector: CollectorProcess) -> tuple[str, dict[str, Any]]:
    done, result = demo_run(collector.url)
    return done.stdout, result


def first_trace(spans: Sequence[ReadableSpan], test: Any) -> tuple[str, ReadableSpan]:
    for span in spans:
        if test(span.attributes or {}, span):
            assert span.context is not None
            return format_trace_id(span.context.trace_id), span
    raise AssertionError("the scenario lacks what this test looks for")


def test_demo_process_sends_the_scenario(
    sent: tuple[str, dict[str, Any]], expected: tuple[Workload, Sequence[ReadableSpan]]
) -> None:
    stdout, result = sent
    workload, spans = expected
    assert result["problems"] == []
    # Another process, same scenario: the same traces, span for span, and the same feedback.
    assert result["trace_ids"] == workload.trace_ids and len(set(result["trace_ids"])) == TRACES
    assert result["spans"] == len(spans)
    assert result["feedback"] == len(workload.feedback) > 0
    summary = stdout.strip().splitlines()
    assert summary[0].startswith(f"demo: sent {TRACES} traces ({len(spans)} spans)")
    assert f"a bad answer (thumbs-down)   spyglass trace {result['bad_trace']}" in summary[2]


def test_traces_are_stored_whole(
    collector: CollectorProcess,
    sent: tuple[str, dict[str, Any]],
    expected: tuple[Workload, Sequence[ReadableSpan]],
) -> None:
    workload, spans = expected
    counts: dict[str, int] = {}
    for span in spans:
        assert span.context is not None
        tid = format_trace_id(span.context.trace_id)
        counts[tid] = counts.get(tid, 0) + 1
    for outcome in workload.outcomes[::15]:
        trace = get_trace(collector.url, outcome.trace_id)
        stored = flatten(trace["spans"])
        assert trace["totals"]["span_count"] == len(stored) == counts[outcome.trace_id]
        (root,) = trace["spans"]
        assert (
            root["name"] == {"support": "answer_question", "triage": "classify_ticket"}[outcome.request.app]
        )
        assert {"workflow", "embedding", "retrieval", "tool", "llm"} <= {s["kind"] for s in stored}
        assert root["cohort"]["tenant"] == outcome.request.tenant
        assert root["cohort"]["release"] == outcome.request.release
        assert root["service"] == "support-platform"
        assert root["start_time"].startswith("2026-11-")  # simulated time, not the time of the run


def test_fallback_route_in_the_store(
    collector: CollectorProcess,
    sent: tuple[str, dict[str, Any]],
    expected: tuple[Workload, Sequence[ReadableSpan]],
) -> None:
    tid, _ = first_trace(expected[1], lambda a, s: a.get(A.LLM_FALLBACK))
    stored = flatten(get_trace(collector.url, tid)["spans"])
    (fallback,) = [s for s in stored if s["llm"] and s["llm"].get("is_fallback")][:1]
    assert fallback["llm"]["fallback_from"] == "gpt-4o" and fallback["llm"]["request_model"] == "gpt-4o-mini"
    assert fallback["llm"]["prompt_name"] == "answer" and fallback["llm"]["prompt_version"] in ("v3", "v4")
    failed = [s for s in stored if s["name"] == "chat gpt-4o" and s["status"]["code"] == "error"]
    assert failed and failed[0]["error_type"].startswith("spyglass.cli._demo_apps.")
    assert failed[0]["events"][0]["name"] == "exception"


def test_denied_tool_in_the_store(
    collector: CollectorProcess,
    sent: tuple[str, dict[str, Any]],
    expected: tuple[Workload, Sequence[ReadableSpan]],
) -> None:
    tid, span = first_trace(expected[1], lambda a, s: a.get(A.TOOL_AUTHORIZATION) == "denied")
    stored = {s["span_id"]: s for s in flatten(get_trace(collector.url, tid)["spans"])}
    assert span.context is not None
    tool = stored[format_span_id(span.context.span_id)]["tool"]
    assert tool["authorization"] == "denied"
    assert tool["authorization_reason"] == (span.attributes or {})[A.TOOL_AUTHORIZATION_REASON]


def test_error_and_empty_search_in_the_store(
    collector: CollectorProcess,
    sent: tuple[str, dict[str, Any]],
    expected: tuple[Workload, Sequence[ReadableSpan]],
) -> None:
    tid, span = first_trace(expected[1], lambda a, s: s.status.status_code is StatusCode.ERROR)
    trace = get_trace(collector.url, tid)
    assert trace["totals"]["error_count"] >= 1
    assert span.context is not None
    (stored,) = [s for s in flatten(trace["spans"]) if s["span_id"] == format_span_id(span.context.span_id)]
    assert (
        stored["status"]["code"] == "error" and stored["error_type"] == (span.attributes or {})["error.type"]
    )

    tid, _ = first_trace(
        expected[1],
        lambda a, s: (
            a.get(A.SPAN_KIND) == "retrieval"
            and a.get(A.RETRIEVAL_DOCUMENT_IDS) == ()
            and s.status.status_code is StatusCode.UNSET
        ),
    )
    (search,) = [s for s in flatten(get_trace(collector.url, tid)["spans"]) if s["kind"] == "retrieval"]
    # The API leaves empty lists out: a search that found nothing has a corpus but no documents.
    assert search["retrieval"]["corpus"] in ("kb", "tickets") and "documents" not in search["retrieval"]
    assert search["status"]["code"] == "unset"


def test_feedback_in_the_store(collector: CollectorProcess, sent: tuple[str, dict[str, Any]]) -> None:
    _, result = sent
    bad = get_trace(collector.url, result["bad_trace"])["feedback"]
    down = [e for e in bad if e["thumbs"] == "down"]
    assert down and down[0]["id"] == f"demo-{result['bad_trace']}-thumbs" and down[0]["source"] == "end_user"
    assert down[0]["timestamp"] > get_trace(collector.url, result["bad_trace"])["totals"]["end_time"]

    escalated = get_trace(collector.url, result["escalated_trace"])["feedback"]
    assert any(e["escalation_reason"] for e in escalated)
    assert any(e["resolution"] and e["source"] == "support" for e in escalated)

    good = get_trace(collector.url, result["good_trace"])
    assert any(e["thumbs"] == "up" for e in good["feedback"]) and good["totals"]["error_count"] == 0


def test_sending_again_is_idempotent(collector: CollectorProcess, sent: tuple[str, dict[str, Any]]) -> None:
    _, first = sent
    before = {tid: get_trace(collector.url, tid) for tid in (first["bad_trace"], first["escalated_trace"])}
    _, second = demo_run(collector.url)
    assert second["trace_ids"] == first["trace_ids"]
    for tid, trace in before.items():
        again = get_trace(collector.url, tid)
        assert again["totals"]["span_count"] == trace["totals"]["span_count"]
        assert sorted(e["id"] for e in again["feedback"]) == sorted(e["id"] for e in trace["feedback"])
