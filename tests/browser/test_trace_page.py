"""The trace page in a real headless Chromium: ``spyglass.ui.launch`` serves the app, the
browser opens ``/?trace_id=...`` and waits for the spans and the feedback to arrive over
Streamlit's websocket. Saves a screenshot (``docs/trace-page.png`` with
``SPYGLASS_UPDATE_SCREENSHOT=1``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import spyglass.ui
from tests.conftest import ROOT, CollectorProcess, free_port, run_app

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
INSTALL = "apt-get install chromium && .venv/bin/pip install -e '.[test]'"


def _browser_or_skip() -> Any:
    """playwright's sync API, or skip (fail where CI demands the browser tier)."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package"
    if missing is None and not CHROMIUM.exists():
        missing = str(CHROMIUM)
    if missing:
        message = f"browser test needs {missing}: {INSTALL}"
        if os.environ.get("SPYGLASS_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return sync_playwright


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the UI exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the UI at {url} did not answer within {timeout} s")


@pytest.fixture
def ui(collector: CollectorProcess) -> Iterator[str]:
    port = free_port()
    proc = spyglass.ui.launch(collector.url, port=port)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(url + "/_stcore/health", proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _trace_with_feedback(url: str) -> tuple[str, str]:
    result = run_app("support_bot.py", url, "--capture")
    assert result.returncode == 0, result.stderr
    trace_id = json.loads(result.stdout.strip().splitlines()[-1])["trace_id"]
    comment = f"It quoted the wrong refund policy ({uuid.uuid4().hex[:6]})"
    request = urllib.request.Request(
        f"{url}/v1/feedback",
        data=json.dumps({"trace_id": trace_id, "thumbs": "down", "comment": comment}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()
    deadline = time.monotonic() + 20
    while True:  # spans and feedback reach the store after a short batching delay
        try:
            with urllib.request.urlopen(f"{url}/api/traces/{trace_id}", timeout=10) as resp:
                if json.load(resp).get("feedback"):
                    return trace_id, comment
        except urllib.error.HTTPError as err:
            if err.code != 404:
                raise
        assert time.monotonic() < deadline, "trace or feedback not stored in time"
        time.sleep(0.2)


SPAN_NAMES = [
    "answer_question",
    "retrieval kb",
    "chat gpt-4o",
    "chat gpt-4o-mini",
    "suggest_followups",
    "execute_tool issue_refund",
]


def test_trace_page_in_chromium(collector: CollectorProcess, ui: str, tmp_path: Path) -> None:
    sync_playwright = _browser_or_skip()
    trace_id, comment = _trace_with_feedback(collector.url)
    if os.environ.get("SPYGLASS_UPDATE_SCREENSHOT") == "1":
        screenshot = ROOT / "docs" / "trace-page.png"
    else:
        screenshot = tmp_path / "trace-page.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            page.goto(f"{ui}/?trace_id={trace_id}", wait_until="domcontentloaded")
            main = page.get_by_test_id("stMain")
            # the page is drawn over a websocket after load: wait for content, not for load
            main.get_by_text(comment).wait_for(timeout=60_000)
            # the default span is the failed model call, with its error
            main.get_by_text("gpt-4o timed out after 30 s").first.wait_for(timeout=30_000)
            chart = main.get_by_test_id("stVegaLiteChart")
            chart.get_by_text("execute_tool issue_refund").wait_for(timeout=30_000)  # SVG axis labels
            chart_text = chart.inner_text()
            assert all(name in chart_text for name in SPAN_NAMES), chart_text
            assert "✕ error" in chart_text and "⊘ denied" in chart_text
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)

            text = main.inner_text()
            assert f"Trace {trace_id}" in text  # the trace page is the default page
            assert "Feedback (1)" in text and "thumbs down" in text
            assert page.get_by_test_id("stException").count() == 0
            # every span is in the selector; choosing the refused tool call shows the refusal
            main.get_by_test_id("stSelectbox").click()
            options = page.get_by_role("option").all_inner_texts()
            assert [re.sub(r"^[\u2003└ ]+", "", o).split(" [")[0] for o in options] == SPAN_NAMES
            page.get_by_role("option", name="execute_tool issue_refund").click()
            main.get_by_text("role lacks refunds").wait_for(timeout=30_000)
            assert "Denied" in main.get_by_test_id("stAlert").first.inner_text()
            assert "span_id=" in page.url and f"trace_id={trace_id}" in page.url
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
