"""How the cohort review's API rows read on screen: metric names, values with their
intervals, cohort labels, ranking, week-over-week and baseline/candidate flags. Pure functions
over the JSON rows of ``/api/analytics/...`` (docs/api-contract-issue4.md), no Streamlit:
every number here was computed by the API, the UI only lays it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from spyglass.ui._format import duration, iso, usd

DIMENSIONS = ("tenant", "workflow", "intent", "release", "prompt", "model", "corpus")
"""What a cohort can be grouped and filtered by (the API also groups by ``day``)."""
COMPARABLE = ("release", "prompt", "model")
"""What the releases page compares, baseline against candidate."""
NONE = "(none)"
DASH = "\N{EN DASH}"  # between an interval's bounds


@dataclass(frozen=True)
class Metric:
    """One metric of the scorecard: its API name, how it reads, how it is shown."""

    name: str
    label: str
    kind: str  # "rate", "ms", "usd", "count"
    interval: bool = True


METRICS = {
    m.name: m
    for m in (
        Metric("success_rate", "success", "rate"),
        Metric("error_rate", "errors", "rate"),
        Metric("timeout_rate", "timeouts", "rate"),
        Metric("fallback_rate", "fallbacks", "rate"),
        Metric("escalation_rate", "escalations", "rate"),
        Metric("negative_feedback_rate", "negative feedback", "rate"),
        Metric("positive_feedback_rate", "positive feedback", "rate"),
        Metric("tool_failure_rate", "tool failures", "rate"),
        Metric("empty_retrieval_rate", "empty retrievals", "rate"),
        Metric("p50_ms", "p50", "ms"),
        Metric("p95_ms", "p95", "ms"),
        Metric("p99_ms", "p99", "ms"),
        Metric("cost_per_task", "cost per task", "usd"),
        Metric("tokens_per_task", "tokens per task", "count"),
        Metric("denied_per_task", "denied tool calls per task", "count", interval=False),
        Metric("denied_rate", "denied tool calls", "rate"),
    )
}
RATES = [m for m in METRICS.values() if m.kind == "rate"]
HIGHER_IS_BETTER = {"success_rate", "positive_feedback_rate"}


def value(metric: Metric, v: float | None) -> str:
    """One number as the metric reads: ``97.1%``, ``812 ms``, ``$0.0123``, ``1,204``."""
    if v is None:
        return "-"
    if metric.kind == "rate":
        return f"{v * 100:.1f}%"
    if metric.kind == "ms":
        return duration(v)
    if metric.kind == "usd":
        return usd(v)
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def with_interval(metric: Metric, v: float | None, lo: float | None, hi: float | None) -> str:
    """A value and its 95% interval: ``97.1% (95.2-98.3)``, ``812 ms (640 ms-990 ms)`` (with
    an en dash between the bounds)."""
    if v is None:
        return "-"
    if not metric.interval or lo is None or hi is None:
        return value(metric, v)
    if metric.kind == "rate":
        return f"{v * 100:.1f}% ({lo * 100:.1f}{DASH}{hi * 100:.1f})"
    return f"{value(metric, v)} ({value(metric, lo)}{DASH}{value(metric, hi)})"


def difference(metric: Metric, diff: float | None, lo: float | None = None, hi: float | None = None) -> str:
    """A candidate-minus-baseline difference: rates in points (``+12.0 pts (+1.5-+22.4)``)."""
    if diff is None:
        return "-"
    if metric.kind == "rate":
        text = f"{diff * 100:+.1f} pts"
        if lo is not None and hi is not None:
            text += f" ({lo * 100:+.1f}{DASH}{hi * 100:+.1f})"
        return text
    sign = "+" if diff >= 0 else "-"
    return sign + value(metric, abs(diff))


def cell(row: dict[str, Any], name: str) -> str:
    """A scorecard row's metric with its interval (``<name>_lo``/``<name>_hi``)."""
    return with_interval(METRICS[name], row.get(name), row.get(f"{name}_lo"), row.get(f"{name}_hi"))


def label(row: dict[str, Any], by: list[str]) -> str:
    """The cohort's name: ``tenant=acme · prompt=answer@v4``; ``everything`` when ungrouped."""
    if not by:
        return "everything"
    return " · ".join(f"{d}={row.get(d) or NONE}" for d in by)


def key(row: dict[str, Any], by: list[str]) -> tuple[str, ...]:
    return tuple(str(row.get(d) or "") for d in by)


