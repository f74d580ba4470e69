"""The traces page: recent traces, filtered by the API, each linking to its trace page.

A Streamlit page script; ``main()`` draws it. Every filter is passed to ``GET /api/traces``
as a query parameter; the page only lays the rows out.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import streamlit as st

from spyglass.ui._client import CollectorError
from spyglass.ui._format import duration, since, timestamp, trace_cost
from spyglass.ui._page import TRACE_LINK, client, pager, project, show_error, trace_link

RANGES = {
    "last 15 minutes": timedelta(minutes=15),
    "last hour": timedelta(hours=1),
    "last 24 hours": timedelta(days=1),
    "last 7 days": timedelta(days=7),
    "last 30 days": timedelta(days=30),
}
PAGE_SIZES = (25, 50, 100, 200)
OFFSET_KEY = "traces_offset"
FILTERS_SEEN_KEY = "_traces_filters"


def filters() -> dict[str, Any]:
    """The filter widgets -> ``GET /api/traces`` query parameters (unset ones left out)."""
    row1 = st.columns([2, 2, 2, 2, 2])
    window = row1[0].selectbox("Time range", list(RANGES), index=3, key="traces_range")
    tenant = row1[1].text_input("Tenant", key="traces_tenant")
    workflow = row1[2].text_input("Workflow", key="traces_workflow")
    release = row1[3].text_input("Release", key="traces_release")
    model = row1[4].text_input("Model", key="traces_model")
    row2 = st.columns([2, 2, 2, 2, 2])
    min_ms = row2[0].number_input(
        "Minimum duration (ms)", min_value=0.0, value=0.0, step=100.0, key="traces_min_ms"
    )
    limit = row2[1].selectbox("Rows per page", PAGE_SIZES, index=1, key="traces_limit")
    errors = row2[2].checkbox("Errors only", key="traces_errors")
    negative = row2[3].checkbox("Has negative feedback", key="traces_negative")
    return {
        "project": project(),
        "since": since(RANGES[str(window)]),
        "tenant": (tenant or "").strip() or None,
        "workflow": (workflow or "").strip() or None,
        "release": (release or "").strip() or None,
        "model": (model or "").strip() or None,
        "min_duration_ms": min_ms or None,
        "status": "error" if errors else None,
        "negative_feedback": True if negative else None,
        "limit": int(limit),
    }


def table(rows: list[dict[str, Any]], project_name: str) -> list[dict[str, Any]]:
    """API rows -> what the table shows, one trace per row with a link to its page."""
    out = []
    for r in rows:
        count = r.get("feedback_count") or 0
        flags = [f"{count} event{'s' if count != 1 else ''}"] if count else []
        if r.get("negative_feedback"):
            flags.append("negative")
        if r.get("escalated"):
            flags.append("escalated")
        out.append(
            {
                "trace": trace_link(r["trace_id"], project_name),
                "started": timestamp(r.get("start_time")),
                "name": r.get("name") or "",
                "duration": duration(r.get("duration_ms")),
                "errors": r.get("error_count", 0),
                "feedback": ", ".join(flags),
                "tenant": r.get("tenant") or "",
                "workflow": r.get("workflow") or "",
                "intent": r.get("intent") or "",
                "release": r.get("release") or "",
                "models": ", ".join(r.get("models") or []),
                "spans": r.get("span_count"),
                "tokens": (r.get("input_tokens") or 0) + (r.get("output_tokens") or 0),
                "cost": trace_cost(r.get("cost_usd"), r.get("unpriced_spans")),
                "service": r.get("service") or "",
            }
        )
    return out


def main() -> None:
    """Draw the traces page."""
    st.title("Traces", anchor=False)
    params = filters()
    # A new filter starts from the first page again.
    seen = {k: v for k, v in params.items() if k != "since"}
    if st.session_state.get(FILTERS_SEEN_KEY) != seen:
        st.session_state[FILTERS_SEEN_KEY] = seen
        st.session_state[OFFSET_KEY] = 0
    offset = int(st.session_state.get(OFFSET_KEY, 0))
    try:
        result = client().traces(**params, offset=offset)
    except CollectorError as err:
        show_error(err)
        return
    rows = result.get("traces") or []
    if not rows:
        if offset:
            st.info("No more traces on this page.")
        else:
            st.info(
                "No traces in this range yet. Widen the time range or clear the filters; "
                "to see one, run an application instrumented with spyglass.init() against this "
                "collector, or start it with `spyglass up --demo`."
            )
    else:
        st.caption(f"Traces {offset + 1} to {offset + len(rows)}, newest first. Open one by its ID.")
        st.dataframe(
            table(rows, project()),
            hide_index=True,
            column_config={"trace": TRACE_LINK},
        )
    pager("traces", OFFSET_KEY, offset, int(params["limit"]), bool(result.get("has_more")))


if __name__ == "__main__":
    main()
