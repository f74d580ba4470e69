"""The ``requests`` rollup (one row per trace) on the real embedded store: it counts a span
delivered twice once, recomputes a trace when its late spans arrive, loses a trace deleted
through the admin API, and the review sees what was acknowledged just before it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spyglass.collector import Settings, create_app
from spyglass.collector.rollup import Rollup
from spyglass.collector.store import Store
from tests import payloads as P
from tests.conftest import settled_client

pytestmark = pytest.mark.integration

T0 = 1_795_000_000 * 10**9
MS = 10**6
WINDOW = {"since": "2026-11-17T00:00:00Z", "until": "2026-11-22T00:00:00Z", "min_tasks": 1}
ADMIN = "sg_rollupadmin_" + "s" * 32


def trace(
    tenant: str, i: int, *, root: bool = True, model: str = "gpt-4o-mini"
) -> tuple[bytes, list[Any], Any]:
    """A request of ``tenant``: a root (10 ms, optional) over a model call (4 ms, 1,000 + 100
    tokens of gpt-4o-mini) and a tool call; returns (trace ID, spans, root)."""
    tid = P.new_trace_id()
    start = T0 + i * 10**9
    cohort = {"spyglass.cohort.tenant": tenant, "spyglass.cohort.release": "r1"}
    top = P.span(
        tid,
        name="answer",
        start_ns=start,
        duration_ns=10 * MS,
        attrs={"spyglass.span.kind": "workflow", **cohort},
    )
    call = {
        "spyglass.span.kind": "llm",
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 100,
        **cohort,
    }
    spans = [
        P.span(tid, name="chat", parent=top.span_id, start_ns=start + MS, duration_ns=4 * MS, attrs=call),
        P.span(
            tid,
            name="tool",
            parent=top.span_id,
            start_ns=start + 6 * MS,
            duration_ns=2 * MS,
            attrs={"spyglass.span.kind": "tool", "gen_ai.tool.name": "lookup", **cohort},
        ),
    ]
    return tid, ([top] if root else []) + spans, top


def post(client: TestClient, project: str, *spans: Any) -> None:
    body = P.request(*spans, resource={"service.name": "bot", "spyglass.project": project})
    resp = client.post(
        "/v1/traces", content=body.SerializeToString(), headers={"content-type": "application/x-protobuf"}
    )
    assert resp.status_code == 200, resp.text


def tenant_row(client: TestClient, project: str, tenant: str) -> dict[str, Any]:
    resp = client.get("/api/analytics/cohorts", params={"project": project, "by": "tenant", **WINDOW})
    assert resp.status_code == 200, resp.text
    return next(r for r in resp.json()["rows"] if r["tenant"] == tenant)


def request_rows(store: Store, project: str, trace_id: bytes) -> list[dict[str, Any]]:
    return store.query(
        "SELECT span_count, start_ns, duration_ns, name, input_tokens FROM requests FINAL "
        "WHERE project = {project:String} AND trace_id = unhex({trace_id:String})",
        {"project": project, "trace_id": trace_id.hex()},
    ).to_pylist()


@pytest.fixture(scope="module")
def client(store: Store) -> Iterator[TestClient]:
    settings = Settings(batch_max_delay=0.01, admin_key=ADMIN)
    with settled_client(create_app(store, settings)) as c:
        c.headers["authorization"] = f"Bearer {ADMIN}"
        yield c


@pytest.fixture
def project() -> str:
    return f"rollup-{uuid.uuid4().hex[:8]}"


def test_a_span_delivered_twice_counts_once(client: TestClient, store: Store, project: str) -> None:
    tid, spans, _ = trace("dup", 1)
    post(client, project, *spans)
    post(client, project, *spans)  # an exporter retry: the same spans again
    post(client, project, spans[1])  # and one of them a third time, alone
    row = tenant_row(client, project, "dup")
    assert row["tasks"] == 1
    assert row["tokens"] == 1100
    assert row["tool_calls"] == 1
    assert request_rows(store, project, tid) == [
        {
            "span_count": 3,
            "start_ns": T0 + 10**9,
            "duration_ns": 10 * MS,
            "name": "answer",
            "input_tokens": 1000,
        }
    ]


def test_late_spans_recompute_an_already_rolled_up_trace(
    client: TestClient, store: Store, project: str
) -> None:
    tid, children, root = trace("late", 2, root=False)
    post(client, project, *children)
    first = tenant_row(client, project, "late")  # the rollup now holds the trace without its root
    assert first["tasks"] == 1 and first["p50_ms"] == pytest.approx(7.0)
    [before] = request_rows(store, project, tid)
    assert before["span_count"] == 2 and before["start_ns"] == T0 + 2 * 10**9 + MS

    post(client, project, root)  # the root, exported last, starts first and ends last
    row = tenant_row(client, project, "late")
    assert row["tasks"] == 1
    assert row["p50_ms"] == pytest.approx(10.0)
    assert request_rows(store, project, tid) == [
        {
            "span_count": 3,
            "start_ns": T0 + 2 * 10**9,
            "duration_ns": 10 * MS,
            "name": "answer",
            "input_tokens": 1000,
        }
    ]
    traces = client.get(
        "/api/traces", params={"project": project, **{k: WINDOW[k] for k in ("since", "until")}}
    )
    assert [(t["trace_id"], t["span_count"], t["name"]) for t in traces.json()["traces"]] == [
        (tid.hex(), 3, "answer")
    ]


def test_a_deleted_trace_leaves_the_rollup(client: TestClient, store: Store, project: str) -> None:
    gone, spans, _ = trace("del", 3)
    kept, other, _ = trace("del", 4)
    post(client, project, *spans, *other)
    assert tenant_row(client, project, "del")["tasks"] == 2
    resp = client.delete(f"/api/traces/{gone.hex()}", params={"project": project})
    assert resp.status_code == 200, resp.text
    assert request_rows(store, project, gone) == []
    assert len(request_rows(store, project, kept)) == 1
    assert tenant_row(client, project, "del")["tasks"] == 1


def test_a_deleted_tenant_leaves_the_rollup(client: TestClient, store: Store, project: str) -> None:
    tid, spans, _ = trace("gone-tenant", 5)
    post(client, project, *spans)
    assert tenant_row(client, project, "gone-tenant")["tasks"] == 1
    resp = client.delete("/api/tenants/gone-tenant", params={"project": project})
    assert resp.status_code == 200, resp.text
    assert request_rows(store, project, tid) == []


def test_the_review_sees_what_was_acknowledged_just_before_it(client: TestClient, project: str) -> None:
    # The background refresh runs every few seconds; each read refreshes first, so a request
    # acknowledged a moment ago is counted without waiting for it.
    for n in range(1, 4):
        _, spans, _ = trace("fresh", 10 + n)
        post(client, project, *spans)
        assert tenant_row(client, project, "fresh")["tasks"] == n
        traces = client.get(
            "/api/traces", params={"project": project, **{k: WINDOW[k] for k in ("since", "until")}}
        )
        assert len(traces.json()["traces"]) == n


def test_a_new_rollup_resumes_and_a_refresh_with_nothing_new_writes_nothing(
    store: Store, project: str
) -> None:
    # A second collector (or a restart) resumes from the newest refresh in the table; with no
    # new spans past the margin, it recomputes nothing.
    rollup = Rollup(store, margin_s=0)
    rollup.refresh()
    again = rollup.refresh()
    assert again.traces == 0


def test_a_model_first_seen_after_a_review_is_priced_in_the_next(client: TestClient, project: str) -> None:
    # Reviews price with the model-call combinations the rollup keeps in memory, topped up
    # from the rows refreshed since the last review.
    _, spans, _ = trace("priced", 20)
    post(client, project, *spans)
    mini = (1000 * 0.15 + 100 * 0.60) / 1e6
    assert tenant_row(client, project, "priced")["cost"] == pytest.approx(mini)
    _, spans, _ = trace("priced", 21, model="gpt-4o")  # 2026 prices: $2.50 in, $10 out
    post(client, project, *spans)
    row = tenant_row(client, project, "priced")
    assert row["cost"] == pytest.approx(mini + (1000 * 2.50 + 100 * 10.0) / 1e6)
    assert row["unpriced_calls"] == 0
