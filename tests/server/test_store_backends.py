"""The collector over both store backends: the embedded store and a ClickHouse server reached
over HTTP. Same schema, same SQL, so the same requests must give the same answers."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spyglass.collector import Settings, create_app
from spyglass.collector.store import Store, StoreError, open_store, queries
from tests import payloads as P
from tests.conftest import settled_client
from tests.server.conftest import ClickHouseServer

pytestmark = pytest.mark.integration
PB = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def clients(
    store: Store, server_store: Store, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The collector app on each backend (each with its own spool directory)."""
    apps = {"embedded": store, "server": server_store}
    entered = {}
    for name, backend in apps.items():
        settings = Settings(batch_max_delay=0.01, data_dir=str(tmp_path_factory.mktemp(f"spool-{name}")))
        client = settled_client(create_app(backend, settings))
        entered[name] = client.__enter__()
    yield entered
    for client in entered.values():
        client.__exit__(None, None, None)


def _workload(project: str) -> tuple[bytes, bytes]:
    """One request: a workflow, an LLM call with a cohort and a failed tool call."""
    tid = os.urandom(16)
    start = (time.time_ns() - 3_600_000_000_000) // 1000 * 1000 + 123  # an hour ago, to the ns
    root = P.span(
        tid, name="answer", start_ns=start, duration_ns=90_000_000, attrs={"spyglass.kind": "workflow"}
    )
    llm = P.span(
        tid,
        name="chat gpt-4o-mini",
        parent=root.span_id,
        start_ns=start + 1_000_123,
        duration_ns=40_000_001,
        attrs={
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 120,
            "gen_ai.usage.output_tokens": 30,
            "spyglass.prompt.name": "answer",
            "spyglass.prompt.version": "v3",
            "spyglass.tenant": "acme 'quoted'",
        },
    )
    tool = P.span(
        tid,
        name="execute_tool issue_refund",
        parent=root.span_id,
        start_ns=start + 50_000_000,
        error="denied",
        attrs={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "issue_refund"},
    )
    body = P.request(root, llm, tool, resource={"service.name": "svc", "spyglass.project": project})
    return tid, body.SerializeToString()


def test_the_same_requests_give_the_same_answers_on_both_backends(clients: dict[str, Any]) -> None:
    project = f"p_{uuid.uuid4().hex[:8]}"
    tid, body = _workload(project)
    event = {
        "trace_id": tid.hex(),
        "id": "ev-1",
        "thumbs": "down",
        "comment": "wrong 'refund' window",
        "escalation_reason": "complaint",
        "timestamp": time.time() - 1800,
        "project": project,
    }
    answers = {}
    for name, client in clients.items():
        assert client.post("/v1/traces", content=body, headers=PB).status_code == 200
        assert client.post("/v1/feedback", content=json.dumps(event), headers=JSON).status_code == 200
        trace = client.get(f"/api/traces/{tid.hex()}", params={"project": project})
        assert trace.status_code == 200, trace.text
        listing = client.get("/api/traces", params={"project": project, "limit": 10})
        inbox = client.get("/api/feedback", params={"project": project})
        assert listing.status_code == 200 and inbox.status_code == 200, listing.text + inbox.text
        answers[name] = (trace.json(), listing.json(), inbox.json())
    embedded, server = answers["embedded"], answers["server"]
    assert embedded[0]["totals"]["span_count"] == 3
    assert [r["trace_id"] for r in embedded[1]["traces"]] == [tid.hex()]
    assert [e["comment"] for e in embedded[2]["events"]] == ["wrong 'refund' window"]
    assert _without_arrival(server) == _without_arrival(embedded)


def _without_arrival(answer: Any) -> Any:
    """The answer without the times the collector stamps on arrival (they differ per backend)."""
    if isinstance(answer, dict):
        return {k: _without_arrival(v) for k, v in answer.items() if k not in ("ingested_at", "received_at")}
    if isinstance(answer, list | tuple):
        return [_without_arrival(v) for v in answer]
    return answer


def test_a_redelivered_request_is_stored_once(clients: dict[str, Any], backend: Store) -> None:
    project = f"p_{uuid.uuid4().hex[:8]}"
    client = next(c for c in clients.values() if c.app.state.store is backend)
    _, body = _workload(project)
    for _ in range(3):
        assert client.post("/v1/traces", content=body, headers=PB).status_code == 200
    assert client.app.state.writer.spool.flush(30), "the spool did not drain into the store in 30 s"
    assert backend.query(queries.COUNT_SPANS, {"project": project}).column(0)[0].as_py() == 3


def test_values_are_parameters_never_sql(backend: Store) -> None:
    hostile = "x' OR 1=1) --"
    got = backend.query(queries.COUNT_SPANS, {"project": hostile}).column(0)[0].as_py()
    assert got == 0
    with pytest.raises(StoreError, match="query failed"):
        backend.query("SELECT * FROM no_such_table_here")


def test_migrating_again_changes_nothing(backend: Store) -> None:
    before = backend.query("SELECT count() FROM schema_migrations").column(0)[0].as_py()
    backend.migrate()
    after = backend.query("SELECT version FROM schema_migrations FINAL ORDER BY version")
    assert backend.query("SELECT count() FROM schema_migrations").column(0)[0].as_py() == before
    assert after.column("version").to_pylist() == [v for v, _, _ in queries.migrations()]


def test_a_missing_database_is_created(clickhouse: ClickHouseServer) -> None:
    dsn = clickhouse.dsn()
    store = open_store(dsn)
    try:
        tables = set(store.query("SHOW TABLES").column(0).to_pylist())
        assert {"spans", "feedback", "trace_index", "trace_index_mv", "schema_migrations"} <= tables
    finally:
        store.close()


def test_a_bad_password_says_what_to_check(clickhouse: ClickHouseServer) -> None:
    user, rest = clickhouse.url.split("://", 1)[1].split("@", 1)
    with pytest.raises(StoreError) as failure:
        open_store(f"http://{user.split(':')[0]}:wrong@{rest}/spyglass")
    message = str(failure.value)
    assert "wrong" not in message and ":***@" in message and "password" in message


def test_a_cluster_needs_a_server_and_a_plain_name(clickhouse: ClickHouseServer, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="needs a ClickHouse server store"):
        open_store(str(tmp_path / "embedded"), cluster="prod")
    with pytest.raises(StoreError, match="not a plain name"):
        open_store(clickhouse.dsn(), cluster="prod; DROP TABLE spans")
