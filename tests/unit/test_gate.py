"""The release gate on crafted comparisons: each rule blocks, only outside the noise and past
its limit; small cohorts never block; the overall row decides "not enough data"; reasons carry
the numbers; the TOML configuration and its errors."""

from __future__ import annotations

import doctest
import math
from pathlib import Path
from typing import Any

import pytest

from spyglass.analytics import gate
from spyglass.analytics.gate import GateConfig, GateConfigError, evaluate, poisson_growth_p_value

SAME: dict[str, float] = {
    "success_rate": 0.97,
    "error_rate": 0.03,
    "positive_feedback_rate": 0.90,
    "negative_feedback_rate": 0.10,
    "p95_ms": 4100.0,
    "cost_per_task": 0.0123,
}
RATE_METRICS = {
    "success_rate",
    "error_rate",
    "positive_feedback_rate",
    "negative_feedback_rate",
    "denied_rate",
}


def metric_fields(
    metric: str, base: float | None, cand: float | None, at95: bool, at999: bool
) -> dict[str, Any]:
    """A metric's comparison columns as the API gives them, with 95% intervals that put the
    change outside the noise exactly when ``at95`` and the 99.9% flag ``at999``."""
    out: dict[str, Any] = {
        f"{metric}_base": base,
        f"{metric}_cand": cand,
        f"{metric}_diff": None if base is None or cand is None else cand - base,
        f"{metric}_changed": at999,
    }
    if base is None or cand is None:
        return out
    d = cand - base
    if metric in RATE_METRICS:  # the 95% Newcombe interval of the difference
        half = abs(d) / 2 if at95 else abs(d) + 0.01
        out |= {f"{metric}_diff_lo": d - half, f"{metric}_diff_hi": d + half}
    elif metric == "cost_per_task":  # standard errors for Welch's z
        se = abs(d) / 3.92 if at95 else abs(d) or 0.001
        out |= {f"{metric}_se_base": se, f"{metric}_se_cand": se}
    else:  # a quantile's 95% intervals
        half = abs(d) / 4 if at95 else abs(d) + 1
        for side, v in (("base", base), ("cand", cand)):
            out |= {f"{metric}_lo_{side}": v - half, f"{metric}_hi_{side}": v + half}
    return out


def row(
    tasks: tuple[int, int] = (500, 500), denied: tuple[int, int] = (10, 10), **changes: Any
) -> dict[str, Any]:
    """A comparison row where nothing changed, except ``metric=(base, cand, changed)`` (outside
    the noise at both levels or neither) or ``(base, cand, at95, at999)``."""
    out: dict[str, Any] = {
        "tasks_base": tasks[0],
        "tasks_cand": tasks[1],
        "denied_base": denied[0],
        "denied_cand": denied[1],
        "denied_per_task_base": denied[0] / tasks[0] if tasks[0] else None,
        "denied_per_task_cand": denied[1] / tasks[1] if tasks[1] else None,
        "judgeable": True,
    }
    for metric, value in {**SAME, **changes}.items():
        base, cand, *flags = changes.get(metric, (value, value, False))
        at95, at999 = (flags[0], flags[0]) if len(flags) == 1 else flags
        out |= metric_fields(metric, base, cand, at95, at999)
    return out


def comparison(overall: dict[str, Any], *tenants: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "by": ["tenant"],
        "dimension": "release",
        "baseline": "2026.11.1",
        "candidate": "2026.11.2",
        "overall": overall,
        "rows": [{"tenant": name, **r} for name, r in tenants],
    }


def test_doctests() -> None:
    assert doctest.testmod(gate).failed == 0


def test_nothing_changed_ships() -> None:
    result = evaluate(comparison(row(), ("acme", row()), ("globex", row())))
    assert (result.verdict, result.exit_code, result.reasons) == ("ship", 0, [])
    assert [c.verdict for c in result.cohorts] == ["ship", "ship"]
    assert all(c.passed for c in result.overall.checks)
    assert {c.rule for c in result.overall.checks} == {
        "success_rate",
        "positive_feedback_rate",
        "negative_feedback_rate",
        "p95_ms",
        "cost_per_task",
        "error_rate",
        "denied",
    }


