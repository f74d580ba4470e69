"""The cohort review's pure parts, without a collector: how values and intervals read, cohort
labels and ranking, week-over-week and baseline/candidate flags, the trace-list filters of a
cohort, and the charts' data."""

from __future__ import annotations

from typing import Any

from spyglass.ui import _review_charts as charts
from spyglass.ui import _scorecard as sc
from spyglass.ui._scorecard import DASH, METRICS


def test_values_with_intervals() -> None:
    assert sc.with_interval(METRICS["success_rate"], 0.9712, 0.9518, 0.9833) == f"97.1% (95.2{DASH}98.3)"
    assert sc.with_interval(METRICS["p95_ms"], 812.0, 640.0, 1500.0) == f"812.0 ms (640.0 ms{DASH}1.50 s)"
    assert (
        sc.with_interval(METRICS["cost_per_task"], 0.0123, 0.011, 0.0136) == f"$0.0123 ($0.011{DASH}$0.0136)"
    )
    assert sc.with_interval(METRICS["tokens_per_task"], 1204.4, 1100.0, 1300.0) == f"1,204 (1,100{DASH}1,300)"
    # a missing bound (too few requests to bound a p99) leaves the value alone
    assert sc.with_interval(METRICS["p99_ms"], 4150.0, 3900.0, None) == "4.15 s"
    assert sc.with_interval(METRICS["error_rate"], None, None, None) == "-"  # no denominator
    assert (
        sc.difference(METRICS["negative_feedback_rate"], 0.1164, 0.0596, 0.1744)
        == f"+11.6 pts (+6.0{DASH}+17.4)"
    )
    assert sc.difference(METRICS["p50_ms"], -24.6) == "-24.6 ms"


def test_labels_and_ranking() -> None:
    rows: list[dict[str, Any]] = [
        {"tenant": "a", "tasks": 100, "judgeable": True, "error_rate": 0.01},
        {"tenant": "b", "tasks": 10, "judgeable": False, "error_rate": 0.9},
        {"tenant": "c", "tasks": 100, "judgeable": True, "error_rate": 0.05},
        {"tenant": "", "tasks": 20, "judgeable": False, "error_rate": 0.5},
        {"tenant": "d", "tasks": 100, "judgeable": True, "error_rate": None},
    ]
    ranked = sc.ranked(rows, "error_rate")
    # judgeable worst first (no value last), then the small ones by size, never by their rate
    assert [r["tenant"] for r in ranked] == ["c", "a", "d", "", "b"]
    assert sc.label(rows[3], ["tenant"]) == "tenant=(none)"
    assert sc.label({"tenant": "a", "day": "2026-11-20"}, ["tenant", "day"]) == "tenant=a · day=2026-11-20"
    assert sc.label({}, []) == "everything"
    success = [{"tenant": t, "judgeable": True, "success_rate": v} for t, v in (("x", 0.99), ("y", 0.9))]
    assert [r["tenant"] for r in sc.ranked(success, "success_rate")] == ["y", "x"]  # lower is worse


def test_scorecard_flags_from_week_over_week() -> None:
    rows = [{"tenant": "globex", "tasks": 200, "judgeable": True, "p99_ms": 7000.0, "success_rate": 0.99}]
    wow = {
        ("globex",): {
            "p99_ms_changed": True,
            "p99_ms_worse": True,
            "p99_ms_diff": 2500.0,
            "success_rate_changed": True,
            "success_rate_worse": False,
            "success_rate_diff": 0.02,
            "error_rate_changed": False,
            "error_rate_worse": True,
        }
    }
    table, flags = sc.scorecard(rows, ["tenant"], wow)
    assert flags == [{"p99": "worse", "success": "better", "vs previous window": "worse"}]
    assert table[0]["vs previous window"] == "success ▲ better, p99 ▲ worse"
    assert table[0]["status"] == "" and table[0]["requests"] == 200
    small, _ = sc.scorecard([{**rows[0], "judgeable": False}], ["tenant"], {})
    assert small[0]["status"] == "too small to judge" and small[0]["vs previous window"] == ""


