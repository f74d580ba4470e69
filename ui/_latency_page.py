"""The latency page: where each cohort's time goes, stage by stage, and which stage makes its
slowest 5% of requests.

A Streamlit page script; ``main()`` draws it from ``GET /api/analytics/stages``: per cohort
and stage (model, retrieval, rerank, tool, app) the p50/p95/p99 of the time a request spends
in that stage, and the stage's share of the time of the cohort's slowest 5% (tail attribution).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from spyglass.ui import _review, _review_charts, _scorecard
from spyglass.ui._format import duration, md

PAGE = "latency"


def stage_rows(rows: list[dict[str, Any]], by: list[str]) -> list[dict[str, Any]]:
    """API rows -> one table row per cohort and stage."""
    out = []
    for r in rows:
        for stage in _review_charts.STAGES:
            share = r.get(f"{stage}_tail_share")
            out.append(
                {
                    **{d: r.get(d) or _scorecard.NONE for d in by},
                    "stage": stage,
                    "p50": duration(r.get(f"{stage}_p50_ms")),
                    "p95": duration(r.get(f"{stage}_p95_ms")),
                    "p99": duration(r.get(f"{stage}_p99_ms")),
                    "share of the slowest 5%": "-" if share is None else f"{share * 100:.1f}%",
                    "requests": r.get("tasks") or 0,
                    "slowest 5%": r.get("tail_tasks") or 0,
                    "status": "" if r.get("judgeable") else "too small to judge",
                }
            )
    return out


def main() -> None:
    """Draw the latency page."""
    st.title("Latency", anchor=False)
    st.caption(
        "Time per request in each stage (model = LLM and embedding calls; app = time in no "
        "stage), and which stage the slowest 5% of each cohort's requests spend their time in."
    )
    top = st.columns([2, 3])
    with top[0]:
        win = _review.window(PAGE)
    with top[1]:
        by = _review.grouping(PAGE, ["tenant"], (*_scorecard.DIMENSIONS, "day"))
    filters = _review.filters(PAGE)
    rows = _review.cohort_rows("stages", win, filters, by)
    if rows is None:
        return
    rows.sort(key=lambda r: not r.get("judgeable"))  # stable: by cohort, small ones last
    judged = [r for r in rows if r.get("judgeable")]
    st.subheader("What makes the slowest 5%", anchor=False)
    if judged:
        st.altair_chart(_review_charts.tail_shares(judged, by), width="stretch")
        dominant = []
        for r in judged:
            stage = max(_review_charts.STAGES, key=lambda s: r.get(f"{s}_tail_share") or 0.0)
            dominant.append(
                f"{_scorecard.label(r, by)}: {stage} {(r.get(f'{stage}_tail_share') or 0) * 100:.0f}%"
            )
        st.caption("Largest share per cohort: " + md("; ".join(dominant)))
    else:
        st.info("No cohort has enough requests to judge: widen the window or group by less.")
    if len(judged) < len(rows):
        st.caption(f"{len(rows) - len(judged)} cohorts too small to judge are left out of the chart.")
    st.subheader("Time per stage", anchor=False)
    st.dataframe(stage_rows(rows, by), hide_index=True)


if __name__ == "__main__":
    main()
