"""The Streamlit entry point: ``streamlit run ui/app.py`` (or ``spyglass.ui.launch``).

Three pages over the collector's HTTP API (``SPYGLASS_ENDPOINT``). The trace page is the
default page, served at the app's root, so a link ``/?trace_id=...`` opens a trace directly.
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
    ]
    page = st.navigation(pages)
    if PROJECT_KEY not in st.session_state:
        st.session_state[PROJECT_KEY] = st.query_params.get("project", "default")
    with st.sidebar:
        st.text_input("Project", key=PROJECT_KEY, help="Traces and feedback are kept per project.")
        st.caption(f"Collector: {Client.from_env().endpoint}")
    page.run()


main()
