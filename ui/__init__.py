"""The Streamlit UI: trace explorer, feedback inbox and the weekly cohort review.

Pages: the trace page (one trace by ID: timeline, span details, feedback), the traces page,
the feedback inbox, and the review pages (cohorts, latency, releases, cost), all reading the
collector's HTTP API. Importing this package does not import Streamlit; ``launch`` runs the
app in its own process.

Example::

    proc = spyglass.ui.launch("http://127.0.0.1:4318", port=8501)
    # open http://127.0.0.1:8501/?trace_id=...
    proc.terminate()
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["app_path", "launch"]


def app_path() -> Path:
    """The Streamlit entry script (``streamlit run`` takes it)."""
    return Path(__file__).resolve().with_name("app.py")


def launch(endpoint: str, *, port: int = 8501, host: str = "127.0.0.1") -> subprocess.Popen[bytes]:
    """Start the UI as a ``streamlit run`` process reading the collector at ``endpoint``.

    The caller owns the process: ``terminate()`` it when done. Streamlit's output goes to
    the caller's stdout/stderr.
    """
    env = {**os.environ, "SPYGLASS_ENDPOINT": endpoint}
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path()),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # nobody edits the installed app while it runs; watching its files only costs CPU
        "--server.fileWatcherType",
        "none",
        # no "Deploy" button or developer menu for the engineers reading traces
        "--client.toolbarMode",
        "minimal",
    ]
    return subprocess.Popen(command, env=env)