def test_p95_regression_in_one_tenant_blocks_with_the_numbers() -> None:
    slow = row(p95_ms=(4100.0, 6200.0, True))
    result = evaluate(comparison(row(), ("acme", row()), ("globex", slow)))
    assert (result.verdict, result.exit_code) == ("block", 1)
    assert result.overall.verdict == "ship"
    assert [c.verdict for c in result.cohorts] == ["ship", "block"]
    assert result.reasons == [
        "tenant=globex: p95 latency 4.1 s -> 6.2 s (+51%, outside the noise at 99.9%), limit +10%"
    ]


@pytest.mark.parametrize(
    ("changes", "rule", "sentence"),
    [
        (
            {"success_rate": (0.97, 0.93, True)},
            "success_rate",
            "success rate 97.0% -> 93.0% (-4.0 pp, outside the noise at 95%), limit -2.0 pp",
        ),
        (
            {"positive_feedback_rate": (0.94, 0.82, True)},
            "positive_feedback_rate",
            "positive-feedback rate 94.0% -> 82.0% (-12.0 pp, outside the noise at 95%), limit -2.0 pp",
        ),
        (
            {"negative_feedback_rate": (0.06, 0.18, True)},
            "negative_feedback_rate",
            "negative-feedback rate 6.0% -> 18.0% (+12.0 pp, outside the noise at 95%), limit +2.0 pp",
        ),
        (
            {"cost_per_task": (0.0100, 0.0122, True)},
            "cost_per_task",
            "cost per task $0.0100 -> $0.0122 (+22%, outside the noise at 95%), limit +10%",
        ),
        (
            {"error_rate": (0.010, 0.015, True)},
            "error_rate",
            "error rate 1.0% -> 1.5% (+0.5 pp, outside the noise at 95%), limit: zero tolerance",
        ),
    ],
)
def test_each_rule_blocks_the_overall_row(changes: dict[str, Any], rule: str, sentence: str) -> None:
    result = evaluate(comparison(row(**changes)))
    assert result.verdict == "block" and result.exit_code == 1
    (failed,) = [c for c in result.overall.checks if c.passed is False]
    assert failed.rule == rule
    assert result.reasons == [f"overall: {sentence}"]


@pytest.mark.parametrize(
    "changes",
    [
        {"success_rate": (0.97, 0.90, False)},  # past the limit but within the noise
        {"success_rate": (0.97, 0.955, True)},  # outside the noise but only -1.5 pp
        {"success_rate": (0.90, 0.97, True)},  # better
        {"positive_feedback_rate": (0.94, 0.80, False)},
        {"negative_feedback_rate": (0.18, 0.06, True)},  # better
        {"p95_ms": (4100.0, 4400.0, True)},  # +7%
        {"p95_ms": (4100.0, 9000.0, False)},
        {"p95_ms": (4100.0, 2000.0, True)},  # faster
        {"cost_per_task": (0.0100, 0.0109, True)},  # +9%
        {"cost_per_task": (0.0100, 0.0200, False)},
        {"error_rate": (0.01, 0.05, False)},
        {"error_rate": (0.05, 0.01, True)},  # fewer errors
        {"positive_feedback_rate": (None, 0.5, False)},  # nobody rated the baseline
    ],
)
def test_changes_within_the_noise_or_the_limits_ship(changes: dict[str, Any]) -> None:
    result = evaluate(comparison(row(**changes)))
    assert result.verdict == "ship", result.reasons
    assert result.exit_code == 0


def test_a_metric_missing_on_a_side_is_not_evaluated() -> None:
    result = evaluate(comparison(row(positive_feedback_rate=(None, 0.5, False))))
    (check,) = [c for c in result.overall.checks if c.rule == "positive_feedback_rate"]
    assert check.passed is None and "no value on a side" in check.message


def test_zero_cost_baseline_priced_candidate_blocks_when_outside_the_noise() -> None:
    result = evaluate(comparison(row(cost_per_task=(0.0, 0.01, True))))
    assert result.verdict == "block"
    assert "cost per task $0 -> $0.0100 (from zero, outside the noise at 95%)" in result.reasons[0]


