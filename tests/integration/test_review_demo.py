"""The weekly review on the demo workload finds exactly the problems planted in it
(``spyglass.cli._demo_world.PLANTED``) and nothing else: tenant globex's tail latency this
week, and prompt answer@v4's negative feedback against v3, at the demo's default size (4,000
requests: a tenant's week holds ~400, enough to tell globex's p95 moved at 99.9%)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

import pytest

from spyglass.cli._demo_world import PLANTED
from tests.conftest import CollectorProcess, run_demo

pytestmark = pytest.mark.integration

PROJECT = "review-demo"
NOW = 1_790_000_000 - 1_790_000_000 % 3600  # a fixed window end: the same data on every run
UNTIL = "2026-09-21T14:00:00Z"
assert NOW == 1_789_999_200 and UNTIL  # 2026-09-21T14:00:00Z


@pytest.fixture(scope="module")
def demo(collector: CollectorProcess) -> str:
    _, result = run_demo(
        collector.url, "--traces", "4000", "--seed", "7", "--now", str(NOW), "--project", PROJECT
    )
    assert result["problems"] == []
    return collector.url


def api(url: str, path: str, **params: Any) -> dict[str, Any]:
    query = urllib.parse.urlencode({"project": PROJECT, **params})
    with urllib.request.urlopen(f"{url}/api/analytics/{path}?{query}", timeout=120) as resp:
        return json.load(resp)


def flagged(rows: list[dict[str, Any]], by: list[str]) -> set[tuple[Any, ...]]:
    """(cohort..., metric, 'worse'|'better') for every change outside the noise."""
    found = set()
    for row in rows:
        for key, value in row.items():
            if key.endswith("_changed") and value:
                metric = key.removesuffix("_changed")
                found.add((*(row[b] for b in by), metric, "worse" if row[f"{metric}_worse"] else "better"))
    return found


def test_week_over_week_by_tenant_flags_only_globex_tail_latency(demo: str) -> None:
    body = api(demo, "week-over-week", by="tenant", until=UNTIL, days=7)
    tenant = PLANTED["slow_tool"]["tenant"]
    changes = flagged(body["rows"], ["tenant"])
    assert changes, "the planted slow tool was not found"
    assert {(t, m) for t, m, _ in changes} <= {(tenant, "p95_ms"), (tenant, "p99_ms")}
    # p95 moves outside the noise; p99 cannot be bounded at 99.9% from ~400 requests a week
    assert (tenant, "p95_ms", "worse") in changes


def test_stage_breakdown_blames_the_tool_for_globex_tail(demo: str) -> None:
    body = api(demo, "stages", by="tenant", since="2026-09-14T14:00:00Z", until=UNTIL)
    shares = {row["tenant"]: row["tool_tail_share"] for row in body["rows"]}
    tenant = PLANTED["slow_tool"]["tenant"]
    assert shares[tenant] > 0.4  # tools make most of globex's slowest 5% this week
    assert all(share < 0.25 for name, share in shares.items() if name != tenant)


def test_prompt_comparison_flags_only_feedback(demo: str) -> None:
    planted = PLANTED["negative_prompt"]
    name, bad, good = planted["prompt_name"], planted["prompt_version"], planted["baseline"]["prompt_version"]
    body = api(
        demo,
        "compare",
        dimension="prompt",
        baseline=f"{name}@{good}",
        candidate=f"{name}@{bad}",
        since="2026-09-07T14:00:00Z",
        until=UNTIL,
    )
    assert flagged([body["overall"]], []) == {
        ("negative_feedback_rate", "worse"),
        ("positive_feedback_rate", "worse"),
    }
    assert body["overall"]["negative_feedback_rate_cand"] > 2 * body["overall"]["negative_feedback_rate_base"]


def test_nothing_else_moves(demo: str) -> None:
    window = {"since": "2026-09-07T14:00:00Z", "until": UNTIL}
    releases = api(
        demo, "compare", dimension="release", baseline="2026.11.1", candidate="2026.11.2", **window
    )
    assert flagged([releases["overall"]], []) == set()
    # globex's slow requests sit in every prompt, intent and workflow, so those cohorts' tails may
    # move too; nothing else does, and without globex nothing moves at all.
    for by in ("prompt", "intent", "workflow"):
        changes = flagged(api(demo, "week-over-week", by=by, until=UNTIL, days=7)["rows"], [by])
        assert {(m, w) for _, m, w in changes} <= {("p95_ms", "worse"), ("p99_ms", "worse")}, by
        for tenant in ("acme", "initech"):
            rows = api(demo, "week-over-week", by=by, until=UNTIL, days=7, tenant=tenant)["rows"]
            assert flagged(rows, [by]) == set(), (by, tenant)
