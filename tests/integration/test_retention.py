"""Retention by data class against the real embedded store: the policy becomes TTL in the
tables, re-applying it is a no-op, and forcing TTL (MATERIALIZE TTL) empties expired content
before the row of the same span goes; the content policy is enforced on arrival."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from spyglass import attributes as A
from spyglass.collector import Settings, create_app
from spyglass.collector.governance import CONTENT_DROPPED, apply_retention, load_policy, parse_policy
from spyglass.collector.store import Store
from spyglass.collector.store import governance_sql as sql
from tests import payloads as P

pytestmark = pytest.mark.integration
DAY_MS = 86_400_000

LONG = {
    "retention": {
        "content_days": 400,
        "metadata_days": 400,
        "class": {"ret-public": {"content_days": 400, "metadata_days": 400}},
    },
    "feedback": {"content_days": 400, "metadata_days": 400},
}
POLICY = {
    "retention": {
        "content_days": 7,
        "metadata_days": 90,
        "class": {"ret-public": {"content_days": 30, "metadata_days": 365}},
    },
    "feedback": {"content_days": 10, "metadata_days": 20},
}


@pytest.fixture()
def shipped_policy_restored(store: Store) -> Iterator[None]:
    """The session's store is shared: leave it with the shipped policy."""
    yield
    apply_retention(store, load_policy())


def create_table(store: Store, table: str) -> str:
    query = (
        "SELECT create_table_query FROM system.tables "
        "WHERE database = currentDatabase() AND name = {t:String}"
    )
    return str(store.query(query, {"t": table}).column(0)[0].as_py())


def insert_span(store: Store, project: str, span: int, data_class: str, age_days: int) -> None:
    store.command(
        "INSERT INTO spans (project, trace_id, span_id, start_time, data_class, input, output, ingested_at) "
        "VALUES ({p:String}, unhex({t:String}), unhex({s:String}), now64(9), {c:String}, {i:String}, "
        "{o:String}, fromUnixTimestamp64Milli({at:Int64}, 'UTC'))",
        {
            "p": project,
            "t": f"{span:032x}",
            "s": f"{span:016x}",
            "c": data_class,
            "i": f"in-{span}",
            "o": f"out-{span}",
            "at": time.time_ns() // 10**6 - age_days * DAY_MS,
        },
    )


