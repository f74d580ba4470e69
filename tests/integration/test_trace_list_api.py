"""The traces page's API and cost in the trace API, against the real embedded ClickHouse."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spyglass.analytics.cost import PriceTable
from spyglass.collector import Settings, create_app
from spyglass.collector.store import Store
from tests import payloads as P
from tests.conftest import settled_client

pytestmark = pytest.mark.integration

T0 = 1_795_000_000 * 10**9  # 2026-11-18T...Z
MIN = 60 * 10**9
WINDOW = {"since": "2026-11-17T00:00:00Z", "until": "2026-11-22T00:00:00Z"}


@pytest.fixture()
def client(store: Store) -> Iterator[TestClient]:
    with settled_client(create_app(store, Settings(batch_max_delay=0.01))) as c:
        yield c


def send(client: TestClient, project: str, *spans: Any) -> None:
    body = P.request(*spans, resource={"service.name": "bot", "spyglass.project": project})
    resp = client.post(
        "/v1/traces", content=body.SerializeToString(), headers={"content-type": "application/x-protobuf"}
    )
    assert resp.status_code == 200, resp.text


def llm(tid: bytes, parent: bytes, start: int, model: str, tokens: tuple[int, int], **attrs: Any) -> Any:
    return P.span(
        tid,
        name="chat",
        parent=parent,
        start_ns=start + 1000,
        duration_ns=5_000_000,
        attrs={
            "spyglass.span.kind": "llm",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": tokens[0],
            "gen_ai.usage.output_tokens": tokens[1],
            **attrs,
        },
    )


def make_trace(
    client: TestClient,
    project: str,
    start: int,
    *,
    tenant: str = "acme",
    model: str = "gpt-4o-mini",
    error: bool = False,
    duration_ms: int = 100,
) -> str:
    tid = P.new_trace_id()
    cohort = {"spyglass.cohort.tenant": tenant, "spyglass.cohort.workflow": "support"}
    cohort["spyglass.cohort.release"] = "r2" if tenant == "acme" else "r1"
    root = P.span(tid, name="answer_question", start_ns=start, duration_ns=duration_ms * 10**6, attrs=cohort)
    child = llm(tid, root.span_id, start, model, (1_000_000, 100_000), **cohort)
    failing = (
        P.span(tid, name="tool", parent=root.span_id, start_ns=start + 10, error="boom") if error else None
    )
    send(client, project, root, child, *([failing] if failing else []))
    return tid.hex()


def listing(client: TestClient, project: str, **params: Any) -> dict[str, Any]:
    resp = client.get("/api/traces", params={"project": project, **WINDOW, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()


def ids(page: dict[str, Any]) -> list[str]:
    return [t["trace_id"] for t in page["traces"]]


def test_traces_are_listed_newest_first_with_summary_and_cost(client: TestClient) -> None:
    project = f"list-{uuid.uuid4().hex[:8]}"
    old = make_trace(client, project, T0)
    new = make_trace(client, project, T0 + MIN, model="no-such-model")
    page = listing(client, project)
    assert ids(page) == [new, old] and page["has_more"] is False
    row_new, row_old = page["traces"]
    assert row_old["name"] == "answer_question" and row_old["service"] == "bot"
    assert row_old["tenant"] == "acme" and row_old["workflow"] == "support"
    assert row_old["span_count"] == 2 and row_old["error_count"] == 0
    assert row_old["models"] == ["gpt-4o-mini"]
    assert row_old["input_tokens"] == 1_000_000 and row_old["output_tokens"] == 100_000
    assert row_old["duration_ms"] == pytest.approx(100.0)
    prices = PriceTable.load().frame()
    mini = prices.filter(prices["model"] == "gpt-4o-mini").sort("effective").row(-1, named=True)
    expected = mini["input_per_mtok"] * 1 + mini["output_per_mtok"] * 0.1
    assert row_old["cost_usd"] == pytest.approx(expected) and row_old["unpriced_spans"] == 0
    assert row_new["cost_usd"] is None and row_new["unpriced_spans"] == 1  # unknown model: not $0


def test_filters(client: TestClient) -> None:
    project = f"list-{uuid.uuid4().hex[:8]}"
    a = make_trace(client, project, T0, tenant="acme", duration_ms=50)
    b = make_trace(client, project, T0 + MIN, tenant="globex", error=True, duration_ms=3000)
    c = make_trace(client, project, T0 + 2 * MIN, tenant="globex", model="claude-haiku-4-5")
    assert ids(listing(client, project, tenant="globex")) == [c, b]
    assert ids(listing(client, project, tenant="initech")) == []
    assert ids(listing(client, project, release="r2")) == [a]
    assert ids(listing(client, project, workflow="support")) == [c, b, a]
    assert ids(listing(client, project, model="claude-haiku-4-5")) == [c]
    assert ids(listing(client, project, status="error")) == [b]
    assert ids(listing(client, project, min_duration_ms=1000)) == [b]
    assert ids(listing(client, project, since="2026-11-19T00:00:00Z")) == []
    post = client.post(
        "/v1/feedback",
        content=json.dumps({"trace_id": a, "thumbs": "down", "project": project}),
        headers={"content-type": "application/json"},
    )
    assert post.status_code == 200
    assert ids(listing(client, project, negative_feedback="true")) == [a]
    assert ids(listing(client, project, negative_feedback="false")) == [c, b]
    (row,) = listing(client, project, negative_feedback="true")["traces"]
    assert row["feedback_count"] == 1 and row["negative_feedback"] is True and row["escalated"] is False


def test_slowest_first_and_intent_and_prompt_filters(client: TestClient) -> None:
    project = f"list-{uuid.uuid4().hex[:8]}"
    fast = make_trace(client, project, T0, duration_ms=10)
    slow = make_trace(client, project, T0 + MIN, duration_ms=900)
    mid = make_trace(client, project, T0 + 2 * MIN, duration_ms=300)
    assert ids(listing(client, project, sort="slowest")) == [slow, mid, fast]
    assert ids(listing(client, project, sort="newest")) == [mid, slow, fast]
    tid = P.new_trace_id()
    root = P.span(tid, name="classify", start_ns=T0, attrs={"spyglass.cohort.intent": "billing"})
    call = llm(tid, root.span_id, T0, "gpt-4o-mini", (1, 1), **{"spyglass.prompt.name": "classify"})
    call.attributes.extend(P.kvs({"spyglass.prompt.version": "v2"}))
    send(client, project, root, call)
    assert ids(listing(client, project, intent="billing")) == [tid.hex()]
    assert ids(listing(client, project, prompt="classify@v2")) == [tid.hex()]
    assert ids(listing(client, project, prompt="classify@v1")) == []
    tid2 = P.new_trace_id()
    root2 = P.span(tid2, name="search", start_ns=T0)
    docs = P.span(
        tid2,
        name="kb",
        parent=root2.span_id,
        start_ns=T0,
        attrs={"spyglass.span.kind": "retrieval", "gen_ai.data_source.id": "kb"},
    )
    docs.attributes.extend(P.kvs({"spyglass.retrieval.corpus_version": "2026-11-01"}))
    routed = llm(tid2, root2.span_id, T0, "gpt-4o-mini", (1, 1), **{"gen_ai.provider.name": "openai"})
    routed.attributes.extend(P.kvs({"spyglass.llm.fallback_from": "gpt-4o"}))
    send(client, project, root2, docs, routed)
    assert ids(listing(client, project, corpus="kb@2026-11-01")) == [tid2.hex()]
    assert ids(listing(client, project, model="openai/gpt-4o-mini")) == [tid2.hex()]
    assert ids(listing(client, project, model="openai/gpt-4o")) == [tid2.hex()]  # the route it fell back from
    resp = client.get("/api/traces", params={"sort": "oldest"})
    assert resp.status_code == 400 and "'sort'" in resp.json()["detail"]


def test_paging(client: TestClient) -> None:
    project = f"list-{uuid.uuid4().hex[:8]}"
    made = [make_trace(client, project, T0 + i * MIN) for i in range(5)]
    first = listing(client, project, limit=2)
    second = listing(client, project, limit=2, offset=2)
    last = listing(client, project, limit=2, offset=4)
    assert first["has_more"] and second["has_more"] and not last["has_more"]
    assert ids(first) + ids(second) + ids(last) == made[::-1]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"limit": 501}, "'limit'"),
        ({"offset": -1}, "'offset'"),
        ({"status": "broken"}, "'status'"),
        ({"negative_feedback": "maybe"}, "'negative_feedback'"),
        ({"min_duration_ms": "slow"}, "'min_duration_ms'"),
        ({"until": "tomorrow"}, "'until'"),
        ({"tenant": "x" * 201}, "'tenant'"),
    ],
)
def test_bad_parameters_are_400_naming_them(client: TestClient, params: dict[str, Any], names: str) -> None:
    resp = client.get("/api/traces", params=params)
    assert resp.status_code == 400 and names in resp.json()["detail"]


def test_hostile_filter_values_are_only_values(client: TestClient) -> None:
    project = f"list-{uuid.uuid4().hex[:8]}"
    make_trace(client, project, T0)
    page = listing(client, project, tenant="acme' OR 1=1 --", model="'); DROP TABLE spans; --")
    assert page["traces"] == []
    assert len(ids(listing(client, project))) == 1


def test_trace_api_prices_each_call_and_sums_the_trace(client: TestClient) -> None:
    project = f"cost-{uuid.uuid4().hex[:8]}"
    tid = P.new_trace_id()
    root = P.span(tid, name="answer_question", start_ns=T0, duration_ns=10**8)
    known = llm(tid, root.span_id, T0, "gpt-4o-mini", (2_000_000, 0))
    unknown = llm(tid, root.span_id, T0 + 5, "in-house-llm", (10, 10))
    send(client, project, root, known, unknown)
    trace = client.get(f"/api/traces/{tid.hex()}", params={"project": project}).json()
    assert trace["spans"][0]["cost"] is None  # not an LLM call
    costs = {c["llm"]["request_model"]: c["cost"] for c in trace["spans"][0]["children"]}
    prices = PriceTable.load().frame()
    mini = prices.filter(prices["model"] == "gpt-4o-mini").sort("effective").row(-1, named=True)
    assert costs["gpt-4o-mini"] == {
        "usd": pytest.approx(2 * mini["input_per_mtok"]),
        "status": "ok",
        "model": "gpt-4o-mini",
    }
    assert costs["in-house-llm"]["usd"] is None and costs["in-house-llm"]["status"] == "unknown_model"
    assert trace["totals"]["cost_usd"] == pytest.approx(2 * mini["input_per_mtok"])
    assert trace["totals"]["unpriced_spans"] == 1


def test_operator_price_file_prices_an_in_house_model(store: Store, tmp_path: Any) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '[[price]]\nmodel = "in-house-llm"\neffective = 2026-01-01\n'
        "input_per_mtok = 1.0\noutput_per_mtok = 2.0\n"
    )
    with settled_client(create_app(store, Settings(batch_max_delay=0.01, prices_file=str(prices)))) as c:
        project = f"cost-{uuid.uuid4().hex[:8]}"
        tid = make_trace(c, project, T0, model="in-house-llm")
        trace = c.get(f"/api/traces/{tid}", params={"project": project}).json()
    assert trace["totals"]["cost_usd"] == pytest.approx(1.0 + 0.2)
