"""The releases page: may the candidate ship? Baseline against candidate release, prompt
version or model route, every metric side by side with its interval and the difference.

A Streamlit page script; ``main()`` draws it. The values to compare are the ones seen in the
window (``GET /api/analytics/cohorts?by=<dimension>``); the comparison is ``GET
/api/analytics/compare`` (overall and per cohort, changes flagged by the API); the verdict is
the release gate's (``spyglass.analytics.gate``, default thresholds) over that same answer.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from spyglass.analytics import gate
from spyglass.ui import _review, _scorecard
from spyglass.ui._format import md

PAGE = "releases"
CHANGE_COLUMNS = ("difference", "change")


def values(rows: list[dict[str, Any]], dimension: str) -> list[str]:
    """The dimension's values seen in the window, most requests first."""
    counts: dict[str, int] = {}
    for r in rows:
        if r.get(dimension):
            counts[str(r[dimension])] = counts.get(str(r[dimension]), 0) + int(r.get("tasks") or 0)
    return sorted(counts, key=lambda v: -counts[v])


def pick(dimension: str, seen: list[str]) -> tuple[str, str]:
    """Baseline and candidate selectors; by default the two most common values, by name."""
    default = sorted(seen[:2])
    left, right = st.columns(2)
    baseline = left.selectbox(
        "Baseline", seen, index=seen.index(default[0]), key=f"{PAGE}_{dimension}_baseline"
    )
    candidate = right.selectbox(
        "Candidate", seen, index=seen.index(default[-1]), key=f"{PAGE}_{dimension}_candidate"
    )
    return str(baseline), str(candidate)


def metric_table(row: dict[str, Any]) -> None:
    """Every metric of one comparison row, the changed ones coloured."""
    table = _scorecard.comparison(row)
    verdicts = {"worse", "better"}
    flags = [{c: r["change"] for c in CHANGE_COLUMNS} if r["change"] in verdicts else {} for r in table]
    st.dataframe(_review.flagged_table(table, flags), hide_index=True, height="content")


def verdict(result: dict[str, Any]) -> None:
    """The release gate's verdict on the comparison, with its reasons."""
    config = gate.GateConfig()
    outcome = gate.evaluate(result, config)
    reasons = "\n".join(f"- {md(r)}" for r in outcome.reasons)
    thresholds = (
        f"Gate thresholds (defaults): {config.min_tasks} requests per side, quality drop "
        f"{config.max_quality_drop_pp:g} pp, p95 +{config.max_p95_increase_pct:g}%, cost per task "
        f"+{config.max_cost_increase_pct:g}%, no rise of errors or denied tool calls, each outside "
        f"the noise: overall at {config.overall_confidence:.1%} confidence, per cohort at "
        f"{config.cohort_confidence:.1%}. Thresholds: spyglass.analytics.gate.GateConfig."
    )
    if outcome.verdict == gate.SHIP:
        st.success(
            "**Gate: ship.** No rule is broken overall or in any judged cohort.", icon=":material/check:"
        )
    elif outcome.verdict == gate.BLOCK:
        st.error(f"**Gate: block.**\n{reasons}", icon=":material/block:")
    else:
        st.warning(f"**Gate: not enough data.**\n{reasons}", icon=":material/hourglass_empty:")
    st.caption(thresholds)


def main() -> None:
    """Draw the releases page."""
    st.title("Releases", anchor=False)
    st.caption(
        "Baseline against candidate: each metric with its 95% interval, the difference, and "
        "whether it changed outside the noise. Red: the candidate is worse; green: better. A change "
        "is flagged at 99.9% confidence (many metrics are judged at once), so a 95% interval of the "
        "difference can exclude zero without a flag."
    )
    top = st.columns([2, 1, 3])
    with top[0]:
        win = _review.window(PAGE)
    dimension = str(
        top[1].selectbox("Compare", _scorecard.COMPARABLE, key=f"{PAGE}_dimension", help="What changed")
    )
    with top[2]:
        by = _review.grouping(PAGE, [], tuple(d for d in _scorecard.DIMENSIONS if d != dimension))
    filters = _review.filters(PAGE, exclude=(dimension,))
    seen_result = _review.call("cohorts", since=win.since, until=win.until, by=[dimension], **filters)
    if seen_result is None:
        return
    seen = values(seen_result.get("rows") or [], dimension)
    if not seen:
        _review.empty_state(win, bool(filters))
        return
    if len(seen) < 2:
        st.info(f"Only one {dimension} in this window ({md(seen[0])}): nothing to compare it with.")
        return
    baseline, candidate = pick(dimension, seen)
    if baseline == candidate:
        st.info("Pick two different values to compare.")
        return
    result = _review.call(
        "compare",
        dimension=dimension,
        baseline=baseline,
        candidate=candidate,
        since=win.since,
        until=win.until,
        by=by,
        **filters,
    )
    if result is None:
        return
    overall = result.get("overall") or {}
    st.subheader(f"{md(baseline)} → {md(candidate)}", anchor=False)
    st.caption(
        f"{overall.get('tasks_base') or 0:,} baseline and {overall.get('tasks_cand') or 0:,} candidate "
        f"requests, {win}."
    )
    verdict(result)
    metric_table(overall)
    rows = result.get("rows") or []
    if not by or not rows:
        return
    st.subheader("By cohort", anchor=False)
    changed = _scorecard.flagged(rows, by)
    if changed:
        flags = [{c: r["change"] for c in ("candidate", "change")} for r in changed]
        st.dataframe(_review.flagged_table(changed, flags), hide_index=True)
    else:
        st.caption("No cohort changed outside the noise.")
    labels = {_scorecard.label(r, by): r for r in rows}
    chosen = st.selectbox("Every metric of a cohort", list(labels), key=f"{PAGE}_cohort")
    if chosen is not None:
        metric_table(labels[chosen])


if __name__ == "__main__":
    main()
