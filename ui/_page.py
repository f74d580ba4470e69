"""What every page shares: the collector client, the project, links to traces, and how a
failed API call is shown (as a message, never a stack trace)."""

from __future__ import annotations

import urllib.parse

import streamlit as st

from ._client import ApiError, Client, CollectorError, Unreachable
from ._format import md

PROJECT_KEY = "project"

TRACE_LINK = st.column_config.LinkColumn(
    "trace", display_text=r"trace_id=([0-9a-fA-F]+)", help="Open the trace page"
)
"""A table column of ``trace_link`` values, shown as the trace ID."""


def client() -> Client:
    """The collector named by ``SPYGLASS_ENDPOINT``."""
    return Client.from_env()


def project() -> str:
    """The project chosen in the sidebar (``default`` until changed)."""
    return str(st.session_state.get(PROJECT_KEY) or "default").strip() or "default"


def trace_link(trace_id: str, project_name: str = "default") -> str:
    """A relative link that opens the trace page (the app's default page, at ``./``) on a
    trace; relative so it also works when Streamlit is served under a base path."""
    params = {"trace_id": trace_id}
    if project_name != "default":
        params["project"] = project_name
    return "./?" + urllib.parse.urlencode(params)


def show_error(err: CollectorError) -> None:
    """A failed call as the user should see it: not found as a warning, bad input and an
    unreachable collector as errors that say what to do."""
    if isinstance(err, Unreachable):
        st.error(
            f"{md(err)}  \nStart it with `spyglass up`, or point the UI at it with the "
            "SPYGLASS_ENDPOINT environment variable.",
            icon=":material/power_off:",
        )
    elif isinstance(err, ApiError) and err.status == 404:
        st.warning(md(err.detail), icon=":material/search_off:")
    elif isinstance(err, ApiError) and err.status in (400, 422):
        st.error(md(err.detail), icon=":material/error:")
    elif isinstance(err, ApiError):
        st.error(f"The collector answered {err.status}: {md(err.detail)}", icon=":material/error:")
    else:
        st.error(md(err), icon=":material/error:")


def pager(name: str, offset_key: str, offset: int, limit: int, has_more: bool) -> None:
    """Newer / Older buttons (keys ``<name>_newer``, ``<name>_older``) moving
    ``st.session_state[offset_key]`` by ``limit`` rows."""
    previous, _, following = st.columns([1, 4, 1])
    if previous.button("← Newer", disabled=offset == 0, key=f"{name}_newer"):
        st.session_state[offset_key] = max(0, offset - limit)
        st.rerun()
    if following.button("Older →", disabled=not has_more, key=f"{name}_older"):
        st.session_state[offset_key] = offset + limit
        st.rerun()
