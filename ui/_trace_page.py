"""The trace page: paste a trace ID (or open ``?trace_id=...``) and see the whole request.

A Streamlit page script (``st.Page`` runs it as ``__main__``); ``main()`` draws the page.
The URL follows the page: ``trace_id`` when an ID is pasted, ``span_id`` when another span
than the default one is selected, so the address bar is always a shareable link.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from spyglass.ui import _feedback, _span_details, _waterfall
from spyglass.ui._client import CollectorError
from spyglass.ui._format import duration, md, timestamp, trace_cost
from spyglass.ui._page import client, project, show_error

INPUT_KEY = "trace_id_input"
URL_SEEN_KEY = "_trace_id_in_url"
LAST_PICK_KEY = "_waterfall_pick"


def trace_id_input() -> str:
    """The text box, kept in step with ``?trace_id=`` in both directions."""
    in_url = st.query_params.get("trace_id", "").strip()
    # The URL changed under us (a link, back/forward): show its ID in the box.
    if st.session_state.get(URL_SEEN_KEY) != in_url:
        st.session_state[INPUT_KEY] = in_url
        st.session_state[URL_SEEN_KEY] = in_url
    entered = st.text_input(
        "Trace ID",
        key=INPUT_KEY,
        placeholder="32 hexadecimal characters, as shown to the user or support agent",
    )
    entered = (entered or "").strip()
    if entered != in_url:
        if entered:
            st.query_params["trace_id"] = entered
        else:
            st.query_params.pop("trace_id", None)
        st.query_params.pop("span_id", None)  # it named a span of the previous trace
        st.session_state[URL_SEEN_KEY] = entered
    return entered


def header(trace: dict[str, Any], rows: list[_waterfall.Row]) -> None:
    """Totals and cohort: how long, how big, how many errors, what it cost, for whom."""
    totals = trace.get("totals") or {}
    root = rows[0].span if rows else {}
    st.markdown(f"### Trace `{trace['trace_id']}`")
    services = ", ".join(totals.get("services") or []) or "unknown service"
    st.caption(
        f"{md(root.get('name', ''))} · project {md(trace.get('project', 'default'))} · "
        f"{md(services)} · started {timestamp(totals.get('start_time'))}"
    )
    cols = st.columns([2, 1, 1, 2, 3])  # the cost may read "≥ $0.0123 (2 spans unpriced)"
    cols[0].metric("Duration", duration(totals.get("duration_ms")))
    cols[1].metric("Spans", totals.get("span_count", len(rows)))
    cols[2].metric("Errors", totals.get("error_count", 0))
    cols[3].metric(
        "Tokens in / out", f"{totals.get('input_tokens') or 0:,} / {totals.get('output_tokens') or 0:,}"
    )
    cols[4].metric("Cost", trace_cost(totals.get("cost_usd"), totals.get("unpriced_spans")))
    cohort = next((r.span["cohort"] for r in rows if r.span.get("cohort")), None)
    if cohort:
        fields = ("tenant", "workflow", "intent", "release", "user", "session")
        st.markdown("**Cohort** " + " · ".join(f"{f} **{md(cohort[f])}**" for f in fields if cohort.get(f)))
    else:
        st.markdown("**Cohort** none recorded (the application set no spyglass.cohort)")
    extras = []
    if totals.get("llm_calls"):
        extras.append(f"{totals['llm_calls']} model calls")
    if totals.get("fallback_count"):
        extras.append(f"{totals['fallback_count']} fallback")
    if totals.get("cached_input_tokens"):
        extras.append(f"{totals['cached_input_tokens']:,} input tokens cached")
    if extras:
        st.caption(" · ".join(extras))


def span_selector(trace_id: str, rows: list[_waterfall.Row]) -> tuple[str, str, dict[str, str]]:
    """Before the widgets are drawn: the selected span's ID, the default span's ID and the
    selector's labels. Sources of the selection, latest wins: a click on the timeline, the
    select box, ``?span_id=``; by default the first error span, else the root."""
    ids = [r.span_id for r in rows]
    labels = {r.span_id: r.option() for r in rows}
    natural = _waterfall.default_span(rows) or ids[0]
    key = f"span:{trace_id}"  # per trace: each trace has its own options
    if key not in st.session_state:
        in_url = st.query_params.get("span_id")
        st.session_state[key] = in_url if in_url in ids else natural
    pick = _picked(st.session_state.get(f"waterfall:{trace_id}"))
    # the chart keeps its selection across reruns: act on a click only once
    if pick and pick != st.session_state.get(LAST_PICK_KEY) and pick in ids:
        st.session_state[key] = pick
    st.session_state[LAST_PICK_KEY] = pick
    return str(st.session_state[key]), natural, labels


def _picked(state: Any) -> str | None:
    try:
        points = state["selection"][_waterfall.PICK]
        return str(points[0]["span_id"]) if points else None
    except (KeyError, IndexError, TypeError):
        return None


def main() -> None:
    """Draw the trace page."""
    st.title("Trace", anchor=False)
    trace_id = trace_id_input()
    if not trace_id:
        st.info(
            "Paste the trace ID the application showed (the customer's or the support agent's "
            "reference), or open one from the [Traces](./traces) or [Feedback inbox](./inbox) pages."
        )
        return
    try:
        trace = client().trace(trace_id, project())
    except CollectorError as err:
        show_error(err)
        return
    rows = _waterfall.rows(trace)
    if not rows:
        st.warning("The collector returned this trace without spans.")
        return
    header(trace, rows)
    names = {r.span_id: r.span.get("name") or r.span_id for r in rows}
    left, right = st.columns([5, 2], gap="large")
    with left:
        selected, natural, labels = span_selector(trace["trace_id"], rows)
        st.altair_chart(
            _waterfall.chart(rows, selected),
            height=_waterfall.height(rows),
            key=f"waterfall:{trace['trace_id']}",
            on_select="rerun",
            selection_mode=_waterfall.PICK,
        )
        chosen = st.selectbox(
            "Span",
            [r.span_id for r in rows],
            format_func=labels.__getitem__,
            key=f"span:{trace['trace_id']}",
            help="Or click a bar in the timeline.",
        )
        if chosen == natural:
            st.query_params.pop("span_id", None)
        else:
            st.query_params["span_id"] = chosen
        span = next(r.span for r in rows if r.span_id == chosen)
        _span_details.render(span, names)
    with right:
        _feedback.render(trace.get("feedback") or [], names)


if __name__ == "__main__":
    main()