def insert_feedback(store: Store, project: str, event: str, age_days: int) -> None:
    store.command(
        "INSERT INTO feedback (project, trace_id, span_id, event_id, timestamp, received_at, thumbs, "
        "comment, override) VALUES ({p:String}, unhex({t:String}), unhex('0000000000000000'), "
        "{e:String}, now64(9), fromUnixTimestamp64Milli({at:Int64}, 'UTC'), 'down', {e:String}, {e:String})",
        {"p": project, "t": "ab" * 16, "e": event, "at": time.time_ns() // 10**6 - age_days * DAY_MS},
    )


def spans(store: Store, project: str) -> dict[int, tuple[str, str]]:
    rows = store.query(
        "SELECT reinterpretAsUInt64(reverse(span_id)) AS s, input, output FROM spans "
        "WHERE project = {p:String}",
        {"p": project},
    ).to_pylist()
    return {r["s"]: (r["input"], r["output"]) for r in rows}


def feedback(store: Store, project: str) -> dict[str, tuple[str, str, str]]:
    rows = store.query(
        "SELECT event_id, thumbs, comment, override FROM feedback WHERE project = {p:String}", {"p": project}
    ).to_pylist()
    return {r["event_id"]: (r["thumbs"], r["comment"], r["override"]) for r in rows}


def test_policy_becomes_ttl_and_reapplying_changes_nothing(
    store: Store, shipped_policy_restored: None
) -> None:
    policy = parse_policy(POLICY, "test")
    apply_retention(store, policy)
    ddl = create_table(store, "spans")
    # ClickHouse keeps the bound parameters as typed literals
    public = "toIntervalDay(multiIf(data_class = 'ret-public', _CAST({}, 'UInt16'), _CAST({}, 'UInt16')))"
    rows_ttl = "ORDER BY (project, trace_id, span_id) TTL toDateTime(ingested_at) + "
    assert rows_ttl + public.format(365, 90) in ddl
    for column in ("input", "output"):
        assert f"`{column}` String CODEC(ZSTD(3)) TTL toDateTime(ingested_at) + {public.format(30, 7)}" in ddl
    fb = create_table(store, "feedback")
    assert "TTL toDateTime(received_at) + toIntervalDay(_CAST(20, 'UInt16'))" in fb
    assert (
        "`comment` String CODEC(ZSTD(3)) TTL toDateTime(received_at) + toIntervalDay(_CAST(10, 'UInt16'))"
        in fb
    )
    assert "TTL toDateTime(indexed_at) + toIntervalDay(_CAST(365, 'UInt16'))" in create_table(
        store, "trace_index"
    )

    assert apply_retention(store, policy) == []  # unchanged: no ALTER at all
    changed = dict(POLICY, feedback={"content_days": 5, "metadata_days": 20})
    assert apply_retention(store, parse_policy(changed, "test")) == ["feedback.comment", "feedback.override"]
    assert (
        "`comment` String CODEC(ZSTD(3)) TTL toDateTime(received_at) + toIntervalDay(_CAST(5, 'UInt16'))"
        in (create_table(store, "feedback"))
    )


def test_forced_ttl_expires_content_before_metadata_by_data_class(
    store: Store, shipped_policy_restored: None
) -> None:
    project = f"ret-{os.urandom(4).hex()}"
    apply_retention(store, parse_policy(LONG, "long"))
    # span -> (data class, days since it arrived)
    ages = {
        1: ("", 0),
        2: ("", 10),
        3: ("ret-public", 10),
        4: ("", 100),
        5: ("ret-public", 100),
        6: ("", 400),
    }
    for span, (data_class, age) in ages.items():
        insert_span(store, project, span, data_class, age)
    for event, age in {"fresh": 0, "old": 15, "older": 30}.items():
        insert_feedback(store, project, event, age)
    store.command(
        "INSERT INTO trace_index (project, trace_id, start_min, start_max, indexed_at) "
        "VALUES ({p:String}, unhex({t:String}), now64(9), now64(9), now64(3) - INTERVAL 380 DAY)",
        {"p": project, "t": "cd" * 16},
    )
    before = spans(store, project)
    assert set(before) == {1, 2, 3, 4, 5} and before[4] == ("in-4", "out-4")  # 6 is past even 400 days

    apply_retention(store, parse_policy(POLICY, "test"))
    for table in ("spans", "feedback", "trace_index"):
        store.command(sql.materialize_ttl(table))

    assert spans(store, project) == {
        1: ("in-1", "out-1"),  # arrived today
        2: ("", ""),  # content 7 days, metadata 90: the row stays without its content
        3: ("in-3", "out-3"),  # ret-public keeps content 30 days
        5: ("", ""),  # ret-public: content gone after 30 days, metadata kept 365
        # 4: no data class, 100 days: past the 90 days of metadata, row deleted
    }
    assert feedback(store, project) == {"fresh": ("down", "fresh", "fresh"), "old": ("down", "", "")}
    index = store.query(
        "SELECT count() FROM trace_index WHERE project = {p:String} AND trace_id = unhex({t:String})",
        {"p": project, "t": "cd" * 16},
    )
    assert index.column(0)[0].as_py() == 0


def test_the_trace_index_records_when_a_trace_arrived(store: Store) -> None:
    project = f"ret-{os.urandom(4).hex()}"
    insert_span(store, project, 7, "", 0)
    row = store.query(
        "SELECT max(indexed_at) AS at FROM trace_index WHERE project = {p:String}", {"p": project}
    ).to_pylist()[0]
    assert abs(row["at"].timestamp() - time.time()) < 600  # filled by the column default


# --- the content policy on arrival ---------------------------------------------------------


@pytest.fixture(scope="module")
def client(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # Only [content] differs from the shipped policy, so no retention ALTER runs here.
    policy = tmp_path_factory.mktemp("policy") / "governance.toml"
    policy.write_text('[content]\nforbid_classes = ["regulated", "secret"]\nforbid_projects = ["hr"]\n')
    with TestClient(create_app(store, Settings(batch_max_delay=0.01, policy_file=str(policy)))) as c:
        yield c


CONTENT = {
    "gen_ai.input.messages": '[{"role": "user", "content": "my card is 4111"}]',
    A.OUTPUT: "the answer",
    "gen_ai.prompt.0.content": "indexed prompt",
    "input.value": "openinference input",
    "http.route": "/answer",
}


def send(client: TestClient, data_class: str, project: str = "default") -> dict:
    tid = P.new_trace_id()
    span = P.span(tid, name="chat", attrs={**CONTENT, A.DATA_CLASS: data_class})
    event = span.events.add()
    event.name, event.time_unix_nano = "gen_ai.user.message", span.start_time_unix_nano
    event.attributes.extend(P.kvs({"content": "hello, my name is"}))
    retry = span.events.add()
    retry.name, retry.time_unix_nano = "retry", span.start_time_unix_nano
    retry.attributes.extend(P.kvs({"attempt": 2, "gen_ai.completion": "leaked"}))
    request = P.request(span, resource={"service.name": "svc", A.PROJECT: project})
    resp = client.post(
        "/v1/traces", content=request.SerializeToString(), headers={"content-type": "application/x-protobuf"}
    )
    assert resp.status_code == 200
    for _ in range(100):
        got = client.get(f"/api/traces/{tid.hex()}", params={"project": project})
        if got.status_code == 200:
            return got.json()["spans"][0]
        time.sleep(0.05)
    raise AssertionError("span never arrived")


@pytest.mark.parametrize(
    ("data_class", "project"), [("regulated", "default"), ("secret", "default"), ("", "hr")]
)
def test_forbidden_content_is_dropped_on_arrival(client: TestClient, data_class: str, project: str) -> None:
    span = send(client, data_class, project)
    assert span["content"] is None
    assert span["attributes"][CONTENT_DROPPED] == "policy"
    assert span["attributes"]["http.route"] == "/answer"  # metadata stays
    for key in ("gen_ai.prompt.0.content", "input.value", "gen_ai.input.messages", A.OUTPUT):
        assert key not in span["attributes"]
    user, retry = span["events"]
    assert user["name"] == "gen_ai.user.message" and user["attributes"] == {}
    assert retry["attributes"] == {"attempt": "2"}


def test_allowed_content_is_kept(client: TestClient) -> None:
    span = send(client, "public")
    assert span["content"] == {"input": CONTENT["gen_ai.input.messages"], "output": "the answer"}
    assert CONTENT_DROPPED not in span["attributes"]
    assert span["events"][1]["attributes"] == {"attempt": "2", "gen_ai.completion": "leaked"}


def test_content_policy_file_errors_stop_the_collector(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[content]\nforbid_class = []\n")
    with pytest.raises(ValueError, match="unknown entry in \\[content\\]: 'forbid_class'"):
        create_app(store, Settings(policy_file=str(bad)))
