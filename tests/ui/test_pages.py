"""The UI pages through Streamlit's own testing API (``AppTest``), against a real collector
process holding a real trace from the support bot, with real feedback events. No mocks."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from spyglass.attributes import COHORT_TENANT
from tests import payloads
from tests.conftest import ROOT, CollectorProcess, flatten, free_port, run_app

pytestmark = pytest.mark.integration

APP = ROOT / "ui" / "app.py"
TIMEOUT = 60  # seconds per script run: the first run imports streamlit, altair and pandas


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def post_feedback(url: str, events: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(
        f"{url}/v1/feedback",
        data=json.dumps(events).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert json.load(resp)["accepted"] == len(events)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Poll ``check`` (writes reach the store after a short batching delay)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class Bot:
    """The support bot's trace in the collector, with its spans by name and the feedback."""

    def __init__(self, url: str, trace_id: str, comment: str, escalation: str) -> None:
        self.url = url
        self.trace_id = trace_id
        self.comment = comment
        self.escalation = escalation
        self.spans = {s["name"]: s for s in flatten(get_json(f"{url}/api/traces/{trace_id}")["spans"])}

    def span_id(self, name: str) -> str:
        return str(self.spans[name]["span_id"])


@pytest.fixture(scope="module")
def bot(collector: CollectorProcess) -> Bot:
    result = run_app("support_bot.py", collector.url, "--capture")
    assert result.returncode == 0, result.stderr
    trace_id = json.loads(result.stdout.strip().splitlines()[-1])["trace_id"]

    def stored() -> bool:
        try:
            get_json(f"{collector.url}/api/traces/{trace_id}")
            return True
        except urllib.error.HTTPError as err:
            if err.code != 404:
                raise
            return False

    wait_for(stored, "the trace to be stored")
    tag = uuid.uuid4().hex[:8]  # the session's collector is shared: our feedback is findable by it
    comment = f"It quoted the wrong refund policy {tag}"
    escalation = f"customer asked for a manager {tag}"
    tool_span = {s["name"]: s for s in flatten(get_json(f"{collector.url}/api/traces/{trace_id}")["spans"])}[
        "execute_tool issue_refund"
    ]["span_id"]
    post_feedback(
        collector.url,
        [
            {"trace_id": trace_id, "thumbs": "down", "comment": comment, "source": "end_user"},
            {
                "trace_id": trace_id,
                "span_id": tool_span,
                "source": "support",
                "escalation_reason": escalation,
            },
        ],
    )
    wait_for(
        lambda: len(get_json(f"{collector.url}/api/traces/{trace_id}").get("feedback") or []) == 2,
        "the feedback to be stored",
    )
    return Bot(collector.url, trace_id, comment, escalation)


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch, collector: CollectorProcess) -> str:
    monkeypatch.setenv("SPYGLASS_ENDPOINT", collector.url)
    return collector.url


def unescape(text: str) -> str:
    """Markdown as the reader sees it: the UI backslash-escapes client text."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)  # CommonMark: any ASCII punctuation


def shown(at: AppTest) -> str:
    """All text the page shows (markdown, alerts, captions, code, metrics), one line each."""
    parts: list[str] = []
    for kind in ("title", "subheader", "markdown", "caption", "error", "warning", "info", "success", "code"):
        parts.extend(unescape(str(e.value)) for e in getattr(at, kind))
    parts.extend(f"{m.label}: {m.value}" for m in at.metric)
    return "\n".join(parts)


def open_app(page: str | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def options_labels(options: list[str]) -> list[str]:
    """Selector options -> the timeline's row labels (the name part, indented alike)."""
    return [o.split(" [")[0] for o in options]


def selector(at: AppTest) -> Any:
    (box,) = [s for s in at.selectbox if s.label == "Span"]
    return box


# ---- the trace page ---------------------------------------------------------------------


@pytest.mark.usefixtures("endpoint")
def test_trace_page_shows_the_whole_request(bot: Bot) -> None:
    at = open_app(trace_id=bot.trace_id)
    text = shown(at)
    assert f"Trace {bot.trace_id}" in text.replace("`", "")
    assert "Spans: 6" in text and "Errors: 1" in text
    assert "Tokens in / out: 160 / 33" in text
    assert re.search(r"Cost: (≥ )?\$0\.\d+", text), text  # the bot's models are in the price table
    assert "tenant acme · workflow support · intent refund · release 2026.11.2" in text.replace("*", "")
    # every span is in the selector, in tree order, labelled "name [kind] duration"
    options = selector(at).options
    names = [re.sub(r"^[\u2003└ ]+", "", o).split(" [")[0] for o in options]
    assert names == [
        "answer_question",
        "retrieval kb",
        "chat gpt-4o",
        "chat gpt-4o-mini",
        "suggest_followups",
        "execute_tool issue_refund",
    ]
    assert re.fullmatch(r"└ retrieval kb \[retrieval\] \d+\.\d+ ms", options[1])
    # the first error span is selected: its exception and stack trace are shown
    assert selector(at).value == bot.span_id("chat gpt-4o")
    assert "ProviderTimeout" in "\n".join(e.value for e in at.error)
    assert any("raise ProviderTimeout" in c.value for c in at.code)
    assert "Model requested: gpt-4o" in text.replace("*", "")
    # the timeline has one row per span, in tree order, and marks errors
    (chart,) = at.get("vega_lite_chart")
    bars, markers = json.loads(chart.proto.spec)["layer"]
    assert bars["encoding"]["y"]["sort"] == options_labels(options)
    assert markers["transform"] == [{"filter": "datum.flag != ''"}]
    assert options[2].endswith("✕ error") and options[5].endswith("⊘ denied")
    # feedback beside it, with what it points at
    assert bot.comment in text
    assert bot.escalation in "\n".join(unescape(w.value) for w in at.warning)
    assert "on span execute_tool issue_refund" in text
    assert ":material/thumb_down: thumbs down from end user" in text.replace("*", "")


