"""Cohort scorecards and comparisons: pure functions over the counts ClickHouse aggregates
(``collector.store.cohort_sql.cohort_breakdown``), shared by the API, the UI, the gate and
the report.

Statistics, named so a reviewer can check them:

- **Rates** carry a 95% **Wilson score interval** (good at small n and near 0 or 1).
- **Latency quantiles** (p50/p95/p99 of a request's duration, linear interpolation between
  order statistics) carry a 95% **distribution-free interval**: the order statistics at
  ranks n*q -/+ 1.96*sqrt(n*q*(1-q)).
- **Means** (cost and tokens per task) carry a normal-approximation interval, mean -/+ 1.96*SE.
- **A change between two windows or two releases** is flagged only when it is outside the
  noise at **99.9% confidence** (z = 3.29): for rates, when the **Newcombe hybrid score
  interval** of the difference (built from the two Wilson intervals) excludes 0; for
  quantiles, when the **MOVER interval** of the difference (Zou & Donner 2008, the same
  construction from the two distribution-free intervals) excludes 0; for means, when
  **Welch's z** exceeds 3.29. A review table holds about a hundred comparisons (cohorts x
  metrics); at 95% each, about five would be flagged by chance alone, at 99.9% about 0.1.
  The differences are still shown with their 95% intervals.
- A cohort with fewer than ``min_tasks`` requests (default 30) is marked ``judgeable =
  False`` and never ranked or flagged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl

from .cost import PriceTable, price_spans

Z95 = 1.959963984540054
Z_FLAG = 3.290526731491926  # two-sided 99.9%
MIN_TASKS = 30

RATES: dict[str, tuple[str, str]] = {
    "success_rate": ("successes", "tasks"),
    "error_rate": ("errors", "tasks"),
    "timeout_rate": ("timeouts", "tasks"),
    "fallback_rate": ("fallbacks", "tasks"),
    "escalation_rate": ("escalations", "tasks"),
    "negative_feedback_rate": ("negative", "rated"),
    "positive_feedback_rate": ("positive", "rated"),
    "tool_failure_rate": ("tool_failures", "tool_calls"),
    "denied_rate": ("denied", "tool_calls"),
    "empty_retrieval_rate": ("empty_retrievals", "retrievals"),
}
"""Rate -> (numerator, denominator) columns. Feedback rates are over requests that got a
thumbs; tool-failure and denied-authorization rates over tool calls, empty results over
retrievals."""

HIGHER_IS_WORSE = {
    "error_rate",
    "timeout_rate",
    "fallback_rate",
    "escalation_rate",
    "negative_feedback_rate",
    "tool_failure_rate",
    "denied_rate",
    "empty_retrieval_rate",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "cost_per_task",
    "tokens_per_task",
    "denied_per_task",
}
QUANTILES = ("p50_ms", "p95_ms", "p99_ms")
MEANS: dict[str, tuple[str, str]] = {
    "cost_per_task": ("cost", "cost_sq"),
    "tokens_per_task": ("tokens", "tokens_sq"),
}


def wilson(successes: pl.Expr, n: pl.Expr, z: float = Z95) -> tuple[pl.Expr, pl.Expr]:
    """95% Wilson score interval of successes/n as (low, high) expressions (null when n = 0).

    >>> df = pl.DataFrame({"k": [8], "n": [10]})
    >>> lo, hi = wilson(pl.col("k"), pl.col("n"))
    >>> [round(v, 4) for v in df.select(lo.alias("lo"), hi.alias("hi")).row(0)]
    [0.4902, 0.9433]
    """
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)).sqrt() / denom
    valid = n > 0
    return (
        pl.when(valid).then((centre - half).clip(0.0, 1.0)),
        pl.when(valid).then((centre + half).clip(0.0, 1.0)),
    )


def scorecard(raw: pl.DataFrame, min_tasks: int = MIN_TASKS) -> pl.DataFrame:
    """The counts of ``cohort_breakdown`` -> the scorecard: each rate with ``_lo``/``_hi``
    (Wilson), quantiles with their intervals, cost and tokens per task with intervals,
    ``denied`` as a count and per task, and ``judgeable`` (at least ``min_tasks`` requests).

    Example::

        card = scorecard(pl.from_arrow(store.query(cohort_breakdown(["tenant"]), params)))
        card.filter(pl.col("judgeable")).sort("p99_ms", descending=True)
    """
    exprs: list[pl.Expr] = []
    for rate, (num, den) in RATES.items():
        n = pl.col(den).cast(pl.Float64)
        k = pl.col(num).cast(pl.Float64)
        lo, hi = wilson(k, n)
        exprs += [pl.when(n > 0).then(k / n).alias(rate), lo.alias(f"{rate}_lo"), hi.alias(f"{rate}_hi")]
    tasks = pl.col("tasks").cast(pl.Float64)
    for mean, (total, squares) in MEANS.items():
        m = pl.col(total).cast(pl.Float64) / tasks
        var = ((pl.col(squares).cast(pl.Float64) - tasks * m * m) / (tasks - 1)).clip(lower_bound=0.0)
        se = pl.when(tasks > 1).then((var / tasks).sqrt())
        exprs += [m.alias(mean), (m - Z95 * se).alias(f"{mean}_lo"), (m + Z95 * se).alias(f"{mean}_hi")]
        exprs.append(se.alias(f"{mean}_se"))
    exprs += [
        (pl.col("denied").cast(pl.Float64) / tasks).alias("denied_per_task"),
        (pl.col("tasks") >= min_tasks).alias("judgeable"),
    ]
    return raw.with_columns(exprs)


def _newcombe(base: str, cand: str, z: float) -> tuple[pl.Expr, pl.Expr]:
    """Newcombe hybrid score interval of cand/n - base/n at ``z``, from the counts
    (numerator and denominator column names of each side)."""
    (k1, n1), (k2, n2) = (base.split("/")), (cand.split("/"))
    a_n, b_n = pl.col(n1).cast(pl.Float64), pl.col(n2).cast(pl.Float64)
    a = pl.col(k1).cast(pl.Float64) / a_n
    b = pl.col(k2).cast(pl.Float64) / b_n
    a_lo, a_hi = wilson(pl.col(k1).cast(pl.Float64), a_n, z)
    b_lo, b_hi = wilson(pl.col(k2).cast(pl.Float64), b_n, z)
    d = b - a
    return d - ((b - b_lo) ** 2 + (a_hi - a) ** 2).sqrt(), d + ((b_hi - b) ** 2 + (a - a_lo) ** 2).sqrt()


def _mover(metric: str, lo: str, hi: str) -> tuple[pl.Expr, pl.Expr]:
    """MOVER interval (Zou & Donner 2008) of cand - base from each side's own interval
    (``<metric>_<lo>``/``_<hi>``): null when a bound the side needs is unknown."""
    a, a_lo, a_hi = (pl.col(f"{metric}{s}_base") for s in ("", f"_{lo}", f"_{hi}"))
    b, b_lo, b_hi = (pl.col(f"{metric}{s}_cand") for s in ("", f"_{lo}", f"_{hi}"))
    d = b - a
    return d - ((b - b_lo) ** 2 + (a_hi - a) ** 2).sqrt(), d + ((b_hi - b) ** 2 + (a - a_lo) ** 2).sqrt()


def compare(
    baseline: pl.DataFrame,
    candidate: pl.DataFrame,
    on: list[str],
    min_tasks: int = MIN_TASKS,
    z_flag: float = Z_FLAG,
) -> pl.DataFrame:
    """Two scorecards (same ``on`` cohort columns) side by side: every metric as
    ``<metric>_base`` and ``<metric>_cand`` with their 95% intervals, the difference
    ``<metric>_diff`` (candidate - baseline; for rates and quantiles with its 95% interval
    ``_diff_lo``/``_diff_hi``, Newcombe and MOVER), and ``<metric>_changed`` when the
    difference is outside the noise at ``z_flag`` (module docstring). ``<metric>_worse``
    says the change goes the bad way. Cohorts present on one side only get nulls on the
    other; ``judgeable`` needs both sides to have ``min_tasks`` requests.

    Example::

        wow = compare(scorecard(last_week), scorecard(this_week), on=["tenant"])
        wow.filter(pl.col("p99_ms_changed") & pl.col("p99_ms_worse"))
    """
    metrics = [*RATES, *QUANTILES, *MEANS, "denied_per_task"]
    keep = {"tasks", "denied"}
    for m in metrics:
        keep.add(m)
        if m in RATES or m in MEANS or m in QUANTILES:
            keep |= {f"{m}_lo", f"{m}_hi"}
        if m in QUANTILES:
            keep |= {f"{m}_flo", f"{m}_fhi"}
        if m in MEANS:
            keep.add(f"{m}_se")
        if m in RATES:
            keep |= set(RATES[m])
    cols = [c for c in baseline.columns if c in keep]
    base = baseline.select(*on, *[pl.col(c).alias(f"{c}_base") for c in cols])
    cand = candidate.select(*on, *[pl.col(c).alias(f"{c}_cand") for c in cols])
    if on:
        joined = base.join(cand, on=on, how="full", coalesce=True)
    else:
        joined = pl.concat([base, cand], how="horizontal")
    judgeable = (pl.col("tasks_base").fill_null(0) >= min_tasks) & (
        pl.col("tasks_cand").fill_null(0) >= min_tasks
    )
    out: list[pl.Expr] = [judgeable.alias("judgeable")]
    for m in metrics:
        diff = pl.col(f"{m}_cand") - pl.col(f"{m}_base")
        out.append(diff.alias(f"{m}_diff"))
        if m in RATES:
            num, den = RATES[m]
            sides = (f"{num}_base/{den}_base", f"{num}_cand/{den}_cand")
            lo95, hi95 = _newcombe(*sides, Z95)
            lo, hi = _newcombe(*sides, z_flag)
            changed = (lo > 0) | (hi < 0)
            out += [lo95.alias(f"{m}_diff_lo"), hi95.alias(f"{m}_diff_hi")]
        elif m in QUANTILES:
            lo95, hi95 = _mover(m, "lo", "hi")
            lo, hi = _mover(m, "flo", "fhi")
            changed = (lo > 0) | (hi < 0)
            out += [lo95.alias(f"{m}_diff_lo"), hi95.alias(f"{m}_diff_hi")]
        elif m in MEANS:
            se = (pl.col(f"{m}_se_base") ** 2 + pl.col(f"{m}_se_cand") ** 2).sqrt()
            changed = (diff.abs() / se) > z_flag
        else:
            changed = pl.lit(None, dtype=pl.Boolean)
        worse = diff > 0 if m in HIGHER_IS_WORSE else diff < 0
        out += [
            (changed.fill_null(False) & judgeable).alias(f"{m}_changed"),
            worse.fill_null(False).alias(f"{m}_worse"),
        ]
    return joined.with_columns(out)


_FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)


def price_params(combos: pl.DataFrame, prices: PriceTable) -> dict[str, Any]:
    """Query parameters that let ClickHouse price each span exactly as ``cost.price_spans``
    would: the (request_model, response_model, provider) combinations in ``combos`` (found by
    ``combo_hash``, as ``PRICE_COMBOS`` returns it), and one
    flat list of price entries: for each combination in turn its matched model's entries
    (``price_entry_combo`` = the combination's 1-based index, effective instants in ns
    ascending, the three prices). A combination with no matching model has no entries.

    Example::

        params = price_params(pl.from_arrow(store.query(PRICE_COMBOS, window)), prices)
    """
    combos = combos.select("request_model", "response_model", "provider", "combo_hash").unique(
        maintain_order=True
    )
    probe = combos.with_columns(
        kind=pl.lit("llm"),
        input_tokens=pl.lit(1),
        output_tokens=pl.lit(1),
        cached_input_tokens=pl.lit(None, dtype=pl.Int64),
        start_time=pl.lit(_FAR_FUTURE).dt.cast_time_unit("ns"),
    )
    matched = price_spans(probe, prices)["price_model"].to_list()
    table = prices.frame()
    keys: list[int] = []
    entry_combo: list[int] = []
    effective: list[int] = []
    price_in: list[float] = []
    price_out: list[float] = []
    price_cached: list[float] = []
    for row, model in zip(combos.iter_rows(named=True), matched, strict=True):
        keys.append(row["combo_hash"])
        entries = table.filter(pl.col("model") == model) if model else table.clear()
        provider = (row["provider"] or "").strip().lower()
        specific = entries.filter(pl.col("provider") == provider) if provider else entries.clear()
        entries = (specific if specific.height else entries.filter(pl.col("provider").is_null())).sort(
            "effective"
        )
        entry_combo += [len(keys)] * entries.height
        effective += entries["effective"].cast(pl.Int64).to_list()
        price_in += entries["input_per_mtok"].to_list()
        price_out += entries["output_per_mtok"].to_list()
        price_cached += entries["cached_input_per_mtok"].fill_null(entries["input_per_mtok"]).to_list()
    return {
        "price_combos": keys,
        "price_entry_combo": entry_combo,
        "price_effective": effective,
        "price_in": price_in,
        "price_out": price_out,
        "price_cached": price_cached,
    }
