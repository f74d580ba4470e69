"""The review's statistics against published or hand-computed values."""

from __future__ import annotations

import polars as pl
import pytest

from spyglass.analytics.cohorts import Z95, compare, scorecard, wilson


def interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    lo, hi = wilson(pl.col("k").cast(pl.Float64), pl.col("n").cast(pl.Float64), z)
    return pl.DataFrame({"k": [k], "n": [n]}).select(lo.alias("lo"), hi.alias("hi")).row(0)


@pytest.mark.parametrize(
    ("k", "n", "expected"),
    [
        # Newcombe (1998), Table I, method 3 (Wilson score, no continuity correction)
        (81, 263, (0.2553, 0.3662)),
        (15, 148, (0.0624, 0.1605)),
        (0, 20, (0.0, 0.1611)),
        (1, 29, (0.0061, 0.1718)),
        # by hand: 18/20 -> centre 0.83555, half-width 0.13659
        (18, 20, (0.6990, 0.9721)),
    ],
)
def test_wilson_interval(k: int, n: int, expected: tuple[float, float]) -> None:
    lo, hi = interval(k, n)
    assert (round(lo, 4), round(hi, 4)) == expected


def test_wilson_is_null_without_observations() -> None:
    assert interval(0, 0) == (None, None)


COUNTS = [
    *("tasks", "successes", "errors", "timeouts", "fallbacks", "escalations", "negative", "positive"),
    *("rated", "tool_calls", "tool_failures", "denied", "retrievals", "empty_retrievals", "tokens"),
    *("tokens_sq", "cost", "cost_sq", "unpriced_calls"),
]


def raw(**counts: list[float]) -> pl.DataFrame:
    """A cohort_breakdown-shaped frame: zero counts unless given."""
    base = {c: [0] * len(next(iter(counts.values()))) for c in COUNTS}
    for q in ("p50_ms", "p95_ms", "p99_ms"):
        for suffix in ("", "_lo", "_hi", "_flo", "_fhi"):
            base[q + suffix] = [0.0] * len(base["tasks"])
    base.update(counts)
    return pl.DataFrame(base)


def test_scorecard_rates_means_and_judgeable() -> None:
    # 4 tasks costing 1, 2, 3, 6 dollars: mean 3, sample variance 14/3, SE sqrt(14/12)
    card = scorecard(
        raw(
            tasks=[4, 40],
            successes=[3, 40],
            rated=[2, 0],
            negative=[1, 0],
            tool_calls=[5, 0],
            denied=[2, 0],
            cost=[12.0, 0.0],
            cost_sq=[50.0, 0.0],
        ),
        min_tasks=30,
    )
    first, second = card.to_dicts()
    assert first["success_rate"] == 0.75 and first["negative_feedback_rate"] == 0.5
    assert first["denied_rate"] == 0.4 and first["denied_per_task"] == 0.5
    assert first["positive_feedback_rate"] == 0.0 and second["negative_feedback_rate"] is None
    assert first["cost_per_task"] == 3.0
    assert first["cost_per_task_se"] == pytest.approx((14 / 3 / 4) ** 0.5)
    assert first["cost_per_task_lo"] == pytest.approx(3 - Z95 * (14 / 12) ** 0.5)
    assert (first["judgeable"], second["judgeable"]) == (False, True)


def test_newcombe_difference_interval_matches_the_published_example() -> None:
    # Newcombe (1998), Table II, example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339
    base = scorecard(raw(tasks=[80], rated=[80], positive=[48]))
    cand = scorecard(raw(tasks=[70], rated=[70], positive=[56]))
    row = compare(base, cand, on=[], min_tasks=30).row(0, named=True)
    assert row["positive_feedback_rate_diff"] == pytest.approx(0.2)
    assert round(row["positive_feedback_rate_diff_lo"], 4) == 0.0524
    assert round(row["positive_feedback_rate_diff_hi"], 4) == 0.3339
    # outside the noise at 95% but not at 99.9%: not flagged
    assert row["positive_feedback_rate_changed"] is False


