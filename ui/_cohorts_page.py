"""The cohorts page: the weekly reliability review by cohort, not by average.

A Streamlit page script; ``main()`` draws it from ``GET /api/analytics/cohorts`` (the
scorecard, every rate with its 95% interval) and ``/week-over-week`` (which metrics changed
against the window before, outside the noise), then lists a chosen cohort's worst traces
from ``GET /api/traces``. Cohorts too small to judge are shown but never ranked.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from spyglass.ui import _review, _review_charts, _scorecard
from spyglass.ui._client import CollectorError
from spyglass.ui._format import md
from spyglass.ui._page import TRACE_LINK, client, project, show_error
from spyglass.ui._traces_page import table as trace_table

PAGE = "cohorts"
RANK_BY = ["error_rate", "negative_feedback_rate", "p95_ms", "p99_ms", "escalation_rate", "cost_per_task"]
TRACES_LIMIT = 10


def week_over_week(win: _review.Window, by: list[str], filters: dict[str, str]) -> dict[tuple[str, ...], Any]:
    """Comparison rows against the previous window of the same length, by cohort key; empty
    (with a warning) when the call fails, the scorecard stands without flags."""
    try:
        result = client().analytics(
            "week-over-week", project=project(), until=win.until, days=win.days, by=by, **filters
        )
    except CollectorError as err:
        st.warning(f"No comparison with the previous window: {md(err)}", icon=":material/warning:")
        return {}
    return {_scorecard.key(r, by): r for r in result.get("rows") or []}


def scorecard(rows: list[dict[str, Any]], by: list[str], wow: dict[tuple[str, ...], Any], days: int) -> None:
    table, flags = _scorecard.scorecard(rows, by, wow)
    st.dataframe(_review.flagged_table(table, flags), hide_index=True)
    small = sum(1 for r in rows if not r.get("judgeable"))
    st.caption(
        "Rates with their 95% interval (Wilson), latency quantiles with a distribution-free "
        f"interval, cost and tokens per request with a normal interval. Red: worse than the {days} "
        "days before, outside the noise (at 99.9% confidence); green: better."
        + (f" {small} cohort{'s' if small != 1 else ''} too small to judge, listed last." if small else "")
    )


def charts(rows: list[dict[str, Any]], by: list[str]) -> None:
    judged = [r for r in rows if r.get("judgeable")]
    if not judged:
        st.info("No cohort has enough requests to judge: widen the window or group by less.")
        return
    left, right = st.columns(2)
    with left:
        st.subheader("Tail latency by cohort", anchor=False)
        st.altair_chart(_review_charts.latency(judged, by), width="stretch")
    with right:
        st.subheader("Rate by cohort", anchor=False)
        rate = st.selectbox(
            "Rate",
            [m.name for m in _scorecard.RATES],
            index=1,
            format_func=lambda n: _scorecard.METRICS[n].label,
            key=f"{PAGE}_rate",
        )
        st.altair_chart(_review_charts.rate(judged, by, str(rate)), width="stretch")
    if len(judged) < len(rows):
        st.caption("Cohorts too small to judge are left out of the charts.")


def worst_traces(
    rows: list[dict[str, Any]], by: list[str], win: _review.Window, filters: dict[str, str]
) -> None:
    """A chosen cohort's slowest requests, its errors and its thumbs-down, linked to traces."""
    st.subheader("Worst traces of a cohort", anchor=False)
    labels = {_scorecard.label(r, by): r for r in rows}
    chosen = st.selectbox("Cohort", list(labels), key=f"{PAGE}_cohort")
    if chosen is None:
        return
    params, loose = _scorecard.trace_filters(labels[chosen], by, win.since, win.until, filters)
    params.update(project=project(), sort="slowest", limit=TRACES_LIMIT)
    if loose:
        st.caption(f"The trace list cannot select {md(', '.join(loose))}: it shows the wider set.")
    for title, extra in (
        ("Slowest", {}),
        ("With errors", {"status": "error"}),
        ("With negative feedback", {"negative_feedback": True}),
    ):
        try:
            found = client().traces(**params, **extra).get("traces") or []
        except CollectorError as err:
            show_error(err)
            return
        st.markdown(f"**{title}**")
        if not found:
            st.caption("None in this window.")
            continue
        st.dataframe(
            trace_table(found, project()),
            hide_index=True,
            column_config={"trace": TRACE_LINK},
        )


def main() -> None:
    """Draw the cohorts page."""
    st.title("Cohorts", anchor=False)
    st.caption(
        "Which tenants, workflows, intents, releases, prompt versions and model routes got "
        "worse. Every rate comes with its 95% interval; small cohorts are never ranked."
    )
    top = st.columns([2, 3, 2])
    with top[0]:
        win = _review.window(PAGE)
    with top[1]:
        by = _review.grouping(PAGE, ["tenant"], (*_scorecard.DIMENSIONS, "day"))
    rank = top[2].selectbox(
        "Rank by (worst first)",
        RANK_BY,
        format_func=lambda n: _scorecard.METRICS[n].label,
        key=f"{PAGE}_rank",
    )
    filters = _review.filters(PAGE)
    found = _review.cohort_rows("cohorts", win, filters, by)
    if found is None:
        return
    rows = _scorecard.ranked(found, str(rank))
    # days differ between two windows: grouped by day, no cohort has a previous week
    wow = week_over_week(win, by, filters) if "day" not in by else {}
    scorecard(rows, by, wow, win.days)
    unpriced = sum(int(r.get("unpriced_calls") or 0) for r in rows)
    if unpriced:
        st.caption(f"{unpriced:,} model calls unpriced: cost per task is a lower bound (see the Cost page).")
    charts(rows, by)
    worst_traces(rows, by, win, filters)


if __name__ == "__main__":
    main()