def test_quality_limit_is_configurable() -> None:
    drop = row(success_rate=(0.97, 0.93, True))  # -4 pp
    assert evaluate(comparison(drop), GateConfig(max_quality_drop_pp=5)).verdict == "ship"
    assert evaluate(comparison(drop), GateConfig(max_quality_drop_pp=3)).verdict == "block"


def test_denials_where_the_baseline_had_none_block() -> None:
    result = evaluate(comparison(row(denied=(0, 1))))
    assert result.verdict == "block"
    assert result.reasons == [
        "overall: denied authorizations 0 -> 1 (0.000 -> 0.002 per task; denials where the "
        "baseline had none in 500 requests), limit: no growth outside the noise, none where the "
        "baseline had none"
    ]


def test_significant_growth_of_denials_per_task_blocks_chance_growth_does_not() -> None:
    grown = evaluate(comparison(row(denied=(10, 40))))  # p ~ 1e-5
    assert grown.verdict == "block"
    assert (
        "10 -> 40 (0.020 -> 0.080 per task, growth outside the noise at 95%: per task p = 1.2e-05), limit"
        in grown.reasons[0]
    )
    assert evaluate(comparison(row(denied=(10, 14)))).verdict == "ship"  # p ~ 0.27
    assert evaluate(comparison(row(denied=(30, 10)))).verdict == "ship"  # fewer
    # Per task: 20 denials over 1000 candidate requests is the same rate as 10 over 500.
    assert evaluate(comparison(row(tasks=(500, 1000), denied=(10, 20)))).verdict == "ship"
    # No denials on either side is fine.
    assert evaluate(comparison(row(denied=(0, 0)))).verdict == "ship"


def test_denials_per_task_overall_at_95_cohorts_at_999() -> None:
    # p ~ 0.001: outside the noise at 95% (one-sided 0.025), not at 99.9% (0.0005).
    assert poisson_growth_p_value(10, 500, 30, 500) == pytest.approx(0.0011, abs=1e-4)
    assert evaluate(comparison(row(denied=(10, 30)))).verdict == "block"
    result = evaluate(comparison(row(), ("acme", row(denied=(10, 30)))))
    assert result.verdict == "ship"
    (check,) = [c for c in result.cohorts[0].checks if c.rule == "denied"]
    assert check.passed and "within the noise at 99.9%" in check.message


def test_growth_of_denials_per_tool_call_blocks() -> None:
    r = row(denied=(20, 20)) | metric_fields("denied_rate", 0.05, 0.12, True, True)
    result = evaluate(comparison(r))
    assert result.verdict == "block"
    assert result.reasons[0].startswith(
        "overall: denied authorizations 20 -> 20 (0.040 -> 0.040 per task, 5.0% -> 12.0% of tool calls, "
        "growth outside the noise at 95%: per tool call), limit"
    )
    within = row(denied=(20, 20)) | metric_fields("denied_rate", 0.05, 0.12, False, False)
    assert evaluate(comparison(within)).verdict == "ship"
    fewer = row(denied=(20, 20)) | metric_fields("denied_rate", 0.12, 0.05, True, True)
    assert evaluate(comparison(fewer)).verdict == "ship"


def test_confidence_levels_match_the_comparison() -> None:
    from spyglass.analytics.cohorts import Z95, Z_FLAG

    assert gate.LEVELS == {0.95: Z95, 0.999: Z_FLAG}


def test_overall_judged_at_95_cohorts_at_999() -> None:
    # The planted prompt problem at 600 demo requests: outside the noise at 95%, not at 99.9%.
    v4 = {"positive_feedback_rate": (0.94, 0.82, True, False)}
    assert evaluate(comparison(row(**v4))).verdict == "block"
    result = evaluate(comparison(row(), ("acme", row(**v4))))
    assert result.verdict == "ship"
    (check,) = [c for c in result.cohorts[0].checks if c.rule == "positive_feedback_rate"]
    assert check.message == (
        "positive-feedback rate 94.0% -> 82.0% (-12.0 pp, within the noise at 99.9%), limit -2.0 pp"
    )
    # Both configurable.
    strict = GateConfig(overall_confidence=0.999, cohort_confidence=0.95)
    assert evaluate(comparison(row(**v4)), strict).verdict == "ship"
    assert evaluate(comparison(row(), ("acme", row(**v4))), strict).verdict == "block"


