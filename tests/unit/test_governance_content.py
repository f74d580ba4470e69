"""The ingest-side content policy and the key helpers: pure functions over normalized rows and
header values, no store."""

from __future__ import annotations

import base64

import pyarrow as pa
import pytest

from spyglass import attributes as A
from spyglass.collector.auth import KEY_PREFIX, _split, bearer, is_loopback, new_key, parse_scopes
from spyglass.collector.governance import CONTENT_DROPPED, content_filter, parse_policy
from spyglass.collector.normalize import normalize
from tests import payloads as P

POLICY = parse_policy({"content": {"forbid_classes": ["regulated"], "forbid_projects": ["hr"]}})


def rows(*specs: tuple[str, str]) -> object:
    """One span per (data class, project), each with content in a column, an attribute and an event."""
    request = P.request()
    for data_class, project in specs:
        rs = request.resource_spans.add()
        rs.resource.attributes.extend(P.kvs({A.PROJECT: project}))
        span = P.span(
            P.new_trace_id(),
            attrs={A.DATA_CLASS: data_class, A.INPUT: "question", "gen_ai.prompt": "p", "user.tier": "gold"},
        )
        event = span.events.add()
        event.name, event.time_unix_nano = "gen_ai.choice", span.start_time_unix_nano
        event.attributes.extend(P.kvs({"message": "answer"}))
        rs.scope_spans.add().spans.append(span)
    return normalize(request).table


def test_spans_without_forbidden_content_pass_as_they_are() -> None:
    table = rows(("public", "default"), ("", "sales"))
    assert content_filter(POLICY)(table) is table  # no per-row work on the common path


def test_forbidden_class_or_project_loses_content_and_is_marked() -> None:
    table = rows(("regulated", "default"), ("public", "default"), ("", "hr"))
    out = content_filter(POLICY)(table)
    assert out.column("input").to_pylist() == ["", "question", ""]
    attrs = [dict(a) for a in out.column("attributes").to_pylist()]
    assert attrs[0] == {"user.tier": "gold", CONTENT_DROPPED: "policy"} == attrs[2]
    assert out.slice(1, 1).to_pylist() == table.slice(1, 1).to_pylist()  # the allowed span: untouched
    events = [[dict(e) for e in row] for row in out.column("events_attributes").to_pylist()]
    assert events[0] == [{}] == events[2]
    assert out.schema == table.schema


def test_content_attributes_other_instrumentations_use_are_dropped() -> None:
    table = normalize(P.request(P.span(P.new_trace_id(), attrs={A.DATA_CLASS: "regulated"}))).table
    sent = [
        ("gen_ai.prompt.3.content", "x"),
        ("llm.output_messages.0", "y"),
        ("input.value", "z"),
        ("k", "v"),
    ]
    index = table.schema.get_field_index("attributes")
    table = table.set_column(
        index, table.schema.field(index), pa.array([sent], table.schema.field(index).type)
    )
    out = dict(content_filter(POLICY)(table).column("attributes")[0].as_py())
    assert out == {"k": "v", CONTENT_DROPPED: "policy"}


def test_a_forbidden_span_without_content_is_not_marked() -> None:
    request = P.request(P.span(P.new_trace_id(), attrs={A.DATA_CLASS: "regulated", "k": "v"}))
    out = content_filter(POLICY)(normalize(request).table)
    assert dict(out.column("attributes")[0].as_py()) == {"k": "v"}


def test_a_policy_without_forbidden_content_is_a_no_op() -> None:
    table = rows(("regulated", "hr"))
    assert content_filter(parse_policy({}))(table) is table


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer sg_abc_def", "sg_abc_def"),
        ("bearer   sg_abc_def  ", "sg_abc_def"),
        ("Basic " + base64.b64encode(b"pk-lf-1:sg_abc_def").decode(), "sg_abc_def"),
        ("Basic !!!", None),
        ("Token sg_abc", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_reads_the_key_from_the_header(header: str | None, token: str | None) -> None:
    assert bearer(header) == token


def test_new_keys_are_unique_and_carry_their_id() -> None:
    key_id, key, digest = new_key()
    assert key.startswith(KEY_PREFIX + key_id + "_") and len(key) > 50
    assert _split(key) == (key_id, key.split("_", 2)[2])
    assert len(digest) == 64 and key.split("_", 2)[2] not in digest
    assert new_key()[1] != key
    assert _split("sg_short_x") == ("", "") and _split("nope") == ("", "")


def test_scopes_are_checked() -> None:
    assert parse_scopes("read, ingest,read") == ["ingest", "read"]
    with pytest.raises(ValueError, match="got write"):
        parse_scopes("read,write")
    with pytest.raises(ValueError, match="got none"):
        parse_scopes(" , ")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("example.com", False), ("", False)],
)  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
