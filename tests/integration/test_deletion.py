"""Deleting a trace and a tenant against the real embedded store: afterwards no endpoint (trace
by ID, the list, the feedback inbox, analytics) returns any of it, no table (spans, feedback,
trace_index) holds a row of it, other data is untouched, and the audit log says who did it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spyglass import attributes as A
from spyglass.collector import Settings, create_app
from spyglass.collector.store import Store
from tests import payloads as P

pytestmark = pytest.mark.integration
PB = {"content-type": "application/x-protobuf"}
ADMIN = "deletion-admin-" + "x" * 24


@pytest.fixture()
def project() -> str:
    return f"del-{os.urandom(4).hex()}"


@pytest.fixture(scope="module")
def client(store: Store) -> Iterator[TestClient]:
    # Keys on: deletion is an admin action, and the audit log should name the key.
    settings = Settings(batch_max_delay=0.01, admin_key=ADMIN)
    with TestClient(create_app(store, settings), headers={"authorization": f"Bearer {ADMIN}"}) as c:
        yield c


def send_trace(client: TestClient, project: str, tenant: str, *, feedback: bool = True) -> str:
    """A request of ``tenant``: a root with the cohort, a model call and a child span from
    another instrumentation that carries no tenant; with a thumbs-down and an escalation."""
    tid = P.new_trace_id()
    root = P.span(tid, name="answer", attrs={A.COHORT_TENANT: tenant, A.SPAN_KIND: "workflow"})
    llm = P.span(
        tid,
        name="chat",
        parent=root.span_id,
        attrs={A.COHORT_TENANT: tenant, "gen_ai.operation.name": "chat", "gen_ai.request.model": "m"},
    )
    foreign = P.span(tid, name="http GET", parent=llm.span_id)  # no tenant
    request = P.request(root, llm, foreign, resource={"service.name": "svc", A.PROJECT: project})
    assert client.post("/v1/traces", content=request.SerializeToString(), headers=PB).status_code == 200
    if feedback:
        events = [
            {"trace_id": tid.hex(), "thumbs": "down", "comment": "wrong", "project": project},
            {
                "trace_id": tid.hex(),
                "escalation_reason": "complaint",
                "source": "support",
                "project": project,
            },
        ]
        assert client.post("/v1/feedback", json=events).status_code == 200
    return tid.hex()


def rows(store: Store, trace_id: str, project: str) -> dict[str, int]:
    out = {}
    for table in ("spans", "feedback", "trace_index"):
        sql = f"SELECT count() FROM {table} WHERE project = {{p:String}} AND trace_id = unhex({{t:String}})"
        out[table] = store.query(sql, {"p": project, "t": trace_id}).column(0)[0].as_py()
    return out


def visible(client: TestClient, project: str) -> dict[str, Any]:
    """What every read endpoint shows of ``project``."""
    params = {"project": project}
    cohorts = client.get("/api/analytics/cohorts", params={**params, "by": "tenant", "min_tasks": 1})
    examples = client.get("/api/analytics/examples", params=params)
    assert cohorts.status_code == 200 and examples.status_code == 200
    return {
        "listed": {t["trace_id"] for t in client.get("/api/traces", params=params).json()["traces"]},
        "inbox": {e["trace_id"] for e in client.get("/api/feedback", params=params).json()["events"]},
        "tenants": {r["tenant"]: r["tasks"] for r in cohorts.json()["rows"]},
        "examples": {v["trace_id"] for v in examples.json().values() if v},
    }


def wait_visible(client: TestClient, project: str, traces: set[str]) -> dict[str, Any]:
    for _ in range(200):
        seen = visible(client, project)
        if seen["listed"] == traces and seen["inbox"] >= {t for t in traces if t}:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"not all of {traces} arrived: {seen}")


def test_delete_one_trace_leaves_nothing_of_it(client: TestClient, store: Store, project: str) -> None:
    gone, kept = send_trace(client, project, "acme"), send_trace(client, project, "acme")
    wait_visible(client, project, {gone, kept})
    assert rows(store, gone, project) == {"spans": 3, "feedback": 2, "trace_index": 1}

    resp = client.delete(f"/api/traces/{gone.upper()}", params={"project": project})
    assert resp.status_code == 200, resp.text
    assert resp.json()["deleted"] == {"spans": 3, "feedback": 2, "index_rows": 1}

    assert client.get(f"/api/traces/{gone}", params={"project": project}).status_code == 404
    seen = visible(client, project)
    assert seen["listed"] == {kept} and seen["inbox"] == {kept}
    assert seen["tenants"] == {"acme": 1} and gone not in seen["examples"]
    assert rows(store, gone, project) == {"spans": 0, "feedback": 0, "trace_index": 0}
    assert rows(store, kept, project) == {"spans": 3, "feedback": 2, "trace_index": 1}
    # Deleting it again finds nothing, and says so.
    again = client.delete(f"/api/traces/{gone}", params={"project": project})
    assert again.status_code == 404 and "nothing to delete" in again.json()["detail"]


def test_delete_a_tenant_by_trace_membership(client: TestClient, store: Store, project: str) -> None:
    forgotten = {send_trace(client, project, "initech") for _ in range(2)}
    other = send_trace(client, project, "globex")
    wait_visible(client, project, {*forgotten, other})

    resp = client.delete("/api/tenants/initech", params={"project": project})
    assert resp.status_code == 200, resp.text
    assert resp.json()["deleted"] == {"spans": 6, "feedback": 4, "traces": 2}

    seen = visible(client, project)
    assert seen["listed"] == {other} and seen["inbox"] == {other}
    assert seen["tenants"] == {"globex": 1} and not seen["examples"] & forgotten
    for trace_id in forgotten:
        assert client.get(f"/api/traces/{trace_id}", params={"project": project}).status_code == 404
        # the span without a tenant column went with its trace
        assert rows(store, trace_id, project) == {"spans": 0, "feedback": 0, "trace_index": 0}
    assert rows(store, other, project) == {"spans": 3, "feedback": 2, "trace_index": 1}

    audit = client.get("/api/audit").json()["events"]
    entry = next(e for e in audit if e["project"] == project and e["action"] == "delete_tenant")
    assert entry["actor"] == "admin-env" and entry["target"] == "tenant initech"
    assert entry["detail"] == {"spans": 6, "feedback": 4, "traces": 2}


def test_data_accepted_just_before_a_deletion_does_not_come_back(
    client: TestClient, store: Store, project: str
) -> None:
    # No waiting between the export and the deletion: the deletion flushes what was accepted.
    trace_id = send_trace(client, project, "umbrella", feedback=False)
    resp = client.delete("/api/tenants/umbrella", params={"project": project})
    assert resp.status_code == 200, resp.text
    assert resp.json()["deleted"]["spans"] == 3
    time.sleep(0.3)  # longer than the writer's batch delay: anything still queued would be in now
    assert rows(store, trace_id, project) == {"spans": 0, "feedback": 0, "trace_index": 0}
    assert visible(client, project)["listed"] == set()


def test_deletion_input_is_checked(client: TestClient) -> None:
    bad = client.delete("/api/traces/not-a-trace")
    assert bad.status_code == 400 and "malformed" in bad.json()["detail"]
    long = client.delete("/api/tenants/" + "t" * 300)
    assert long.status_code == 400 and "tenant" in long.json()["detail"]
    missing = client.delete("/api/tenants/nobody-at-all", params={"project": "del-none"})
    assert missing.status_code == 404 and "no tenant nobody-at-all" in missing.json()["detail"]