@pytest.mark.parametrize(
    "changes",
    [
        {"p95_ms": (4100.0, 6200.0, True, False)},
        {"cost_per_task": (0.010, 0.020, True, False)},
        {"error_rate": (0.01, 0.03, True, False)},
    ],
)
def test_each_kind_of_interval_at_95(changes: dict[str, Any]) -> None:
    """Quantiles (non-overlapping intervals), means (Welch) and rates (Newcombe) at 95%."""
    assert evaluate(comparison(row(**changes))).verdict == "block"
    assert evaluate(comparison(row(), ("acme", row(**changes)))).verdict == "ship"
    (metric,) = changes
    base, cand, _, _ = changes[metric]
    assert evaluate(comparison(row(**{metric: (base, cand, False, False)}))).verdict == "ship"


def test_poisson_growth_p_value_is_the_exact_binomial_tail() -> None:
    for db, tb, dc, tc in [(10, 500, 30, 500), (3, 200, 9, 800), (0, 100, 6, 100), (50, 1000, 70, 1200)]:
        n, p = db + dc, tc / (tb + tc)
        exact = sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(dc, n + 1))
        assert poisson_growth_p_value(db, tb, dc, tc) == pytest.approx(exact, rel=1e-9)
    assert poisson_growth_p_value(5, 100, 0, 100) == 1.0


def test_overall_below_min_tasks_is_not_enough_data() -> None:
    result = evaluate(comparison(row(tasks=(500, 99), success_rate=(0.97, 0.5, True))))
    assert (result.verdict, result.exit_code) == ("not_enough_data", 3)
    assert result.reasons == [
        "overall: not enough data: 500 baseline and 99 candidate requests, the gate needs 100 on each side"
    ]
    assert evaluate(comparison(row(tasks=(99, 99))), GateConfig(min_tasks=50)).verdict == "ship"


def test_small_cohorts_are_reported_but_never_block() -> None:
    tiny_and_bad = row(tasks=(40, 12), p95_ms=(4100.0, 20000.0, True), error_rate=(0.0, 0.5, True))
    result = evaluate(comparison(row(), ("acme", row()), ("initech", tiny_and_bad)))
    assert result.verdict == "ship" and result.exit_code == 0
    small = result.cohorts[1]
    assert small.verdict == "not_enough_data"
    assert small.reasons == [
        "tenant=initech: not enough data: 40 baseline and 12 candidate requests, "
        "the gate needs 100 on each side"
    ]
    # A cohort present on one side only has no count on the other.
    one_sided = {"tenant": "newco", "tasks_base": None, "tasks_cand": 300}
    result = evaluate({"by": ["tenant"], "overall": row(), "rows": [one_sided]})
    assert result.cohorts[0].verdict == "not_enough_data" and result.verdict == "ship"


def test_judged_cohort_blocks_even_when_overall_ships() -> None:
    result = evaluate(comparison(row(), ("umbrella", row(error_rate=(0.01, 0.06, True)))))
    assert result.overall.verdict == "ship" and result.verdict == "block"
    assert result.reasons[0].startswith("tenant=umbrella: error rate 1.0% -> 6.0% (+5.0 pp")


def test_result_as_dict_for_json_output() -> None:
    result = evaluate(comparison(row(), ("globex", row(p95_ms=(4100.0, 6200.0, True)))))
    data = result.to_dict()
    assert data["verdict"] == "block" and data["exit_code"] == 1
    assert data["dimension"] == "release" and data["candidate"] == "2026.11.2"
    assert data["config"]["min_tasks"] == 100
    assert data["cohorts"][0]["cohort"] == {"tenant": "globex"}
    assert data["cohorts"][0]["reasons"] == result.reasons


