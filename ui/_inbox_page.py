"""The feedback inbox: thumbs-down and escalations, newest first, each linked to its trace.

A Streamlit page script; ``main()`` draws it from ``GET /api/feedback``. A trace counts as
resolved once any of its feedback events carries a resolution (the API decides).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import streamlit as st

from spyglass.ui._client import CollectorError
from spyglass.ui._feedback import SOURCES, verdict
from spyglass.ui._format import since, timestamp
from spyglass.ui._page import TRACE_LINK, client, pager, project, show_error, trace_link

STATES = {"open": "Open", "resolved": "Resolved", "all": "All"}
RANGES = {
    "last 24 hours": timedelta(days=1),
    "last 7 days": timedelta(days=7),
    "last 30 days": timedelta(days=30),
    "last 90 days": timedelta(days=90),
}
OFFSET_KEY = "inbox_offset"
FILTERS_SEEN_KEY = "_inbox_filters"
LIMIT = 50


def table(events: list[dict[str, Any]], project_name: str) -> list[dict[str, Any]]:
    """API events -> the inbox's rows, one event per row with a link to its trace."""
    # "" rather than None: the table would print a grey "None" in every empty cell
    return [
        {
            "time": timestamp(e.get("timestamp")),
            "trace": trace_link(e["trace_id"], project_name),
            "state": e.get("state") or "",
            "what": verdict(e),
            "source": SOURCES.get(e.get("source") or "", e.get("source") or ""),
            "comment": e.get("comment") or "",
            "escalation": e.get("escalation_reason") or "",
            "resolution": e.get("trace_resolution") or "",
            "span": e.get("span_id") or "",
        }
        for e in events
    ]


def main() -> None:
    """Draw the inbox."""
    st.title("Feedback inbox", anchor=False)
    st.caption("Negative feedback and escalations, newest first. Open the trace to see what happened.")
    cols = st.columns([2, 2, 2, 4])
    state = cols[0].selectbox("State", list(STATES), format_func=STATES.__getitem__, key="inbox_state")
    window = cols[1].selectbox("Time range", list(RANGES), index=2, key="inbox_range")
    source = cols[2].selectbox(
        "Source",
        ["any", *SOURCES],
        format_func=lambda s: SOURCES.get(s, s),
        key="inbox_source",
    )
    params: dict[str, Any] = {
        "project": project(),
        "since": since(RANGES[str(window)]),
        "state": state,
        "source": None if source == "any" else source,
        "limit": LIMIT,
    }
    seen = {k: v for k, v in params.items() if k != "since"}
    if st.session_state.get(FILTERS_SEEN_KEY) != seen:  # a new filter starts on the first page
        st.session_state[FILTERS_SEEN_KEY] = seen
        st.session_state[OFFSET_KEY] = 0
    offset = int(st.session_state.get(OFFSET_KEY, 0))
    try:
        result = client().feedback(**params, offset=offset)
    except CollectorError as err:
        show_error(err)
        return
    events = result.get("events") or []
    if not events:
        what = {"open": "open ", "resolved": "resolved ", "all": ""}[str(state)]
        st.info(
            f"No {what}negative feedback or escalations in this range. Thumbs-down and "
            "escalations sent to POST /v1/feedback appear here."
        )
    else:
        st.dataframe(
            table(events, project()),
            hide_index=True,
            column_config={"trace": TRACE_LINK},
        )
    pager("inbox", OFFSET_KEY, offset, LIMIT, bool(result.get("has_more")))


if __name__ == "__main__":
    main()
