"""The whole path, for real: a decorated application process exports through OTLP/HTTP to a
``spyglass up`` process on the embedded store; the trace comes back by the ID the app reported."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest

from tests.conftest import CollectorProcess, flatten, run_app

pytestmark = pytest.mark.integration


def get_trace(url: str, trace_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """Poll until the trace is stored (the collector answers after writing, so this is quick)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/traces/{trace_id}", timeout=10) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as err:
            if err.code != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(scope="module")
def bot_trace(collector: CollectorProcess) -> dict[str, Any]:
    result = run_app("support_bot.py", collector.url, "--feedback")
    assert result.returncode == 0, result.stderr
    reported = json.loads(result.stdout.strip().splitlines()[-1])
    trace = get_trace(collector.url, reported["trace_id"])
    assert trace["trace_id"] == reported["trace_id"]
    trace["_fallback_span"] = reported["fallback_span"]  # the app printed its answer: keep only this
    return trace


def by_name(trace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in flatten(trace["spans"])}


def test_tree_and_parents(bot_trace: dict[str, Any]) -> None:
    (root,) = bot_trace["spans"]
    assert root["name"] == "answer_question" and root["kind"] == "workflow"
    assert root["parent_span_id"] is None
    children = [c["name"] for c in root["children"]]
    assert children == [
        "retrieval kb",
        "chat gpt-4o",
        "chat gpt-4o-mini",
        "suggest_followups",
        "execute_tool issue_refund",
    ]
    for child in root["children"]:
        assert child["parent_span_id"] == root["span_id"]
        assert child["children"] == []
    assert bot_trace["totals"]["span_count"] == 6


def test_cohort_on_every_span(bot_trace: dict[str, Any]) -> None:
    for span in flatten(bot_trace["spans"]):
        assert span["cohort"] == {
            "tenant": "acme",
            "workflow": "support",
            "intent": "refund",
            "release": "2026.11.2",
            "user": "user-42",
            "session": "sess-7",
        }
        assert span["service"] == "support-bot"


def test_retrieval_fields(bot_trace: dict[str, Any]) -> None:
    span = by_name(bot_trace)["retrieval kb"]
    assert span["kind"] == "retrieval"
    assert span["retrieval"]["corpus"] == "kb"
    assert span["retrieval"]["corpus_version"] == "2026-11-01"
    assert span["retrieval"]["top_k"] == 2
    docs = span["retrieval"]["documents"]
    assert [(d["rank"], d["id"]) for d in docs] == [(1, "doc-1"), (2, "doc-7")]
    assert [round(d["score"], 2) for d in docs] == [0.92, 0.71]


def test_failed_primary_and_fallback_model(bot_trace: dict[str, Any]) -> None:
    spans = by_name(bot_trace)
    failed = spans["chat gpt-4o"]
    assert failed["status"]["code"] == "error"
    assert "gpt-4o timed out" in failed["status"]["message"]
    assert failed["error_type"] == "__main__.ProviderTimeout"
    assert failed["events"][0]["name"] == "exception"
    assert failed["events"][0]["attributes"]["exception.type"] == "__main__.ProviderTimeout"
    assert failed["llm"]["request_model"] == "gpt-4o"
    assert len(failed["llm"]["prompt_hash"]) == 16

    fallback = spans["chat gpt-4o-mini"]
    assert fallback["status"]["code"] == "unset"
    llm = fallback["llm"]
    assert llm["is_fallback"] is True and llm["fallback_from"] == "gpt-4o"
    assert llm["provider"] == "openai"
    assert llm["request_model"] == "gpt-4o-mini"
    assert llm["response_model"] == "gpt-4o-mini-2024-07-18"
    assert llm["prompt_name"] == "answer" and llm["prompt_version"] == "v3"
    assert llm["endpoint_type"] == "live"
    assert (llm["input_tokens"], llm["output_tokens"], llm["cached_input_tokens"]) == (120, 30, 64)
    assert llm["finish_reasons"] == ["stop"]
    assert fallback["attributes"]["gen_ai.response.id"] == "resp-1"


def test_streamed_call_covers_the_stream(bot_trace: dict[str, Any]) -> None:
    span = by_name(bot_trace)["suggest_followups"]
    assert span["llm"]["provider"] == "anthropic"
    assert span["llm"]["output_tokens"] == 3  # set after the last token: the span was still open
    assert span["duration_ms"] >= 10


def test_tool_authorization(bot_trace: dict[str, Any]) -> None:
    span = by_name(bot_trace)["execute_tool issue_refund"]
    assert span["kind"] == "tool"
    assert span["tool"] == {
        "name": "issue_refund",
        "schema_version": "2",
        "call_id": "call-9",
        "authorization": "denied",
        "authorization_reason": "role lacks refunds",
    }