@pytest.mark.usefixtures("endpoint")
def test_selecting_spans_changes_the_details(bot: Bot) -> None:
    at = open_app(trace_id=bot.trace_id)
    selector(at).select(bot.span_id("execute_tool issue_refund")).run()
    assert not at.exception
    denied = [unescape(e.value) for e in at.error]
    assert any("Denied" in e and "role lacks refunds" in e for e in denied), denied
    assert any('"order": "A-17"' in c.value for c in at.code)  # the captured arguments
    assert at.query_params["span_id"] == bot.span_id("execute_tool issue_refund")
    assert "ProviderTimeout" not in shown(at)  # the error span's details are gone

    selector(at).select(bot.span_id("retrieval kb")).run()
    (documents,) = [d.value for d in at.dataframe if "document" in d.value.columns]
    assert documents["document"].tolist() == ["doc-1", "doc-7"]
    assert documents["rank"].tolist() == [1, 2]
    assert documents["score"].round(2).tolist() == [0.92, 0.71]

    selector(at).select(bot.span_id("chat gpt-4o-mini")).run()
    text = shown(at).replace("*", "")
    assert "Model answered: gpt-4o-mini-2024-07-18" in text
    assert "Prompt: answer@v3" in text
    assert "Fallback: yes, after gpt-4o failed" in text
    assert "Tokens: 120 in / 30 out (64 input cached)" in text
    assert re.search(r"Cost: \$0\.\d+", text)
    assert any("You can get a refund within 30 days." in c.value for c in at.code)


@pytest.mark.usefixtures("endpoint")
def test_span_id_in_the_url_opens_that_span(bot: Bot) -> None:
    tool = bot.span_id("execute_tool issue_refund")
    at = open_app(trace_id=bot.trace_id, span_id=tool)
    assert selector(at).value == tool
    assert any("role lacks refunds" in unescape(e.value) for e in at.error)


@pytest.mark.usefixtures("endpoint")
def test_pasting_an_id_opens_it_and_updates_the_url(bot: Bot) -> None:
    at = open_app()
    assert "Paste the trace ID" in shown(at)
    assert not [s for s in at.selectbox if s.label == "Span"]
    at.text_input(key="trace_id_input").input(f"  {bot.trace_id}  ").run()
    assert not at.exception
    assert at.query_params["trace_id"] == bot.trace_id
    assert selector(at).value == bot.span_id("chat gpt-4o")
    assert bot.comment in shown(at)
    # choosing a span puts it in the URL; pasting another trace drops it with the old trace
    selector(at).select(bot.span_id("retrieval kb")).run()
    assert at.query_params["span_id"] == bot.span_id("retrieval kb")
    other = uuid.uuid4().hex
    at.text_input(key="trace_id_input").input(other).run()
    assert at.query_params["trace_id"] == other
    assert "span_id" not in at.query_params
    assert any(f"no trace {other}" in unescape(w.value) for w in at.warning)
    # clearing the box clears the URL
    at.text_input(key="trace_id_input").input("").run()
    assert "trace_id" not in at.query_params
    assert "Paste the trace ID" in shown(at)


@pytest.mark.usefixtures("endpoint")
def test_unknown_trace_shows_not_found() -> None:
    unknown = uuid.uuid4().hex
    at = open_app(trace_id=unknown)
    warnings = [unescape(w.value) for w in at.warning]
    assert any(f"no trace {unknown} in project 'default'" in w for w in warnings), warnings
    assert not [s for s in at.selectbox if s.label == "Span"]


@pytest.mark.usefixtures("endpoint")
def test_malformed_trace_id_shows_the_api_message() -> None:
    at = open_app(trace_id="not-a-trace-id")
    errors = [unescape(e.value) for e in at.error]
    expected = "'not-a-trace-id' is malformed: expected 32 hexadecimal characters"
    assert any(expected in e for e in errors), errors


def test_unreachable_collector_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("SPYGLASS_ENDPOINT", closed)
    expected = f"cannot reach the collector at {closed}: is `spyglass up` running?"
    at = open_app(trace_id=uuid.uuid4().hex)
    assert any(expected in unescape(e.value) for e in at.error), [e.value for e in at.error]
    for page in ("_traces_page.py", "_inbox_page.py"):
        at.switch_page(page).run()
        assert not at.exception
        assert any(expected in unescape(e.value) for e in at.error), page


