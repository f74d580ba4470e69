"""The cohort review API on a small fixed dataset whose every figure is computed by hand.

Tenant ``a``: 20 requests, request i (1..20) lasting 10*i ms: a model call over [0, 5i] ms
(1,000 input + 100 output tokens of gpt-4o-mini), then a tool call over [5i, 6i] ms. Request 20
also has a second model call over [50, 120] ms overlapping the first ([0, 100]), and its tool
call runs over [120, 140] ms. Requests 1 and 2 fail (root ERROR), request 1's model call timed
out; request 3 fell back; requests 4 and 5 were denied a tool, request 6's tool failed;
requests 7-10 retrieved, 7 and 8 found nothing. Feedback: 11 and 12 thumbs down, 13-15 thumbs
up, 16 escalated. Tenant ``b``: 3 requests, too few to judge (min_tasks 5).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spyglass.analytics.cohorts import Z95
from spyglass.collector import Settings, create_app
from spyglass.collector.store import Store
from tests import payloads as P
from tests.conftest import settled_client

pytestmark = pytest.mark.integration

T0 = 1_795_000_000 * 10**9
MS = 10**6
WINDOW = {"since": "2026-11-17T00:00:00Z", "until": "2026-11-22T00:00:00Z", "min_tasks": 5}
MINI_CALL = (1000 * 0.15 + 100 * 0.60) / 1e6  # gpt-4o-mini list price per call


def kind(k: str, **attrs: Any) -> dict[str, Any]:
    return {"spyglass.span.kind": k, **attrs}


def request(i: int, tenant: str) -> tuple[bytes, list[Any]]:
    tid = P.new_trace_id()
    start = T0 + i * 10**9
    cohort = {"spyglass.cohort.tenant": tenant, "spyglass.cohort.release": "r1"}
    root = P.span(
        tid,
        name="answer",
        start_ns=start,
        duration_ns=10 * i * MS,
        attrs=kind("workflow", **cohort),
        error="request failed" if i in (1, 2) else None,
    )
    model = {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 1000}
    model["gen_ai.usage.output_tokens"] = 100
    if i == 3:
        model["spyglass.llm.fallback_from"] = "gpt-4o"
    spans = [
        root,
        P.span(
            tid,
            name="chat",
            parent=root.span_id,
            start_ns=start,
            duration_ns=5 * i * MS,
            attrs=kind("llm", **model, **cohort),
            error="gpt-4o-mini timed out" if i == 1 else None,
        ),
    ]
    tool_attrs = kind("tool", **{"gen_ai.tool.name": "lookup", **cohort})
    if i in (4, 5):
        tool_attrs["spyglass.tool.authorization"] = "denied"
    tool_start, tool_ms = (start + 120 * MS, 20) if i == 20 else (start + 5 * i * MS, i)
    spans.append(
        P.span(
            tid,
            name="tool",
            parent=root.span_id,
            start_ns=tool_start,
            duration_ns=tool_ms * MS,
            attrs=tool_attrs,
            error="tool broke" if i == 6 else None,
        )
    )
    if i == 20:
        spans.append(
            P.span(
                tid,
                name="chat2",
                parent=root.span_id,
                start_ns=start + 50 * MS,
                duration_ns=70 * MS,
                attrs=kind("llm", **model, **cohort),
            )
        )
    if 7 <= i <= 10:
        docs = [] if i in (7, 8) else ["d1", "d2"]
        spans.append(
            P.span(
                tid,
                name="search",
                parent=root.span_id,
                start_ns=start + 6 * i * MS,
                duration_ns=MS,
                attrs=kind("retrieval", **{"spyglass.retrieval.document_ids": docs, **cohort}),
            )
        )
    return tid, spans


@pytest.fixture(scope="module")
def review(store: Store) -> Iterator[tuple[TestClient, str]]:
    project = f"review-{uuid.uuid4().hex[:8]}"
    with settled_client(create_app(store, Settings(batch_max_delay=0.01))) as client:
        feedback = []
        for tenant, count in (("a", 20), ("b", 3)):
            for i in range(1, count + 1):
                tid, spans = request(i, tenant)
                body = P.request(*spans, resource={"service.name": "bot", "spyglass.project": project})
                resp = client.post(
                    "/v1/traces",
                    content=body.SerializeToString(),
                    headers={"content-type": "application/x-protobuf"},
                )
                assert resp.status_code == 200, resp.text
                if tenant == "a" and i in (11, 12):
                    feedback.append({"trace_id": tid.hex(), "thumbs": "down"})
                if tenant == "a" and i in (13, 14, 15):
                    feedback.append({"trace_id": tid.hex(), "thumbs": "up"})
                if tenant == "a" and i == 16:
                    feedback.append({"trace_id": tid.hex(), "escalation_reason": "asked for a human"})
        resp = client.post(
            "/v1/feedback",
            content=json.dumps([{**f, "project": project} for f in feedback]),
            headers={"content-type": "application/json"},
        )
        assert resp.status_code == 200, resp.text
        yield client, project


def get(review: tuple[TestClient, str], path: str, **params: Any) -> dict[str, Any]:
    client, project = review
    resp = client.get(f"/api/analytics/{path}", params={"project": project, **WINDOW, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()


def tenants(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["tenant"]: row for row in body["rows"]}


def test_scorecard_counts_and_rates(review: tuple[TestClient, str]) -> None:
    a, b = (tenants(get(review, "cohorts", by="tenant"))[t] for t in ("a", "b"))
    assert (a["tasks"], a["successes"], a["errors"], a["timeouts"], a["fallbacks"]) == (20, 18, 2, 1, 1)
    assert (a["rated"], a["negative"], a["positive"], a["escalations"]) == (5, 2, 3, 1)
    assert (a["tool_calls"], a["tool_failures"], a["denied"]) == (20, 1, 2)
    assert (a["retrievals"], a["empty_retrievals"]) == (4, 2)
    assert a["success_rate"] == 0.9 and a["error_rate"] == 0.1 and a["timeout_rate"] == 0.05
    assert a["negative_feedback_rate"] == 0.4 and a["positive_feedback_rate"] == 0.6
    assert a["escalation_rate"] == 0.05 and a["tool_failure_rate"] == 0.05
    assert a["denied_rate"] == 0.1 and a["empty_retrieval_rate"] == 0.5
    assert (round(a["success_rate_lo"], 4), round(a["success_rate_hi"], 4)) == (0.6990, 0.9721)
    assert a["judgeable"] is True and b["judgeable"] is False and b["tasks"] == 3


def test_latency_quantiles_and_intervals(review: tuple[TestClient, str]) -> None:
    a = tenants(get(review, "cohorts", by="tenant"))["a"]
    # durations 10, 20, ..., 200 ms; quantiles interpolate at (n - 1) * q
    assert a["p50_ms"] == pytest.approx(105.0)
    assert a["p95_ms"] == pytest.approx(190.5)
    assert a["p99_ms"] == pytest.approx(198.1)
    # ranks 10 -/+ 1.96 * sqrt(5) = 5.6 .. 14.4 -> order statistics 5 and 16 (one past the ceiling)
    assert (a["p50_ms_lo"], a["p50_ms_hi"]) == (pytest.approx(50.0), pytest.approx(160.0))


def test_cost_and_tokens_per_task(review: tuple[TestClient, str]) -> None:
    a = tenants(get(review, "cohorts", by="tenant"))["a"]
    assert a["cost"] == pytest.approx(21 * MINI_CALL) and a["unpriced_calls"] == 0
    assert a["cost_per_task"] == pytest.approx(21 * MINI_CALL / 20)
    assert a["tokens_per_task"] == pytest.approx(21 * 1100 / 20)
    # per-task costs: 19 x one call, 1 x two calls -> sample SD of (c,...,c,2c) = c * sqrt(0.95/19)
    se = MINI_CALL * (0.95 / 19) ** 0.5 / 20**0.5
    assert a["cost_per_task_lo"] == pytest.approx(21 * MINI_CALL / 20 - Z95 * se)


def test_stage_times_count_overlaps_once_and_attribute_the_tail(review: tuple[TestClient, str]) -> None:
    a = tenants(get(review, "stages", by="tenant"))["a"]
    # model time: 5i ms for i < 20; request 20: [0, 100] u [50, 120] = 120 ms (not 170)
    assert a["model_p50_ms"] == pytest.approx(52.5)
    assert a["model_p99_ms"] == pytest.approx(95 + 0.81 * 25)
    # tool time: i ms for i < 20, 20 ms for request 20
    assert a["tool_p50_ms"] == pytest.approx(10.5)
    # the slowest 5% (>= p95 190.5 ms) is request 20: model 120, tool 20, app 200 - 140 = 60
    assert a["tail_tasks"] == 1
    assert a["model_tail_share"] == pytest.approx(0.6)
    assert a["tool_tail_share"] == pytest.approx(0.1)
    assert a["app_tail_share"] == pytest.approx(0.3)
    assert a["retrieval_tail_share"] == 0 and a["rerank_tail_share"] == 0


def test_filters_and_grouping(review: tuple[TestClient, str]) -> None:
    (row,) = get(review, "cohorts", tenant="b")["rows"]
    assert row["tasks"] == 3
    rows = get(review, "cohorts", by="tenant,model")["rows"]
    # request 3's only call is a fallback from gpt-4o: its route is gpt-4o
    assert {(r["tenant"], r["model"], r["tasks"]) for r in rows} == {
        *(("a", "gpt-4o-mini", 19), ("a", "gpt-4o", 1)),
        *(("b", "gpt-4o-mini", 2), ("b", "gpt-4o", 1)),
    }
    (everything,) = get(review, "cohorts")["rows"]
    assert everything["tasks"] == 23


def test_compare_and_examples(review: tuple[TestClient, str]) -> None:
    body = get(review, "compare", dimension="release", baseline="r1", candidate="r0", by="tenant")
    assert body["overall"]["tasks_base"] == 23 and body["overall"]["tasks_cand"] == 0
    assert body["overall"]["judgeable"] is False
    examples = get(review, "examples")
    assert examples["bad"]["reason"] == "thumbs down"
    assert examples["good"]["reason"] == "thumbs up, no error"
    assert examples["escalated"]["reason"] == "asked for a human"


def test_arrow_format(review: tuple[TestClient, str]) -> None:
    import pyarrow as pa

    client, project = review
    resp = client.get(
        "/api/analytics/cohorts", params={"project": project, "by": "tenant", "format": "arrow", **WINDOW}
    )
    assert resp.headers["content-type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(resp.content).read_all()
    assert sorted(table.column("tenant").to_pylist()) == ["a", "b"]


@pytest.mark.parametrize(
    ("path", "params", "names"),
    [
        ("cohorts", {"by": "tenant,colour"}, "'by': unknown dimension 'colour'"),
        ("cohorts", {"by": "tenant,tenant"}, "'by': a dimension is repeated"),
        ("cohorts", {"since": "monday"}, "'since'"),
        ("cohorts", {"min_tasks": 0}, "'min_tasks'"),
        ("cohorts", {"format": "csv"}, "'format'"),
        ("compare", {"dimension": "tenant", "baseline": "a", "candidate": "b"}, "'dimension'"),
        ("compare", {"dimension": "release", "baseline": "a"}, "'candidate'"),
        ("compare", {"dimension": "release", "baseline": "a", "candidate": "b", "by": "release"}, "'by'"),
        ("week-over-week", {"days": 0}, "'days'"),
    ],
)
def test_bad_parameters(
    review: tuple[TestClient, str], path: str, params: dict[str, Any], names: str
) -> None:
    client, _ = review
    resp = client.get(f"/api/analytics/{path}", params=params)
    assert resp.status_code == 400 and names in resp.json()["detail"]


def test_hostile_filter_values_are_values(review: tuple[TestClient, str]) -> None:
    body = get(review, "cohorts", tenant="a' OR '1'='1", by="tenant")
    assert body["rows"] == []
