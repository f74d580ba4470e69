"""The cluster DDL, parsed by the engine itself: no cluster runs here (and ReplicatedMergeTree
needs Keeper), but ClickHouse's parser and formatter accept every rendered statement."""

from __future__ import annotations

import pytest

from spyglass.collector.store import Store, queries
from spyglass.collector.store.cluster import render_cluster

pytestmark = pytest.mark.integration


def test_every_rendered_statement_parses(store: Store) -> None:
    statements = [queries.MIGRATIONS_TABLE] + [s for _, _, st in queries.migrations() for s in st]
    rendered = render_cluster(statements, "spyglass_cluster")
    formatted = [
        store.query("SELECT formatQuery({q:String}) AS f", {"q": s}).column(0)[0].as_py() for s in rendered
    ]
    assert all("ON CLUSTER spyglass_cluster" in f for f in formatted)
    engines = " ".join(formatted)
    assert "ENGINE = ReplicatedReplacingMergeTree(" in engines
    assert "ENGINE = ReplicatedAggregatingMergeTree(" in engines
    assert "Distributed(spyglass_cluster, currentDatabase(), spans_local, cityHash64(trace_id))" in engines
    assert "Distributed(spyglass_cluster, currentDatabase(), feedback_local, cityHash64(trace_id))" in engines


def test_governance_statements_render_for_the_cluster_and_parse(store: Store) -> None:
    """Retention ALTERs and deletions run later through ``Store.command``; on a cluster they
    must reach the local tables."""
    from spyglass.collector.store import governance_sql as G
    from spyglass.collector.store.cluster import render_command

    runtime = [s.sql for s in G.ttl_statements(({"pii": 7}, 30), ({}, 90), 30, 365)]
    runtime += [*G.DELETE_TRACE, *G.DELETE_TENANT]
    rendered = [r for statement in runtime for r in render_command(statement, "c1")]
    assert len(rendered) == len(runtime)  # TTL changes and deletions go to the local tables only
    for statement in rendered:
        assert "_local ON CLUSTER c1" in statement
        store.query("SELECT formatQuery({q:String})", {"q": statement})