# ---- the traces page --------------------------------------------------------------------


def trace_links(at: AppTest) -> list[str]:
    frames = [d.value for d in at.dataframe if "trace" in d.value.columns]
    return [link for frame in frames for link in frame["trace"].tolist()]


@pytest.mark.usefixtures("endpoint")
def test_traces_page_lists_and_filters(bot: Bot) -> None:
    at = open_app("_traces_page.py")
    link = f"./?trace_id={bot.trace_id}"
    assert link in trace_links(at)
    (table,) = [d.value for d in at.dataframe]
    row = table[table["trace"] == link].iloc[0]
    assert (row["name"], row["tenant"], row["release"], row["errors"]) == (
        "answer_question",
        "acme",
        "2026.11.2",
        1,
    )
    assert row["feedback"] == "2 events, negative, escalated"

    at.text_input(key="traces_tenant").input("acme").run()
    at.checkbox(key="traces_errors").check().run()
    at.checkbox(key="traces_negative").check().run()
    assert not at.exception
    assert link in trace_links(at)

    at.text_input(key="traces_tenant").input(f"no-such-tenant-{uuid.uuid4().hex[:6]}").run()
    assert not at.exception
    assert trace_links(at) == []
    assert any("No traces in this range yet" in i.value for i in at.info)

    at.text_input(key="traces_tenant").input("acme").run()
    at.number_input(key="traces_min_ms").set_value(3_600_000.0).run()  # an hour: longer than any bot run
    assert trace_links(at) == []


@pytest.mark.usefixtures("endpoint")
def test_traces_page_pages_through_results(collector: CollectorProcess) -> None:
    tenant = f"pager-{uuid.uuid4().hex[:8]}"
    now = time.time_ns()
    spans = [
        payloads.span(
            payloads.new_trace_id(),
            name=f"req-{i}",
            start_ns=now - i * 1_000_000_000,
            attrs={COHORT_TENANT: tenant},
        )
        for i in range(30)
    ]
    request = urllib.request.Request(
        f"{collector.url}/v1/traces",
        data=payloads.request(*spans).SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()
    wait_for(
        lambda: len(get_json(f"{collector.url}/api/traces?tenant={tenant}&limit=100")["traces"]) == 30,
        "30 traces to be listed",
    )
    at = open_app("_traces_page.py")
    at.text_input(key="traces_tenant").input(tenant).run()
    at.selectbox(key="traces_limit").select(25).run()
    (table,) = [d.value for d in at.dataframe]
    assert table["name"].tolist() == [f"req-{i}" for i in range(25)]  # newest first
    newer, older = at.button(key="traces_newer"), at.button(key="traces_older")
    assert newer.disabled and not older.disabled
    older.click().run()
    (table,) = [d.value for d in at.dataframe]
    assert table["name"].tolist() == [f"req-{i}" for i in range(25, 30)]
    assert at.button(key="traces_older").disabled and not at.button(key="traces_newer").disabled
    assert any("Traces 26 to 30" in c.value for c in at.caption)
    at.button(key="traces_newer").click().run()
    (table,) = [d.value for d in at.dataframe]
    assert table["name"].iloc[0] == "req-0"


# ---- the feedback inbox -----------------------------------------------------------------


def inbox_rows(at: AppTest, trace_id: str) -> list[dict[str, Any]]:
    frames = [d.value for d in at.dataframe if "trace" in d.value.columns]
    return [
        row
        for frame in frames
        for row in frame.to_dict("records")
        if row["trace"] == f"./?trace_id={trace_id}"
    ]


@pytest.mark.usefixtures("endpoint")
def test_inbox_open_then_resolved(bot: Bot) -> None:
    at = open_app("_inbox_page.py")
    assert at.selectbox(key="inbox_state").value == "open"
    rows = inbox_rows(at, bot.trace_id)
    assert {r["comment"] for r in rows} >= {bot.comment}
    assert {r["escalation"] for r in rows} >= {bot.escalation}
    assert {r["state"] for r in rows} == {"open"}

    resolution = f"refund policy doc fixed {uuid.uuid4().hex[:6]}"
    post_feedback(bot.url, [{"trace_id": bot.trace_id, "source": "support", "resolution": resolution}])

    def resolved() -> bool:
        events = get_json(f"{bot.url}/api/feedback?state=resolved&limit=500")["events"]
        return any(e["trace_id"] == bot.trace_id for e in events)

    wait_for(resolved, "the resolution to be stored")
    at.run()  # the open view no longer lists the trace
    assert not at.exception
    assert inbox_rows(at, bot.trace_id) == []
    at.selectbox(key="inbox_state").select("resolved").run()
    rows = inbox_rows(at, bot.trace_id)
    assert rows and {r["state"] for r in rows} == {"resolved"}
    assert {r["resolution"] for r in rows} == {resolution}
    # and the trace page shows the resolution in its feedback column
    trace_page = open_app(trace_id=bot.trace_id)
    assert resolution in shown(trace_page)
