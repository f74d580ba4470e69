"""The cost page: what a task costs, and how many tokens it takes, by cohort or model route,
day by day.

A Streamlit page script; ``main()`` draws it from ``GET /api/analytics/cohorts`` grouped by
the chosen dimension (the table) and by that dimension and ``day`` (the lines). Calls whose
model is not in the price table are counted, never priced at zero silently.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from spyglass.ui import _review, _review_charts, _scorecard
from spyglass.ui._format import md, usd

PAGE = "cost"
DIMENSIONS = ("model", "tenant", "workflow", "intent", "release", "prompt")


def totals(rows: list[dict[str, Any]], dimension: str) -> list[dict[str, Any]]:
    """One table row per cohort: requests, total cost, cost and tokens per task with their
    intervals, unpriced calls."""
    return [
        {
            dimension: r.get(dimension) or _scorecard.NONE,
            "requests": r.get("tasks") or 0,
            "cost": usd(r.get("cost") or 0.0),
            "cost per task": _scorecard.cell(r, "cost_per_task"),
            "tokens per task": _scorecard.cell(r, "tokens_per_task"),
            "unpriced calls": r.get("unpriced_calls") or 0,
            "status": "" if r.get("judgeable") else "too small to judge",
        }
        for r in sorted(rows, key=lambda r: -(r.get("cost") or 0.0))
    ]


def unpriced(rows: list[dict[str, Any]], dimension: str) -> None:
    """Say how many calls have no price, and where."""
    count = sum(int(r.get("unpriced_calls") or 0) for r in rows)
    if not count:
        return
    where = ", ".join(
        f"{r.get(dimension) or _scorecard.NONE} ({r['unpriced_calls']:,})"
        for r in rows
        if r.get("unpriced_calls")
    )
    st.warning(
        f"{count:,} call{'s' if count != 1 else ''} unpriced: add their model to the price file "
        f"(`spyglass up --prices FILE`). Costs here leave them out. By {dimension}: {md(where)}.",
        icon=":material/money_off:",
    )


def main() -> None:
    """Draw the cost page."""
    st.title("Cost", anchor=False)
    st.caption(
        "Cost and tokens per request (task) by cohort, with 95% intervals, and how they moved "
        "day by day. Priced from the collector's model price table."
    )
    top = st.columns([2, 1])
    with top[0]:
        win = _review.window(PAGE)
    dimension = str(top[1].selectbox("By", DIMENSIONS, key=f"{PAGE}_dimension"))
    filters = _review.filters(PAGE)
    rows = _review.cohort_rows("cohorts", win, filters, [dimension])
    if rows is None:
        return
    unpriced(rows, dimension)
    daily = _review.call("cohorts", since=win.since, until=win.until, by=[dimension, "day"], **filters)
    if daily is not None:
        days = [r for r in daily.get("rows") or [] if r.get("tasks")]
        left, right = st.columns(2)
        with left:
            st.subheader("Cost per task", anchor=False)
            st.altair_chart(_review_charts.over_time(days, dimension, "cost_per_task"), width="stretch")
        with right:
            st.subheader("Tokens per task", anchor=False)
            st.altair_chart(_review_charts.over_time(days, dimension, "tokens_per_task"), width="stretch")
        st.caption("One line per cohort; hover a point for its 95% interval and request count.")
    st.subheader(f"By {dimension}", anchor=False)
    st.dataframe(totals(rows, dimension), hide_index=True)


if __name__ == "__main__":
    main()
