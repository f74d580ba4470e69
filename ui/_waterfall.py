"""The trace timeline: spans in tree order against the clock, as an Altair chart.

``rows(trace)`` flattens the API's span tree into display rows (depth, label, error flag);
``chart(rows, selected)`` draws them. Both are pure, so they are tested without Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import altair as alt

from . import _format

ERROR_COLOR = "#d62728"
KIND_COLORS = {
    "workflow": "#7f7f7f",
    "llm": "#1f77b4",
    "embedding": "#17becf",
    "retrieval": "#2ca02c",
    "rerank": "#bcbd22",
    "tool": "#ff7f0e",
    "span": "#9467bd",
    "other": "#c7c7c7",
}
ROW_HEIGHT = 26
DENSE_ROW_HEIGHT = 18  # long traces (agent loops): still one readable label per row
DENSE_FROM = 40
PICK = "pick"
"""Name of the chart's click selection; the page reads ``selection[PICK]`` to select a span."""


@dataclass(frozen=True)
class Row:
    """One span as the timeline and the span selector show it."""

    span: dict[str, Any]
    depth: int
    label: str  # indented name, unique within the trace (the chart's y value)

    @property
    def span_id(self) -> str:
        return str(self.span["span_id"])

    @property
    def kind(self) -> str:
        # spans of other OpenTelemetry instrumentations carry no Spyglass kind
        return str(self.span.get("kind") or "other")

    @property
    def is_error(self) -> bool:
        return (self.span.get("status") or {}).get("code") == "error"

    @property
    def is_denied(self) -> bool:
        return (self.span.get("tool") or {}).get("authorization") == "denied"

    @property
    def flag(self) -> str:
        """What the timeline writes after the bar: an error, a tool call the app refused."""
        return "✕ error" if self.is_error else "⊘ denied" if self.is_denied else ""

    @property
    def model(self) -> str | None:
        llm = self.span.get("llm") or {}
        return llm.get("response_model") or llm.get("request_model")

    def option(self) -> str:
        """The span selector's text: ``name [kind] duration``, indented like the tree."""
        text = f"{self.label} [{self.kind}] {_format.duration(self.span.get('duration_ms'))}"
        return f"{text}  {self.flag}" if self.flag else text


def _indent(depth: int) -> str:
    # em spaces survive HTML and SVG whitespace collapsing, plain spaces do not
    return "" if depth == 0 else "\u2003" * (depth - 1) + "└ "


def rows(trace: dict[str, Any]) -> list[Row]:
    """The trace's spans depth-first in the API's order (children by start time)."""
    out: list[Row] = []
    seen: dict[str, int] = {}
    stack = [(span, 0) for span in reversed(trace.get("spans") or [])]
    while stack:  # iterative: trees may be nested up to the API's depth cap
        span, depth = stack.pop()
        label = _indent(depth) + str(span.get("name") or "(unnamed)")
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:  # the chart's y axis needs distinct values
            label = f"{label} ({seen[label]})"
        out.append(Row(span=span, depth=depth, label=label))
        stack.extend((child, depth + 1) for child in reversed(span.get("children") or []))
    return out


def default_span(table: list[Row]) -> str | None:
    """What to show first: the first span in error, else the root."""
    for row in table:
        if row.is_error:
            return row.span_id
    return table[0].span_id if table else None


def chart(table: list[Row], selected: str | None = None) -> alt.LayerChart:
    """Bars from each span's start to its end, one row per span in tree order, colored by
    kind; error spans get a red outline and a marker, denied tool calls a marker;
    ``selected`` is drawn opaque."""
    end = max((r.span["offset_ms"] + r.span["duration_ms"] for r in table), default=1.0) or 1.0
    # spans far shorter than the trace would be invisible slivers: give them a minimum width
    min_width = end * 0.008
    data = [
        {
            "span_id": r.span_id,
            "label": r.label,
            "start": r.span["offset_ms"],
            "end": r.span["offset_ms"] + max(r.span["duration_ms"], min_width),
            "duration": _format.duration(r.span["duration_ms"]),
            "offset": f"+{_format.duration(r.span['offset_ms'])}",
            "kind": r.kind,
            "model": r.model or "",
            "status": "error" if r.is_error else (r.span.get("status") or {}).get("code", ""),
            "error": r.is_error,
            "flag": r.flag,
            "selected": r.span_id == selected,
        }
        for r in table
    ]
    order = [r.label for r in table]
    # the legend lists the kinds present, each keeping its color across traces
    kinds = [k for k in KIND_COLORS if any(r.kind == k for r in table)]
    pick = alt.selection_point(name=PICK, fields=["span_id"], on="click", clear=False)
    base = alt.Chart(alt.Data(values=data)).encode(
        # labelOverlap off: Vega would otherwise drop every other label on dense traces
        y=alt.Y(
            "label:N",
            sort=order,
            title=None,
            axis=alt.Axis(
                labelLimit=320, labelOverlap=False, labelFontSize=12 if len(table) < DENSE_FROM else 11
            ),
        ),
    )
    bars = (
        base.mark_bar(height=row_height(table) * 0.6, cornerRadius=2)
        .encode(
            # room right of the last bar for its "✕ error" / "⊘ denied" marker
            x=alt.X("start:Q", title="ms since the trace started", scale=alt.Scale(domain=[0, end * 1.15])),
            x2="end:Q",
            color=alt.Color(
                "kind:N",
                scale=alt.Scale(domain=kinds, range=[KIND_COLORS[k] for k in kinds]),
                legend=alt.Legend(orient="bottom", title=None),
            ),
            stroke=alt.condition("datum.error", alt.value(ERROR_COLOR), alt.value(None)),
            strokeWidth=alt.condition("datum.error", alt.value(2.5), alt.value(0)),
            opacity=alt.condition("datum.selected", alt.value(1.0), alt.value(0.6)),
            tooltip=[
                alt.Tooltip("label:N", title="span"),
                alt.Tooltip("kind:N"),
                alt.Tooltip("offset:N", title="starts at"),
                alt.Tooltip("duration:N"),
                alt.Tooltip("model:N"),
                alt.Tooltip("status:N"),
            ],
        )
        .add_params(pick)
    )
    markers = (
        base.transform_filter("datum.flag != ''")
        .mark_text(align="left", dx=4, color=ERROR_COLOR, fontWeight="bold")
        .encode(x="end:Q", text="flag:N")
    )
    return alt.LayerChart(layer=[bars, markers], height=row_height(table) * len(table))


def row_height(table: list[Row]) -> int:
    """Pixels per span row: roomy for ordinary traces, denser for long ones."""
    return ROW_HEIGHT if len(table) < DENSE_FROM else DENSE_ROW_HEIGHT


def height(table: list[Row]) -> int:
    """Pixels for the whole chart in Streamlit, which fits the axis and the legend inside the
    height it is given: a row per span plus room for them, so no span label is skipped."""
    return row_height(table) * len(table) + 120