def test_changes_are_flagged_only_outside_the_noise_and_with_their_direction() -> None:
    base = scorecard(
        raw(tenant=["a", "b", "tiny"], tasks=[1000, 1000, 10], errors=[10, 10, 0], successes=[990, 990, 10])
    )
    cand = scorecard(
        raw(tenant=["a", "b", "tiny"], tasks=[1000, 1000, 10], errors=[60, 14, 5], successes=[940, 986, 5])
    )
    rows = {r["tenant"]: r for r in compare(base, cand, on=["tenant"], min_tasks=30).to_dicts()}
    assert rows["a"]["error_rate_changed"] and rows["a"]["error_rate_worse"]
    assert rows["a"]["success_rate_changed"] and rows["a"]["success_rate_worse"]
    assert not rows["b"]["error_rate_changed"] and rows["b"]["error_rate_worse"]  # 1% -> 1.4%: noise
    assert not rows["tiny"]["judgeable"] and not rows["tiny"]["error_rate_changed"]  # too small to judge


def test_quantile_and_mean_changes() -> None:
    def side(p99: tuple[float, float, float], cost: float) -> pl.DataFrame:
        return scorecard(
            raw(
                tasks=[100],
                p99_ms=[p99[1]],
                p99_ms_flo=[p99[0]],
                p99_ms_fhi=[p99[2]],
                cost=[cost * 100],
                cost_sq=[cost * cost * 100 + 99.0],  # sample variance 1: SE 0.1
            )
        )

    row = compare(side((900, 1000, 1100), 5.0), side((1200, 1500, 1900), 5.2), on=[]).row(0, named=True)
    assert row["p99_ms_changed"] and row["p99_ms_worse"] and row["p99_ms_diff"] == 500
    assert not row["cost_per_task_changed"]  # 0.2 / sqrt(0.02) = 1.4 < 3.29
    row = compare(side((900, 1000, 1100), 5.0), side((1050, 1100, 1200), 6.0), on=[]).row(0, named=True)
    assert not row["p99_ms_changed"]  # MOVER: 100 - sqrt(50^2 + 100^2) < 0
    assert row["cost_per_task_changed"] and row["cost_per_task_worse"]  # 1.0 / 0.141 = 7.1


def test_cohorts_on_one_side_only_are_kept_and_not_judged() -> None:
    base = scorecard(raw(tenant=["a"], tasks=[100], successes=[100]))
    cand = scorecard(raw(tenant=["b"], tasks=[100], successes=[50]))
    rows = compare(base, cand, on=["tenant"]).sort("tenant").to_dicts()
    assert [r["tenant"] for r in rows] == ["a", "b"]
    assert rows[0]["tasks_cand"] is None and not rows[0]["judgeable"]
    assert not any(r["success_rate_changed"] for r in rows)


def test_docstring_examples_run() -> None:
    import doctest

    from spyglass.analytics import cohorts

    result = doctest.testmod(cohorts)
    assert result.attempted > 0 and result.failed == 0


def test_quantile_difference_uses_mover_not_interval_overlap() -> None:
    def side(p95: tuple[float | None, float, float | None]) -> pl.DataFrame:
        return scorecard(raw(tasks=[500], p95_ms=[p95[1]], p95_ms_flo=[p95[0]], p95_ms_fhi=[p95[2]]))

    # the intervals overlap (1080 < 1100) but the difference's interval excludes 0:
    # 250 - sqrt((1250 - 1080)^2 + (1100 - 1000)^2) = 52.8 > 0
    row = compare(side((900, 1000, 1100)), side((1080, 1250, 1400)), on=[]).row(0, named=True)
    assert row["p95_ms_changed"] and row["p95_ms_worse"]
    # a bound the sample cannot give (too few requests for that quantile) never flags
    row = compare(side((900, 1000, None)), side((5000, 6000, 7000)), on=[]).row(0, named=True)
    assert not row["p95_ms_changed"]