def ranked(rows: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Judgeable cohorts first, worst first by ``metric`` (cohorts without a value last);
    then the ones too small to judge, largest first and never ranked among the others."""
    sign = 1 if metric in HIGHER_IS_BETTER else -1

    def order(row: dict[str, Any]) -> tuple[bool, bool, float]:
        v = row.get(metric)
        if not row.get("judgeable"):
            return True, False, -float(row.get("tasks") or 0)
        return False, v is None, sign * (v or 0.0)

    return sorted(rows, key=order)


SCORECARD_COLUMNS = [
    "success_rate",
    "error_rate",
    "timeout_rate",
    "fallback_rate",
    "escalation_rate",
    "negative_feedback_rate",
    "tool_failure_rate",
    "empty_retrieval_rate",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "cost_per_task",
    "tokens_per_task",
]


def changes(wow: dict[str, Any] | None) -> dict[str, str]:
    """A comparison row -> ``{metric: "worse" | "better"}`` for the metrics flagged as changed
    (``M_changed``; ``M_worse`` says which way)."""
    if not wow:
        return {}
    return {
        name: "worse" if wow.get(f"{name}_worse") else "better"
        for name in METRICS
        if wow.get(f"{name}_changed")
    }


def scorecard(
    rows: list[dict[str, Any]], by: list[str], wow: dict[tuple[str, ...], dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Scorecard rows (already ranked) -> table rows and, per row, the flag of each column
    (``"worse"``/``"better"``) against the previous window (``wow`` by cohort key)."""
    table, flags = [], []
    for row in rows:
        previous = wow.get(key(row, by))
        flagged = changes(previous)
        out: dict[str, Any] = {d: row.get(d) or NONE for d in by}
        out["requests"] = row.get("tasks") or 0
        out["status"] = "" if row.get("judgeable") else "too small to judge"
        out["vs previous window"] = ", ".join(
            f"{METRICS[n].label} {'▲' if ((previous or {}).get(f'{n}_diff') or 0) > 0 else '▼'} {f}"
            for n, f in flagged.items()
        )
        cols: dict[str, str] = {}
        if flagged:
            cols["vs previous window"] = "worse" if "worse" in flagged.values() else "better"
        for name in SCORECARD_COLUMNS:
            column = METRICS[name].label
            out[column] = cell(row, name)
            if name in flagged:
                cols[column] = flagged[name]
        out["unpriced calls"] = row.get("unpriced_calls") or 0
        table.append(out)
        flags.append(cols)
    return table, flags


def comparison(row: dict[str, Any]) -> list[dict[str, Any]]:
    """One comparison row (baseline vs candidate) -> one table row per metric."""
    out = []
    for name, metric in METRICS.items():
        base, cand = row.get(f"{name}_base"), row.get(f"{name}_cand")
        if base is None and cand is None:
            continue
        if row.get(f"{name}_changed"):
            verdict = "worse" if row.get(f"{name}_worse") else "better"
        elif not row.get("judgeable"):
            verdict = "too small to judge"
        else:
            verdict = "no clear change"
        out.append(
            {
                "metric": metric.label,
                "baseline": with_interval(metric, base, *_bounds(row, name, "base")),
                "candidate": with_interval(metric, cand, *_bounds(row, name, "cand")),
                "difference": difference(
                    metric, row.get(f"{name}_diff"), row.get(f"{name}_diff_lo"), row.get(f"{name}_diff_hi")
                ),
                "change": verdict,
            }
        )
    return out


def _bounds(row: dict[str, Any], name: str, side: str) -> tuple[float | None, float | None]:
    # The API names them <metric>_lo_base; the contract's draft said <metric>_base_lo.
    lo = row.get(f"{name}_lo_{side}", row.get(f"{name}_{side}_lo"))
    hi = row.get(f"{name}_hi_{side}", row.get(f"{name}_{side}_hi"))
    return lo, hi


def flagged(rows: list[dict[str, Any]], by: list[str]) -> list[dict[str, Any]]:
    """Every changed metric of every cohort of a comparison, worse ones first."""
    out = []
    for row in rows:
        for name, verdict in changes(row).items():
            metric = METRICS[name]
            out.append(
                {
                    "cohort": label(row, by),
                    "metric": metric.label,
                    "baseline": with_interval(metric, row.get(f"{name}_base"), *_bounds(row, name, "base")),
                    "candidate": with_interval(metric, row.get(f"{name}_cand"), *_bounds(row, name, "cand")),
                    "change": verdict,
                }
            )
    return sorted(out, key=lambda r: r["change"] != "worse")


def trace_filters(
    row: dict[str, Any], by: list[str], since: str, until: str, filters: dict[str, str] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The ``GET /api/traces`` parameters that select a cohort's requests (its ``by`` values
    and the page's ``filters``), and what could not be expressed there (a missing value): the
    list is then wider than the cohort. ``day`` narrows the window."""
    params: dict[str, Any] = {"since": since, "until": until}
    loose = []
    wanted = {**(filters or {}), **{d: row.get(d) for d in by}}
    for d, v in wanted.items():
        if not v:
            loose.append(f"{d} {NONE}")
        elif d == "day":
            start = datetime.combine(date.fromisoformat(str(v)[:10]), datetime.min.time(), UTC)
            params["since"] = max(since, iso(start))
            params["until"] = min(until, iso(start + timedelta(days=1)))
        else:
            params[d] = v
    return params, loose