def test_multi_dimension_labels_and_missing_values() -> None:
    r = {"tenant": "acme", "intent": None, **row(success_rate=(0.97, 0.80, True))}
    result = evaluate({"by": ["tenant", "intent"], "overall": row(), "rows": [r]})
    assert result.reasons[0].startswith("tenant=acme, intent=(none): success rate")


# --- configuration ---------------------------------------------------------------------------


def test_defaults() -> None:
    config = GateConfig.load(None)
    assert config == GateConfig(
        min_tasks=100,
        max_quality_drop_pp=2.0,
        max_p95_increase_pct=10.0,
        max_cost_increase_pct=10.0,
        overall_confidence=0.95,
        cohort_confidence=0.999,
    )


def test_load_top_level_and_gate_table(tmp_path: Path) -> None:
    flat = tmp_path / "flat.toml"
    flat.write_text("min_tasks = 200\nmax_p95_increase_pct = 15\n")
    assert GateConfig.load(flat) == GateConfig(min_tasks=200, max_p95_increase_pct=15.0)
    table = tmp_path / "table.toml"
    table.write_text(
        "[gate]\nmax_cost_increase_pct = 5.5\nmax_quality_drop_pp = 1\noverall_confidence = 0.999\n"
    )
    assert GateConfig.load(str(table)) == GateConfig(
        max_cost_increase_pct=5.5, max_quality_drop_pp=1.0, overall_confidence=0.999
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("min_taks = 10\n", "unknown key 'min_taks'; known keys: min_tasks, max_quality_drop_pp"),
        ('max_p95_increase_pct = "10"\n', "key 'max_p95_increase_pct' must be a number, got '10' (write it"),
        ("min_tasks = 10.5\n", "key 'min_tasks' must be a whole number, got 10.5"),
        ("min_tasks = true\n", "key 'min_tasks' must be a whole number, got True"),
        ("min_tasks = 0\n", "key 'min_tasks' must be at least 1, got 0"),
        ("max_cost_increase_pct = -1\n", "key 'max_cost_increase_pct' must be a finite number >= 0, got -1"),
        ("max_cost_increase_pct = inf\n", "key 'max_cost_increase_pct' must be a finite number >= 0"),
        ("min_tasks = \n", "not valid TOML"),
        ("gate = 3\n", "'gate' must be a table ([gate])"),
        ("min_tasks = 5\n[gate]\nmax_p95_increase_pct = 1\n", "key 'min_tasks' is outside the [gate] table"),
        ("[gate]\nmin_tasks = 'many'\n", "key 'min_tasks' must be a whole number, got 'many'"),
        ("cohort_confidence = 0.99\n", "key 'cohort_confidence' must be 0.95 or 0.999"),
    ],
)
def test_bad_configuration_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "gate.toml"
    path.write_text(text)
    with pytest.raises(GateConfigError) as info:
        GateConfig.load(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_missing_configuration_file(tmp_path: Path) -> None:
    with pytest.raises(GateConfigError, match="gate configuration not found; check the --config path"):
        GateConfig.load(tmp_path / "nope.toml")


# --- the command's text output ---------------------------------------------------------------


def test_text_output_colors_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from spyglass.cli._review import _use_color, render_gate

    result = evaluate(comparison(row(), ("globex", row(p95_ms=(4100.0, 6200.0, True)))))
    plain = render_gate(result, {"since": "2026-11-09T00:00:00.000000000Z", "until": "2026-11-16T00:00:00Z"})
    assert "\x1b[" not in plain
    assert plain.splitlines()[:2] == [
        "spyglass gate: release 2026.11.1 (baseline) -> 2026.11.2 (candidate), "
        "2026-11-09T00:00:00Z to 2026-11-16T00:00:00Z",
        "verdict: BLOCK (exit 1)",
    ]
    assert "tenant=globex  500/500             block    fails: p95 latency (below)" in plain
    assert (
        "  - tenant=globex: p95 latency 4.1 s -> 6.2 s (+51%, outside the noise at 99.9%), limit +10%"
        in plain
    )
    colored = render_gate(result, {}, color=True)
    assert "verdict: \x1b[1;31mBLOCK\x1b[0m (exit 1)" in colored

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert _use_color(Tty()) and not _use_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not _use_color(Tty())