def test_comparison_rows() -> None:
    row = {
        "judgeable": True,
        "negative_feedback_rate_base": 0.06,
        "negative_feedback_rate_lo_base": 0.04,  # the API's naming
        "negative_feedback_rate_hi_base": 0.10,
        "negative_feedback_rate_cand": 0.18,
        "negative_feedback_rate_cand_lo": 0.14,  # the contract draft's naming
        "negative_feedback_rate_cand_hi": 0.23,
        "negative_feedback_rate_diff": 0.12,
        "negative_feedback_rate_changed": True,
        "negative_feedback_rate_worse": True,
        "p50_ms_base": 2700.0,
        "p50_ms_cand": 2680.0,
        "p50_ms_diff": -20.0,
        "p50_ms_changed": False,
    }
    by_metric = {r["metric"]: r for r in sc.comparison(row)}
    assert set(by_metric) == {"negative feedback", "p50"}  # metrics absent on both sides are left out
    negative = by_metric["negative feedback"]
    assert (negative["baseline"], negative["candidate"]) == (
        f"6.0% (4.0{DASH}10.0)",
        f"18.0% (14.0{DASH}23.0)",
    )
    assert negative["change"] == "worse" and by_metric["p50"]["change"] == "no clear change"
    assert sc.comparison({**row, "judgeable": False, "negative_feedback_rate_changed": False})[0][
        "change"
    ] == ("too small to judge")
    flagged = sc.flagged([{"tenant": "acme", **row}], ["tenant"])
    assert [(f["cohort"], f["metric"], f["change"]) for f in flagged] == [
        ("tenant=acme", "negative feedback", "worse")
    ]


def test_trace_filters_of_a_cohort() -> None:
    since, until = "2026-11-16T00:00:00.000000Z", "2026-11-23T00:00:00.000000Z"
    row = {"tenant": "acme", "model": "openai/gpt-4o", "day": "2026-11-20", "corpus": "kb@1", "release": ""}
    params, loose = sc.trace_filters(
        row, ["tenant", "model", "day", "corpus", "release"], since, until, {"intent": "refund"}
    )
    assert params == {
        "since": "2026-11-20T00:00:00.000000Z",
        "until": "2026-11-21T00:00:00.000000Z",
        "tenant": "acme",
        "model": "openai/gpt-4o",  # the trace list takes the provider/model route as is
        "corpus": "kb@1",
        "intent": "refund",
    }
    assert loose == ["release (none)"]


def test_chart_data_comes_from_the_rows() -> None:
    rows = [
        {
            "tenant": "a",
            "p95_ms": 10.0,
            "p95_ms_lo": 8.0,
            "p95_ms_hi": 12.0,
            "p99_ms": 20.0,
            "error_rate": 0.1,
        },
        {
            "tenant": "b",
            "p95_ms": 30.0,
            "p95_ms_lo": 25.0,
            "p95_ms_hi": 40.0,
            "p99_ms": None,
            "error_rate": None,
        },
    ]
    latency = charts.latency(rows, ["tenant"]).to_dict()
    values = latency["data"]["values"]
    assert [(v["cohort"], v["quantile"]) for v in values] == [
        ("tenant=a", "p95"),
        ("tenant=a", "p99"),
        ("tenant=b", "p95"),
    ]
    assert [layer["mark"]["type"] for layer in latency["layer"]] == ["bar", "rule"]  # bars and whiskers
    rate = charts.rate(rows, ["tenant"], "error_rate").to_dict()
    assert [v["cohort"] for v in rate["data"]["values"]] == ["tenant=a"]
    tail = charts.tail_shares(
        [{"tenant": "a", "tool_tail_share": 0.7, "model_tail_share": 0.3}], ["tenant"]
    ).to_dict()
    shares = {v["stage"]: v["share"] for v in tail["data"]["values"]}
    assert shares == {"model": 0.3, "retrieval": 0.0, "rerank": 0.0, "tool": 0.7, "app": 0.0}
