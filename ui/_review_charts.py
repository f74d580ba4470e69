"""The cohort review's charts (altair), built from API rows: every value and interval drawn
here comes from the API. Pure functions returning charts; pages draw them."""

from __future__ import annotations

from typing import Any

import altair as alt

from spyglass.ui._scorecard import METRICS, label

STAGES = ("model", "retrieval", "rerank", "tool", "app")
"""The API's stages, in the order a request usually meets them (``app`` = time in no stage)."""
ROW = 28  # pixels per cohort
FRAME = 110  # Streamlit fits the whole chart, axes and legend included, into the height


def _height(rows: int, row: int = ROW) -> int:
    return FRAME + row * max(rows, 1)


def latency(rows: list[dict[str, Any]], by: list[str]) -> alt.LayerChart:
    """p95 and p99 per cohort: bars with their 95% intervals as whiskers."""
    data = [
        {
            "cohort": label(r, by),
            "quantile": q,
            "ms": r.get(f"{q}_ms"),
            "lo": r.get(f"{q}_ms_lo"),
            "hi": r.get(f"{q}_ms_hi"),
        }
        for r in rows
        for q in ("p95", "p99")
        if r.get(f"{q}_ms") is not None
    ]
    order = list(dict.fromkeys(d["cohort"] for d in data))
    base = alt.Chart(alt.Data(values=data)).encode(
        y=alt.Y("cohort:N", sort=order, title=None, axis=alt.Axis(labelLimit=320)),
        yOffset=alt.YOffset("quantile:N", sort=["p95", "p99"]),
        color=alt.Color("quantile:N", sort=["p95", "p99"], title=None, legend=alt.Legend(orient="top")),
    )
    bars = base.mark_bar(opacity=0.8).encode(
        x=alt.X("ms:Q", title="latency (ms), with 95% interval"),
        tooltip=["cohort:N", "quantile:N", alt.Tooltip("ms:Q", format=",.1f"), "lo:Q", "hi:Q"],
    )
    whiskers = base.mark_rule(color="black").encode(x="lo:Q", x2="hi:Q")
    return alt.LayerChart(layer=[bars, whiskers], height=_height(len(order), 2 * ROW))


def rate(rows: list[dict[str, Any]], by: list[str], name: str) -> alt.LayerChart:
    """One rate per cohort as a point with its 95% Wilson interval."""
    metric = METRICS[name]
    data = [
        {
            "cohort": label(r, by),
            "rate": r.get(name),
            "lo": r.get(f"{name}_lo"),
            "hi": r.get(f"{name}_hi"),
            "requests": r.get("tasks"),
        }
        for r in rows
        if r.get(name) is not None
    ]
    order = [d["cohort"] for d in data]
    base = alt.Chart(alt.Data(values=data)).encode(
        y=alt.Y("cohort:N", sort=order, title=None, axis=alt.Axis(labelLimit=320))
    )
    interval = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("lo:Q", title=f"{metric.label}, with 95% interval", axis=alt.Axis(format="%")),
        x2="hi:Q",
    )
    points = base.mark_point(filled=True, size=70).encode(
        x="rate:Q",
        tooltip=[
            "cohort:N",
            alt.Tooltip("rate:Q", format=".1%"),
            alt.Tooltip("lo:Q", format=".1%"),
            alt.Tooltip("hi:Q", format=".1%"),
            "requests:Q",
        ],
    )
    return alt.LayerChart(layer=[interval, points], height=_height(len(order)))


def tail_shares(rows: list[dict[str, Any]], by: list[str]) -> alt.Chart:
    """Per cohort, each stage's share of the time of its slowest 5% of requests (stacked to 1)."""
    data = [
        {"cohort": label(r, by), "stage": s, "share": r.get(f"{s}_tail_share") or 0.0, "order": i}
        for r in rows
        for i, s in enumerate(STAGES)
    ]
    order = list(dict.fromkeys(d["cohort"] for d in data))
    return (
        alt.Chart(alt.Data(values=data))
        .mark_bar()
        .encode(
            y=alt.Y("cohort:N", sort=order, title=None, axis=alt.Axis(labelLimit=320)),
            x=alt.X(
                "share:Q",
                stack="normalize",
                title="share of the slowest 5% of requests' time",
                axis=alt.Axis(format="%"),
            ),
            color=alt.Color("stage:N", sort=list(STAGES), legend=alt.Legend(orient="top")),
            order=alt.Order("order:Q"),
            tooltip=["cohort:N", "stage:N", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=_height(len(order)))
    )


def over_time(rows: list[dict[str, Any]], dimension: str, name: str) -> alt.Chart:
    """A metric per day, one line per cohort (value of ``dimension``), hover for the interval."""
    metric = METRICS[name]
    data = [
        {
            "day": str(r.get("day"))[:10],
            "cohort": label(r, [dimension]),
            "value": r.get(name),
            "lo": r.get(f"{name}_lo"),
            "hi": r.get(f"{name}_hi"),
            "requests": r.get("tasks"),
        }
        for r in rows
        if r.get(name) is not None and r.get("day")
    ]
    fmt = "$,.4f" if metric.kind == "usd" else ",.0f"
    return (
        alt.Chart(alt.Data(values=data))
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title="day (UTC)", timeUnit="utcyearmonthdate"),
            y=alt.Y("value:Q", title=metric.label),
            color=alt.Color("cohort:N", title=None, legend=alt.Legend(orient="top", labelLimit=320)),
            tooltip=[
                "cohort:N",
                alt.Tooltip("day:T", timeUnit="utcyearmonthdate"),
                alt.Tooltip("value:Q", format=fmt, title=metric.label),
                alt.Tooltip("lo:Q", format=fmt),
                alt.Tooltip("hi:Q", format=fmt),
                "requests:Q",
            ],
        )
        .properties(height=260)
    )
