"""A trace's feedback events, as a column beside the trace: what the customer, the support
agent or a reviewer said about this answer, oldest first."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ._format import md, timestamp

SOURCES = {"end_user": "end user", "support": "support", "reviewer": "reviewer", "eval": "eval"}


def verdict(event: dict[str, Any]) -> str:
    """The event's judgement in a few characters: thumbs, score, or what it is."""
    parts = []
    if event.get("thumbs") == "down":
        parts.append("thumbs down")
    elif event.get("thumbs") == "up":
        parts.append("thumbs up")
    if event.get("score") is not None:
        parts.append(f"score {event['score']:g}")
    if not parts:
        if event.get("escalation_reason"):
            parts.append("escalation")
        elif event.get("resolution"):
            parts.append("resolution")
        else:
            parts.append("comment")
    return " · ".join(parts)


def _icon(event: dict[str, Any]) -> str:
    # material icons ship with Streamlit; emoji depend on the viewer's fonts
    if event.get("thumbs") == "down":
        return ":material/thumb_down:"
    if event.get("thumbs") == "up":
        return ":material/thumb_up:"
    if event.get("escalation_reason"):
        return ":material/flag:"
    return ":material/chat:"


def render(events: list[dict[str, Any]], span_names: dict[str, str]) -> None:
    """One bordered card per event, in time order; ``span_names`` names the span an event
    points at."""
    st.subheader(f"Feedback ({len(events)})", anchor=False)
    if not events:
        st.caption(
            "No feedback for this trace yet. Applications send it with POST /v1/feedback and the trace ID."
        )
        return
    # the API's timestamps share one fixed-width UTC format, so they sort as strings
    ordered = sorted(events, key=lambda e: e.get("timestamp") or "")
    for event in ordered:
        with st.container(border=True):
            source = SOURCES.get(event.get("source") or "", event.get("source") or "unknown source")
            st.markdown(f"{_icon(event)} **{verdict(event)}** from {md(source)}")
            st.caption(timestamp(event.get("timestamp")))
            if event.get("comment"):
                st.markdown(f"> {md(event['comment'])}")
            if event.get("escalation_reason"):
                st.warning(f"**Escalated:** {md(event['escalation_reason'])}", icon=":material/flag:")
            if event.get("override"):
                st.markdown(f"**Override:** {md(event['override'])}")
            if event.get("resolution"):
                st.success(f"**Resolved:** {md(event['resolution'])}", icon=":material/task_alt:")
            span_id = event.get("span_id")
            if span_id:
                st.caption(f"on span {md(span_names.get(span_id, span_id))}")
            if event.get("attributes"):
                st.caption(", ".join(f"{md(k)}={md(v)}" for k, v in sorted(event["attributes"].items())))
