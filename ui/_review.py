"""What the cohort review pages (cohorts, latency, releases, cost) share: the window, grouping
and filter controls, calls to ``/api/analytics/...`` with failures shown as messages, the empty
state, and tables whose flagged cells are coloured.

The window is a range of whole UTC days, shared by the review pages (pick it on one, the others
follow) and opened from the URL with ``?since=2026-11-10&until=2026-11-16`` (inclusive dates).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from spyglass.ui._client import CollectorError
from spyglass.ui._format import iso, md
from spyglass.ui._page import client, project, show_error
from spyglass.ui._scorecard import DIMENSIONS

WINDOW_KEY = "review_window"
DEFAULT_DAYS = 7
FLAG_STYLES = {
    "worse": "background-color: rgba(255, 75, 75, 0.28)",
    "better": "background-color: rgba(33, 195, 84, 0.28)",
}


@dataclass(frozen=True)
class Window:
    """Whole UTC days, ``first`` to ``last`` inclusive."""

    first: date
    last: date

    @property
    def since(self) -> str:
        return iso(datetime.combine(self.first, time.min, UTC))

    @property
    def until(self) -> str:
        return iso(datetime.combine(self.last + timedelta(days=1), time.min, UTC))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def __str__(self) -> str:
        return f"{self.first:%Y-%m-%d} to {self.last:%Y-%m-%d} UTC"


def _url_window() -> tuple[date, date] | None:
    try:
        first = date.fromisoformat(st.query_params.get("since", "")[:10])
        last = date.fromisoformat(st.query_params.get("until", "")[:10])
    except ValueError:
        return None
    return (first, last) if first <= last else None


def window(page: str) -> Window:
    """The date-range picker (default: the last 7 days, today included)."""
    widget = f"{page}_window"
    if widget not in st.session_state:
        today = datetime.now(UTC).date()
        default = (today - timedelta(days=DEFAULT_DAYS - 1), today)
        st.session_state[widget] = st.session_state.get(WINDOW_KEY) or _url_window() or default
    picked = st.date_input(
        "Window (UTC days)",
        key=widget,
        min_value=date(2000, 1, 1),
        max_value=date(2200, 1, 1),
        format="YYYY-MM-DD",
        help="Whole days in UTC, both ends included.",
    )
    days = list(picked) if isinstance(picked, tuple | list) else [picked]
    first, last = (days[0], days[-1]) if days else st.session_state.get(WINDOW_KEY, (None, None))
    if first is None or last is None:  # half-picked range: the last full one
        first = last = datetime.now(UTC).date()
    st.session_state[WINDOW_KEY] = (first, last)
    return Window(first, last)


def grouping(page: str, default: list[str], options: tuple[str, ...] = DIMENSIONS) -> list[str]:
    """The cohort dimensions to group by."""
    return list(
        st.multiselect(
            "Group by",
            list(options),
            default=[d for d in default if d in options],
            key=f"{page}_by",
            help="Each combination of values is one cohort.",
        )
    )


def filters(page: str, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """Exact-value filters on the cohort dimensions (empty = any)."""
    dims = [d for d in DIMENSIONS if d not in exclude]
    out = {}
    with st.expander("Filters"):
        cols = st.columns(len(dims))
        for col, d in zip(cols, dims, strict=True):
            text = col.text_input(d.capitalize(), key=f"{page}_f_{d}", placeholder="any")
            if (text or "").strip():
                out[d] = text.strip()
    return out


def call(report: str, **params: Any) -> dict[str, Any] | None:
    """``GET /api/analytics/{report}`` in the sidebar's project; ``None`` after showing why
    it failed."""
    try:
        return client().analytics(report, project=project(), **params)
    except CollectorError as err:
        show_error(err)
        return None


def cohort_rows(
    report: str, win: Window, filters: dict[str, str], by: list[str]
) -> list[dict[str, Any]] | None:
    """The rows of ``report`` that hold requests, or ``None`` after showing why there are none
    (a failed call, or no requests in the window)."""
    result = call(report, since=win.since, until=win.until, by=by, **filters)
    if result is None:
        return None
    rows = [r for r in result.get("rows") or [] if r.get("tasks")]
    if not rows:
        empty_state(win, bool(filters))
        return None
    return rows


def empty_state(win: Window, filtered: bool) -> None:
    hint = "Widen the window or clear the filters." if filtered else "Widen the window."
    st.info(
        f"No requests in this window ({win}, project {md(project())}). {hint} Requests appear "
        "here once an application instrumented with spyglass.init() sends traces, or after "
        "`spyglass up --demo`.",
        icon=":material/search_off:",
    )


def flagged_table(rows: list[dict[str, Any]], flags: list[dict[str, str]]) -> Any:
    """Rows as a frame whose cells named in ``flags`` (one dict per row) are coloured: red
    for a change the bad way, green for the good way."""
    frame = pd.DataFrame(rows)

    def style(_: pd.DataFrame) -> pd.DataFrame:
        css = pd.DataFrame("", index=frame.index, columns=frame.columns)
        for i, cols in enumerate(flags):
            for column, verdict in cols.items():
                css.iloc[i, frame.columns.get_loc(column)] = FLAG_STYLES.get(verdict, "")
        return css

    return frame.style.apply(style, axis=None)