def test_totals(bot_trace: dict[str, Any]) -> None:
    totals = bot_trace["totals"]
    assert totals["error_count"] == 1
    assert totals["input_tokens"] == 160 and totals["output_tokens"] == 33
    assert totals["total_tokens"] == 193
    assert totals["llm_calls"] == 3 and totals["fallback_count"] == 1
    assert totals["services"] == ["support-bot"]
    assert totals["duration_ms"] == pytest.approx(bot_trace["spans"][0]["duration_ms"], abs=0.01)


def test_feedback_from_the_sdk_is_attached(bot_trace: dict[str, Any]) -> None:
    """spyglass.feedback() in the app -> POST /v1/feedback -> the trace API, in order."""
    down, escalation = bot_trace["feedback"]
    assert down["thumbs"] == "down" and down["source"] == "end_user"
    assert down["comment"] == "refund window is 60 days"
    assert down["span_id"] == bot_trace["_fallback_span"]
    assert by_name(bot_trace)["chat gpt-4o-mini"]["span_id"] == down["span_id"]
    assert escalation["source"] == "support" and escalation["escalation_reason"] == "customer complaint"
    assert escalation["override"] == "60 days" and escalation["span_id"] is None


def test_cost_of_the_trace(bot_trace: dict[str, Any]) -> None:
    spans = by_name(bot_trace)
    # gpt-4o-mini: 56 uncached + 64 cached input tokens, 30 output, at $0.15 / $0.075 / $0.60 per M
    assert spans["chat gpt-4o-mini"]["cost"] == {
        "usd": pytest.approx((56 * 0.15 + 64 * 0.075 + 30 * 0.60) / 1e6),
        "status": "ok",
        "model": "gpt-4o-mini",
    }
    assert spans["chat gpt-4o"]["cost"]["status"] == "no_usage"  # timed out: no token counts
    assert spans["answer_question"]["cost"] is None
    priced = [s["cost"]["usd"] for s in spans.values() if s["cost"] and s["cost"]["usd"] is not None]
    assert bot_trace["totals"]["cost_usd"] == pytest.approx(sum(priced))


def test_content_not_exported_by_default(bot_trace: dict[str, Any]) -> None:
    text = json.dumps(bot_trace)
    for secret in ("How do I get a refund?", "refund within 30 days", "A-17", "Answer using"):
        assert secret not in text
    assert all(s["content"] is None for s in flatten(bot_trace["spans"]))


def test_content_exported_when_turned_on(collector: CollectorProcess) -> None:
    result = run_app("support_bot.py", collector.url, "--capture")
    assert result.returncode == 0, result.stderr
    trace = get_trace(collector.url, json.loads(result.stdout.strip().splitlines()[-1])["trace_id"])
    spans = by_name(trace)
    assert spans["retrieval kb"]["content"] == {"input": "How do I get a refund?"}
    fallback = spans["chat gpt-4o-mini"]["content"]
    assert json.loads(fallback["input"])[0]["parts"][0]["content"] == "How do I get a refund?"
    assert json.loads(fallback["output"])[0]["role"] == "assistant"
    assert json.loads(spans["execute_tool issue_refund"]["content"]["input"]) == {
        "order": "A-17",
        "amount": 30,
    }


def test_content_env_variable(collector: CollectorProcess) -> None:
    result = run_app("support_bot.py", collector.url, env={"SPYGLASS_CAPTURE_CONTENT": "true"})
    assert result.returncode == 0, result.stderr
    trace = get_trace(collector.url, json.loads(result.stdout.strip().splitlines()[-1])["trace_id"])
    assert by_name(trace)["retrieval kb"]["content"] == {"input": "How do I get a refund?"}


def test_cli_prints_the_tree(collector: CollectorProcess, bot_trace: dict[str, Any]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "spyglass.cli", "trace", bot_trace["trace_id"], "--endpoint", collector.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"trace {bot_trace['trace_id']}")
    assert "6 spans  1 errors  tokens 160 in / 33 out" in lines[0]
    assert lines[2].startswith("answer_question  [workflow]")
    assert any(ln.startswith("├─ chat gpt-4o  [llm]") and "ERROR ProviderTimeout" in ln for ln in lines)
    assert any("fallback from gpt-4o" in ln and "tokens 120→30" in ln for ln in lines)
    assert any(
        ln.startswith("└─ execute_tool issue_refund") and "DENIED (role lacks refunds)" in ln for ln in lines
    )


def test_cli_errors(collector: CollectorProcess) -> None:
    unknown = subprocess.run(
        [sys.executable, "-m", "spyglass.cli", "trace", "ab" * 16, "--endpoint", collector.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 1 and "no trace abab" in unknown.stderr
    malformed = subprocess.run(
        [sys.executable, "-m", "spyglass.cli", "trace", "nothex", "--endpoint", collector.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert malformed.returncode == 1 and "malformed" in malformed.stderr


def test_second_collector_on_the_same_directory_says_what_to_do(collector: CollectorProcess) -> None:
    second = subprocess.run(
        [sys.executable, "-m", "spyglass.cli", "up", "--port", "0", "--data-dir", str(collector.data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode != 0
    assert "Another Spyglass collector may be using this directory" in second.stderr
    assert "--data-dir" in second.stderr
