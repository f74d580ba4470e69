"""The Streamlit entry point: ``streamlit run ui/app.py`` (or ``spyglass.ui.launch``).

Pages over the collector's HTTP API (``SPYGLASS_ENDPOINT``): the trace page, the traces list
and the feedback inbox, then the weekly cohort review (cohorts, latency, releases, cost). The
trace page is the default page, served at the app's root, so a link ``/?trace_id=...`` opens a
trace directly.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from spyglass.ui._client import Client
from spyglass.ui._page import PROJECT_KEY

HERE = Path(__file__).resolve().parent


def main() -> None:
    """Configure the app, draw the sidebar, run the selected page."""
    st.set_page_config(page_title="Spyglass", page_icon=":material/travel_explore:", layout="wide")
    pages = [
        st.Page(
            HERE / "_trace_page.py", title="Trace", icon=":material/search:", url_path="trace", default=True
        ),
        st.Page(HERE / "_traces_page.py", title="Traces", icon=":material/list:", url_path="traces"),
        st.Page(HERE / "_inbox_page.py", title="Feedback inbox", icon=":material/inbox:", url_path="inbox"),
        st.Page(HERE / "_cohorts_page.py", title="Cohorts", icon=":material/groups:", url_path="cohorts"),
        st.Page(HERE / "_latency_page.py", title="Latency", icon=":material/timer:", url_path="latency"),
        st.Page(
            HERE / "_releases_page.py",
            title="Releases",
            icon=":material/compare_arrows:",
            url_path="releases",
        ),
        st.Page(HERE / "_cost_page.py", title="Cost", icon=":material/payments:", url_path="cost"),
    ]
    page = st.navigation(pages)
    if PROJECT_KEY not in st.session_state:
        st.session_state[PROJECT_KEY] = st.query_params.get("project", "default")
    with st.sidebar:
        st.text_input("Project", key=PROJECT_KEY, help="Traces and feedback are kept per project.")
        st.caption(f"Collector: {Client.from_env().endpoint}")
    page.run()


main()
