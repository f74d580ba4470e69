"""The SQL module: migrations parse into statements, queries bind values only as parameters."""

from __future__ import annotations

import re

import pytest

from spyglass.collector.settings import Settings
from spyglass.collector.store import queries


def test_split_statements_drops_comments_and_keeps_order() -> None:
    script = "-- a comment; with a semicolon\nCREATE TABLE a (x UInt8);\n\nCREATE TABLE b\n(y UInt8);\n"
    assert queries.split_statements(script) == ["CREATE TABLE a (x UInt8)", "CREATE TABLE b\n(y UInt8)"]


def test_migrations_are_versioned_and_create_the_schema() -> None:
    found = queries.migrations()
    versions = [v for v, _, _ in found]
    assert versions == sorted(set(versions)) and versions[0] == 1
    statements = " ".join(s for _, _, stmts in found for s in stmts)
    for name in ("spans", "trace_index", "trace_index_mv", "feedback"):
        assert f"IF NOT EXISTS {name}" in statements  # idempotent when applied again


def test_insert_column_list_matches_the_table() -> None:
    ddl = next(s for _, _, stmts in queries.migrations() for s in stmts if "TABLE IF NOT EXISTS spans" in s)
    table_cols = re.findall(r"^\s{4}([a-z_0-9]+) ", ddl, flags=re.M)
    assert [c for c in table_cols if c != "ingested_at"] == list(queries.SPAN_COLUMNS)


def test_feedback_column_list_matches_the_table() -> None:
    ddl = next(
        s for _, _, stmts in queries.migrations() for s in stmts if "TABLE IF NOT EXISTS feedback" in s
    )
    assert tuple(re.findall(r"^\s{4}([a-z_0-9]+) ", ddl, flags=re.M)) == queries.FEEDBACK_COLUMNS


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (queries.TRACE_FEEDBACK, {"project", "trace_id"}),
        (queries.FEEDBACK_INBOX, {"project", "since_ns", "until_ns", "source", "state", "limit", "offset"}),
        (
            queries.trace_list("slowest"),
            {
                *("project", "since_ns", "until_ns", "tenant", "workflow", "intent", "release", "prompt"),
                "model",
                "corpus",
                *("errors_only", "negative", "min_duration_ns", "limit", "offset"),
            },
        ),
    ],
)
def test_list_queries_take_values_only_as_parameters(sql: str, expected: set[str]) -> None:
    assert {name for name, _ in re.findall(r"\{(\w+):(\w+)\}", sql)} == expected
    assert "FINAL" in sql
    assert "{" not in re.sub(r"\{\w+:\w+\}", "", sql)  # no other interpolation survived


@pytest.mark.parametrize("sql", [queries.TRACE_SPANS, queries.TRACE_SPANS_NO_INDEX])
def test_trace_queries_take_values_only_as_parameters(sql: str) -> None:
    placeholders = set(re.findall(r"\{(\w+):(\w+)\}", sql))
    assert placeholders == {("project", "String"), ("trace_id", "String")}
    assert "FINAL" in sql  # re-delivered spans collapse for every reader


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPYGLASS_PORT", "9999")
    monkeypatch.setenv("SPYGLASS_BATCH_MAX_DELAY", "0.5")
    settings = Settings.from_env(data_dir="/d", port=None)
    assert (settings.port, settings.batch_max_delay, settings.data_dir) == (9999, 0.5, "/d")
    assert Settings.from_env(port=1234).port == 1234
    monkeypatch.setenv("SPYGLASS_PORT", "eighty")
    with pytest.raises(ValueError, match="SPYGLASS_PORT='eighty' is not a valid int"):
        Settings.from_env()
