"""Normalization: typed columns from attributes (with precedence), nothing dropped, rejections."""

from __future__ import annotations

import os

import pyarrow as pa

from spyglass.collector.normalize import normalize
from spyglass.collector.store.queries import SPAN_COLUMNS
from tests import payloads as P


def one_row(attrs: dict, **kw: object) -> dict:
    result = normalize(P.request(P.span(os.urandom(16), attrs=attrs, **kw)))  # type: ignore[arg-type]
    assert result.accepted == 1 and result.rejected == 0
    return result.table.to_pylist()[0]


def test_table_has_the_insert_columns_in_order() -> None:
    table = normalize(P.request(P.span(os.urandom(16)))).table
    assert tuple(table.column_names) == SPAN_COLUMNS
    assert table.schema.field("trace_id").type == pa.binary(16)
    assert table.schema.field("start_time").type == pa.timestamp("ns", tz="UTC")


def test_semconv_attributes_fill_typed_columns_and_leave_the_map() -> None:
    row = one_row(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "m",
            "gen_ai.usage.input_tokens": 5,
            "gen_ai.usage.output_tokens": 6,
            "gen_ai.response.finish_reasons": ["stop"],
            "spyglass.cohort.tenant": "acme",
            "user.id": "u",
            "spyglass.retrieval.document_ids": ["a", "b"],
            "spyglass.retrieval.document_scores": [1, 0.5],
            "spyglass.llm.fallback": True,
            "other.thing": 3,
        }
    )
    assert (row["kind"], row["provider"], row["request_model"]) == ("llm", "openai", "m")
    assert (row["input_tokens"], row["output_tokens"]) == (5, 6)
    assert row["finish_reasons"] == ["stop"] and row["tenant"] == "acme" and row["user_id"] == "u"
    assert row["document_ids"] == ["a", "b"] and row["document_scores"] == [1.0, 0.5]
    assert row["is_fallback"] is True
    assert row["attributes"] == [("other.thing", "3")]


def test_current_name_wins_over_deprecated_alias_which_is_kept() -> None:
    row = one_row({"gen_ai.provider.name": "anthropic", "gen_ai.system": "legacy"})
    assert row["provider"] == "anthropic"
    assert dict(row["attributes"]) == {"gen_ai.system": "legacy"}
    assert one_row({"gen_ai.system": "legacy"})["provider"] == "legacy"
    assert one_row({"gen_ai.usage.prompt_tokens": 9})["input_tokens"] == 9


def test_wrong_types_stay_in_the_map_instead_of_the_column() -> None:
    row = one_row(
        {
            "gen_ai.usage.input_tokens": "many",
            "gen_ai.request.model": 42,
            "spyglass.retrieval.document_ids": "not-a-list",
            "gen_ai.usage.output_tokens": -1,
        }
    )
    assert row["input_tokens"] is None and row["output_tokens"] is None and row["request_model"] == ""
    assert dict(row["attributes"]) == {
        "gen_ai.usage.input_tokens": "many",
        "gen_ai.request.model": "42",
        "spyglass.retrieval.document_ids": "not-a-list",
        "gen_ai.usage.output_tokens": "-1",
    }


def test_kind_comes_from_spyglass_then_from_the_operation() -> None:
    assert one_row({"spyglass.span.kind": "rerank"})["kind"] == "rerank"
    assert one_row({"gen_ai.operation.name": "embeddings"})["kind"] == "embedding"
    assert one_row({"gen_ai.operation.name": "execute_tool"})["kind"] == "tool"
    bogus = one_row({"spyglass.span.kind": "bogus"})
    assert bogus["kind"] == "" and dict(bogus["attributes"]) == {"spyglass.span.kind": "bogus"}


def test_error_type_falls_back_to_the_exception_event() -> None:
    s = P.span(os.urandom(16), error="boom")
    ev = s.events.add()
    ev.name = "exception"
    ev.time_unix_nano = s.start_time_unix_nano
    ev.attributes.extend(P.kvs({"exception.type": "ValueError"}))
    row = normalize(P.request(s)).table.to_pylist()[0]
    assert row["status_code"] == "error" and row["error_type"] == "ValueError"
    assert row["events_name"] == ["exception"]


def test_resource_gives_service_and_project() -> None:
    tid = os.urandom(16)
    result = normalize(P.request(P.span(tid), resource={"service.name": "svc", "spyglass.project": "p1"}))
    row = result.table.to_pylist()[0]
    assert (row["service"], row["project"]) == ("svc", "p1")
    assert normalize(P.request(P.span(tid)), "fallback").table.to_pylist()[0]["project"] == "fallback"


def test_rejections_name_the_span_and_the_problem() -> None:
    tid = os.urandom(16)
    bad_parent = P.span(tid, name="bp")
    bad_parent.parent_span_id = b"\x01\x02"
    no_start = P.span(tid, name="ns", start_ns=0)
    result = normalize(P.request(P.span(tid, name="ok"), bad_parent, no_start))
    assert (result.accepted, result.rejected) == (1, 2)
    assert result.errors == [
        "span 'bp': parent_span_id must be empty or 8 bytes (16 hex characters)",
        "span 'ns': start_time_unix_nano is missing or out of range",
    ]
    assert "'bp'" in result.error_message(limit=1) and "and 1 more" in result.error_message(limit=1)
