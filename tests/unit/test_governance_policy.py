"""The governance policy file and the retention DDL it renders: pure functions, no store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spyglass.collector.governance import PolicyError, Retention, load_policy, parse_policy
from spyglass.collector.store import governance_sql as sql


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return str(path)


def test_shipped_policy_keeps_content_shorter_than_metadata() -> None:
    policy = load_policy()
    assert policy.default == Retention(7, 90)
    assert policy.classes["regulated"] == Retention(1, 30)
    assert policy.classes["public"] == Retention(30, 365)
    assert policy.feedback == Retention(90, 365)
    assert policy.forbid_content_classes == {"regulated"}
    for retention in [policy.default, policy.feedback, *policy.classes.values()]:
        assert retention.content_days <= retention.metadata_days


def test_operator_file_is_merged_over_the_shipped_one(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[retention]\ncontent_days = 3\n[retention.class.eu-customer]\nmetadata_days = 20\n"
        '[content]\nforbid_projects = ["hr"]\n',
    )
    policy = load_policy(path)
    assert policy.default == Retention(3, 90)  # metadata_days kept from the shipped file
    assert policy.classes["eu-customer"] == Retention(3, 20)  # a new class inherits the default content
    assert policy.classes["public"] == Retention(30, 365)
    assert policy.forbid_content_projects == {"hr"}
    assert policy.forbid_content_classes == {"regulated"}
    assert policy.source == path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[retention]\ncontent_day = 3\n", "unknown entry in [retention]: 'content_day'"),
        ("[retention]\ncontent_days = 0\n", "retention.content_days must be a whole number of days"),
        ("[retention]\ncontent_days = true\n", "retention.content_days must be a whole number"),
        ('[retention]\nmetadata_days = "90"\n', "retention.metadata_days must be a whole number"),
        (
            "[retention.class.public]\ncontent_days = 400\n",
            "content_days (400) is longer than metadata_days (365)",
        ),
        ('[retention.class."bad name"]\ncontent_days = 1\n', "data class name 'bad name'"),
        ('[content]\nforbid_classes = "regulated"\n', "content.forbid_classes must be a list of names"),
        ("[contents]\n", "unknown entry 'contents'"),
        (
            "[feedback]\ncontent_days = 500\n",
            "feedback: content_days (500) is longer than metadata_days (365)",
        ),
        ("retention = [", "is not valid TOML"),
    ],
)
def test_invalid_policies_name_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert message in str(err.value)
    assert path in str(err.value)


def test_missing_policy_file_says_so() -> None:
    with pytest.raises(PolicyError, match=r"cannot read the policy file /nonexistent/policy\.toml"):
        load_policy("/nonexistent/policy.toml")


def test_ttl_statements_bind_every_value_as_a_parameter() -> None:
    policy = parse_policy(
        {
            "retention": {
                "content_days": 7,
                "metadata_days": 90,
                "class": {
                    "public": {"content_days": 30, "metadata_days": 365},
                    "eu.customer": {"metadata_days": 10},
                },
            }
        }
    )
    statements = {s.target: s for s in policy.statements()}
    assert set(statements) == {
        "spans",
        "spans.input",
        "spans.output",
        "trace_index",
        "requests",
        "feedback",
        "feedback.comment",
        "feedback.override",
    }
    for statement in statements.values():
        assert statement.sql.startswith("ALTER TABLE ")
        assert "public" not in statement.sql and "customer" not in statement.sql
        assert set(re.findall(r"\{(\w+):", statement.sql)) == set(statement.params)
    rows = statements["spans"]
    assert rows.sql == (
        "ALTER TABLE spans MODIFY TTL toDateTime(ingested_at) + toIntervalDay(multiIf("
        "data_class = {m_class0:String}, {m_days0:UInt16}, data_class = {m_class1:String}, "
        "{m_days1:UInt16}, {m_default:UInt16}))"
    )
    assert rows.params == {
        "m_class0": "eu.customer",
        "m_days0": 10,
        "m_class1": "public",
        "m_days1": 365,
        "m_default": 90,
    }
    content = statements["spans.input"]
    assert content.sql.startswith("ALTER TABLE spans MODIFY COLUMN input TTL toDateTime(ingested_at)")
    assert content.params == {
        "c_class0": "eu.customer",
        "c_days0": 7,
        "c_class1": "public",
        "c_days1": 30,
        "c_default": 7,
    }
    # The trace index outlives every span of the trace: the longest metadata retention.
    assert statements["trace_index"].params == {"days": 365}
    # So does its requests row (the rollup), counted from its spans' newest arrival.
    assert statements["requests"].sql == (
        "ALTER TABLE requests MODIFY TTL toDateTime(last_ingested) + toIntervalDay({days:UInt16})"
    )
    assert statements["requests"].params == {"days": 365}
    assert statements["feedback.comment"].params == {"days": 90}
    assert statements["feedback"].params == {"days": 365}


def test_a_quote_in_a_class_name_stays_out_of_the_sql() -> None:
    for statement in sql.ttl_statements(({"x'y": 1}, 7), ({"x'y": 10}, 90), 90, 365):
        assert "'" not in statement.sql


def test_class_names_are_checked_even_though_they_are_parameters() -> None:
    with pytest.raises(PolicyError, match="may use only letters"):
        parse_policy({"retention": {"class": {"a b": {"content_days": 1}}}})


def test_fingerprint_changes_with_any_value_and_only_then() -> None:
    def fingerprints(content_days: int) -> dict[str, str]:
        data = {"retention": {"class": {"public": {"content_days": content_days, "metadata_days": 365}}}}
        return {s.target: s.fingerprint() for s in parse_policy(data).statements()}

    assert fingerprints(30) == fingerprints(30)
    one, other = fingerprints(30), fingerprints(31)
    assert [t for t in one if one[t] != other[t]] == ["spans.input", "spans.output"]


def test_days_by_class_without_classes_is_one_parameter() -> None:
    assert sql.days_by_class({}, 7, "c") == ("{c_default:UInt16}", {"c_default": 7})


def test_retention_statements_have_a_cluster_form() -> None:
    from spyglass.collector.store.cluster import render_command  # what Store.command does on a cluster

    for statement in load_policy().statements():
        (rendered,) = render_command(statement.sql, "main")
        table = statement.target.split(".")[0]
        assert rendered.startswith(f"ALTER TABLE {table}_local ON CLUSTER main MODIFY ")
        assert set(re.findall(r"\{(\w+):", rendered)) == set(statement.params)
