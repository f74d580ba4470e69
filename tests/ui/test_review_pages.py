"""The cohort review pages (cohorts, latency, releases, cost) through Streamlit's ``AppTest``,
against a real collector holding the demo workload: 2,000 requests over 14 days with its two
planted problems (globex's slow ``lookup_customer`` tool in the newest week, prompt answer@v4
at 18% thumbs-down against 6% for v3). No mocks.

The demo runs once for the module, in its own project (so the session's other data never
mixes in), with its window ending at a fixed midnight UTC (the same data on every run): its newest week is
then exactly the seven whole days before that "today", the window the pages are opened on.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from spyglass import attributes as A
from spyglass.ui._scorecard import DASH
from tests import payloads
from tests.conftest import ROOT, CollectorProcess, free_port, run_demo

pytestmark = pytest.mark.integration

APP = ROOT / "ui" / "app.py"
TIMEOUT = 60
TRACES = 2000  # at 400 the v4 thumbs-down rise is real but inside the API's 99.9% noise band
DAY = 86_400
NOW = 1_789_948_800  # a fixed midnight UTC (2026-09-21): the same demo data every day
TODAY = datetime.fromtimestamp(NOW, UTC).date()
WEEK = (TODAY - timedelta(days=7), TODAY - timedelta(days=1))  # the demo's newest week
ALL = (TODAY - timedelta(days=14), TODAY - timedelta(days=1))  # all of the demo's 14 days
EMPTY = (date(2020, 1, 1), date(2020, 1, 7))
TENANTS = {"acme", "globex", "initech", "umbrella", "hooli"}
REVIEW_PAGES = ("_cohorts_page.py", "_latency_page.py", "_releases_page.py", "_cost_page.py")


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@dataclass(frozen=True)
class Demo:
    url: str
    project: str


def load_demo(url: str, project: str) -> None:
    """The demo as its own process, its spans and feedback in ``project``."""
    args = ["--traces", str(TRACES), "--days", "14", "--seed", "5", "--now", str(NOW), "--project", project]
    run_demo(url, *args, timeout=180)


@pytest.fixture(scope="module")
def demo(collector: CollectorProcess) -> Demo:
    project = f"review-{uuid.uuid4().hex[:8]}"
    load_demo(collector.url, project)
    since, until = f"{ALL[0]}T00:00:00Z", f"{TODAY}T00:00:00Z"
    seen: list[tuple[int, ...]] = []

    def stored() -> bool:  # every request, and the feedback no longer moving
        (row,) = get_json(
            f"{collector.url}/api/analytics/cohorts?project={project}&since={since}&until={until}"
        )["rows"]
        seen.append(tuple(row[k] or 0 for k in ("tasks", "rated", "negative", "escalations")))
        return seen[-1][0] == TRACES and len(seen) > 2 and seen[-1] == seen[-3]

    wait_for(stored, f"the demo's {TRACES} requests and their feedback to be stored")
    return Demo(collector.url, project)


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch, collector: CollectorProcess) -> str:
    monkeypatch.setenv("SPYGLASS_ENDPOINT", collector.url)
    return collector.url


def unescape(text: str) -> str:
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def shown(at: AppTest) -> str:
    parts: list[str] = []
    for kind in ("title", "subheader", "markdown", "caption", "error", "warning", "info", "success"):
        parts.extend(unescape(str(e.value)) for e in getattr(at, kind))
    return "\n".join(parts)


def open_page(page: str, project: str, window: tuple[date, date] = WEEK) -> AppTest:
    """The app opened on ``page`` with the window and project in the URL."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(project=project, since=str(window[0]), until=str(window[1]))
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def in_order(node: Any) -> Iterator[Any]:
    """The page's elements in the order they are drawn (columns and expanders flattened)."""
    for child in getattr(node, "children", {}).values():
        if isinstance(child, Block):
            yield from in_order(child)
        else:
            yield child


def table(at: AppTest, after: str | None = None, column: str | None = None) -> Any:
    """The first table drawn after the text, heading or widget label ``after``, or the only
    table with ``column``."""
    if column is not None:
        (found,) = [d for d in at.dataframe if column in d.value.columns]
        return found
    passed = False
    for e in in_order(at.main):
        text = str(getattr(e, "label", None) or getattr(e, "value", ""))
        if not passed and e.type in ("markdown", "subheader", "selectbox", "multiselect") and after in text:
            passed = True
        elif passed and e.type == "dataframe":
            return e
    raise AssertionError(f"no table after {after!r}")


def styled_cells(found: Any) -> dict[tuple[int, str], str]:
    """The coloured cells of a styled table: (row, column) -> CSS colour."""
    columns = list(found.value.columns)
    cells = {}
    for selectors, colour in re.findall(
        r"([^{}]+)\{ background-color: (rgba\([^)]*\)) \}", found.proto.arrow_data.styler.styles
    ):
        for row, col in re.findall(r"row(\d+)_col(\d+)", selectors):
            cells[int(row), columns[int(col)]] = colour
    return cells


def chart_values(at: AppTest) -> list[list[dict[str, Any]]]:
    """The data of each chart on the page (Streamlit ships it beside the spec, as Arrow)."""
    out = []
    for chart in at.get("vega_lite_chart"):
        sets = [chart.proto.data, *(d.data for d in chart.proto.datasets)]
        out.append(
            [row for ds in sets if ds.data for row in pa.ipc.open_stream(ds.data).read_all().to_pylist()]
        )
    return out


RATE = re.compile(rf"^\d{{1,3}}\.\d% \(\d{{1,3}}\.\d{DASH}\d{{1,3}}\.\d\)$")
DURATION = re.compile(rf"^\d[\d.,]* (ms|s) \(\d[\d.,]* (ms|s){DASH}\d[\d.,]* (ms|s)\)$")


# ---- cohorts ----------------------------------------------------------------------------


@pytest.mark.usefixtures("endpoint")
def test_cohorts_scorecard_ranks_globex_slowest(demo: Demo) -> None:
    at = open_page("_cohorts_page.py", demo.project)
    card = table(at, column="vs previous window").value
    assert set(card["tenant"]) == TENANTS
    assert (card["status"] == "").all()  # 140 to 320 requests each: all judgeable
    assert all(RATE.match(v) for v in card["success"]), card["success"].tolist()
    assert all(RATE.match(v) for v in card["negative feedback"])
    assert all(DURATION.match(v) for v in card["p95"]), card["p95"].tolist()
    # p99 has an interval only when the cohort is large enough to bound it (else the value alone)
    assert all(DURATION.match(v) or re.fullmatch(r"\d[\d.]* (ms|s)", v) for v in card["p99"])
    assert all(v.startswith("$") for v in card["cost per task"])
    # ranked worst first by the chosen metric: error rate by default
    errors = [float(v.split("%")[0]) for v in card["errors"]]
    assert errors == sorted(errors, reverse=True)
    # by p99: the planted slow tool puts globex first
    at.selectbox(key="cohorts_rank").select("p99_ms").run()
    assert table(at, column="vs previous window").value["tenant"].iloc[0] == "globex"
    # both charts carry every cohort, with the intervals the API gave
    latency, rates = chart_values(at)
    assert {v["cohort"] for v in latency} == {f"tenant={t}" for t in TENANTS}
    assert {v["quantile"] for v in latency} == {"p95", "p99"}
    assert all(v["lo"] <= v["ms"] <= v["hi"] for v in latency if v["quantile"] == "p95")
    assert {v["cohort"] for v in rates} == {f"tenant={t}" for t in TENANTS}
    assert all(v["lo"] - 1e-9 <= v["rate"] <= v["hi"] + 1e-9 for v in rates)  # 0 errors: lo ~1e-18


def post_spans(url: str, project: str, spans: list[Any]) -> None:
    body = payloads.request(*spans, resource={"service.name": "review-tests", A.PROJECT: project})
    request = urllib.request.Request(
        f"{url}/v1/traces",
        data=body.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


def wait_for_tasks(url: str, project: str, tasks: int) -> None:
    query = f"{url}/api/analytics/cohorts?project={project}&since={ALL[0]}T00:00:00Z&until={TODAY}T23:59:59Z"
    wait_for(lambda: sum(r["tasks"] for r in get_json(query)["rows"]) == tasks, f"{tasks} requests")


@pytest.fixture(scope="module")
def wow_project(collector: CollectorProcess) -> str:
    """Two tenants of 60 requests a week: "flaky" fails half its requests in the newest week
    only, "mended" half of them in the week before only."""
    project = f"review-wow-{uuid.uuid4().hex[:8]}"
    spans = []
    for tenant, failing_week in (("flaky", 1), ("mended", 2)):
        for week in (1, 2):  # 1: the newest week, 2: the one before
            start = (NOW - week * 7 * DAY + DAY) * 10**9
            for i in range(60):
                error = "boom" if week == failing_week and i % 2 else None
                attrs = {A.COHORT_TENANT: tenant}
                span = payloads.span(
                    payloads.new_trace_id(), attrs=attrs, start_ns=start + i * 10**9, error=error
                )
                spans.append(span)
    post_spans(collector.url, project, spans)
    wait_for_tasks(collector.url, project, 240)
    return project


@pytest.mark.usefixtures("endpoint")
def test_week_over_week_changes_are_coloured(wow_project: str) -> None:
    at = open_page("_cohorts_page.py", wow_project)
    scorecard = table(at, column="vs previous window")
    card = scorecard.value
    assert card["tenant"].tolist() == ["flaky", "mended"]  # ranked by error rate
    flags = dict(zip(card["tenant"], card["vs previous window"], strict=True))
    assert "errors ▲ worse" in flags["flaky"] and "success ▼ worse" in flags["flaky"]
    assert "errors ▼ better" in flags["mended"] and "success ▲ better" in flags["mended"]
    cells = styled_cells(scorecard)
    red, green = "rgba(255, 75, 75, 0.28)", "rgba(33, 195, 84, 0.28)"
    assert cells[0, "errors"] == cells[0, "success"] == cells[0, "vs previous window"] == red
    assert cells[1, "errors"] == cells[1, "success"] == cells[1, "vs previous window"] == green
    assert (0, "p99") not in cells and (1, "requests") not in cells
    assert "Red: worse than the 7 days before" in shown(at)


@pytest.mark.usefixtures("endpoint")
def test_cohorts_worst_traces_of_a_cohort(demo: Demo) -> None:
    at = open_page("_cohorts_page.py", demo.project)
    at.selectbox(key="cohorts_cohort").select("tenant=globex").run()
    assert not at.exception
    slowest = table(at, after="Slowest").value
    assert 0 < len(slowest) <= 10 and set(slowest["tenant"]) == {"globex"}
    assert all(
        re.fullmatch(rf"\./\?trace_id=[0-9a-f]{{32}}&project={demo.project}", t) for t in slowest["trace"]
    )
    seconds = [float(d.split()[0]) * (1 if d.endswith(" s") else 0.001) for d in slowest["duration"]]
    assert seconds == sorted(seconds, reverse=True)  # sort=slowest
    negative = table(at, after="With negative feedback").value
    assert set(negative["tenant"]) == {"globex"}
    assert all("negative" in f for f in negative["feedback"])
    # a day cohort: its traces are from that day (the day narrows the trace list's window)
    at.multiselect(key="cohorts_by").set_value(["day"]).run()
    day = str(WEEK[0] + timedelta(days=2))
    at.selectbox(key="cohorts_cohort").select(f"day={day}").run()
    assert not at.exception
    started = table(at, after="Slowest").value["started"]
    assert len(started) == 10 and all(s.startswith(day) for s in started)
    assert set(table(at, column="vs previous window").value["vs previous window"]) == {""}  # not by day


@pytest.mark.usefixtures("endpoint")
def test_small_cohorts_are_listed_last_and_not_charted(demo: Demo) -> None:
    at = open_page("_cohorts_page.py", demo.project)
    at.multiselect(key="cohorts_by").select("intent").run()
    at.multiselect(key="cohorts_by").select("release").run()
    assert not at.exception
    card = table(at, column="vs previous window").value
    small = (card["status"] == "too small to judge").tolist()
    assert any(small) and not all(small)
    assert small == sorted(small)  # every judgeable cohort before every small one
    assert re.search(r"\d+ cohorts? too small to judge, listed last", shown(at))
    judged = {
        " · ".join(f"{d}={r[d]}" for d in ("tenant", "intent", "release"))
        for _, r in card.iterrows()
        if not r["status"]
    }
    (latency, _) = chart_values(at)
    assert {v["cohort"] for v in latency} == judged


# ---- latency ----------------------------------------------------------------------------


@pytest.mark.usefixtures("endpoint")
def test_latency_tail_attribution_points_at_globex_tool(demo: Demo) -> None:
    at = open_page("_latency_page.py", demo.project)
    stages = table(at, after="Time per stage").value
    assert set(stages["tenant"]) == TENANTS
    assert set(stages["stage"]) == {"model", "retrieval", "rerank", "tool", "app"}
    assert all(re.fullmatch(r"\d[\d.]* (ms|s)", v) for v in stages["p95"])
    (tail,) = chart_values(at)
    share = {(v["cohort"], v["stage"]): v["share"] for v in tail}
    for tenant in TENANTS:  # the shares of each cohort's slowest 5% add up to one
        assert sum(s for (c, _), s in share.items() if c == f"tenant={tenant}") == pytest.approx(1, abs=1e-6)
    # the slow tool makes globex's tail; elsewhere the model does
    others = max(share[f"tenant={t}", "tool"] for t in TENANTS - {"globex"})
    assert share["tenant=globex", "tool"] > max(0.3, 3 * others)
    assert "Largest share per cohort: tenant=acme: model" in shown(at)


# ---- releases ---------------------------------------------------------------------------


@pytest.mark.usefixtures("endpoint")
def test_releases_prompt_v4_negative_feedback_flagged_and_gate_blocks(demo: Demo) -> None:
    at = open_page("_releases_page.py", demo.project, ALL)
    at.selectbox(key="releases_dimension").select("prompt").run()
    assert set(at.selectbox(key="releases_prompt_baseline").options) >= {"answer@v3", "answer@v4"}
    at.selectbox(key="releases_prompt_baseline").select("answer@v3").run()
    at.selectbox(key="releases_prompt_candidate").select("answer@v4").run()
    assert not at.exception
    assert "answer@v3 → answer@v4" in shown(at)
    overall_table = table(at, after="answer@v3 → answer@v4")
    overall = overall_table.value.set_index("metric")
    negative = overall.loc["negative feedback"]
    assert negative["change"] == "worse"
    assert RATE.match(negative["baseline"]) and RATE.match(negative["candidate"])
    assert float(negative["baseline"].split("%")[0]) < 10 < 14 < float(negative["candidate"].split("%")[0])
    assert re.fullmatch(rf"\+\d+\.\d pts \(\+\d+\.\d{DASH}\+\d+\.\d\)", negative["difference"])
    assert overall.loc["p50", "change"] == "no clear change"  # v3 and v4 differ only in thumbs
    row = overall.index.get_loc("negative feedback")
    cells = styled_cells(overall_table)
    assert cells[row, "change"] == cells[row, "difference"] == "rgba(255, 75, 75, 0.28)"
    (gate,) = [unescape(e.value) for e in at.error]
    assert gate.startswith("**Gate: block.**") and "overall: negative-feedback rate" in gate
    assert "overall at 95.0% confidence, per cohort at 99.9%" in shown(at)

    at.multiselect(key="releases_by").select("tenant").run()
    assert not at.exception
    options = at.selectbox(key="releases_cohort").options
    assert set(options) == {f"tenant={t}" for t in TENANTS}
    at.selectbox(key="releases_cohort").select("tenant=hooli").run()
    assert set(table(at, after="Every metric of a cohort").value["metric"]) >= {
        "negative feedback",
        "p99",
        "cost per task",
    }


@pytest.mark.usefixtures("endpoint")
def test_releases_default_compares_the_two_releases(demo: Demo) -> None:
    at = open_page("_releases_page.py", demo.project, ALL)
    assert at.selectbox(key="releases_dimension").value == "release"
    assert "2026.11.1 → 2026.11.2" in shown(at)
    assert len(table(at, after="2026.11.1 → 2026.11.2").value) >= 15


# ---- cost -------------------------------------------------------------------------------


@pytest.mark.usefixtures("endpoint")
def test_cost_by_model_route_and_by_day(demo: Demo) -> None:
    at = open_page("_cost_page.py", demo.project, ALL)
    models = table(at, after="By model").value
    assert models["model"].tolist() == ["openai/gpt-4o", "openai/gpt-4o-mini"]  # by total cost
    assert models["requests"].sum() == TRACES
    assert all(re.fullmatch(rf"\$0\.\d+ \(\$0\.\d+{DASH}\$0\.\d+\)", v) for v in models["cost per task"])
    assert (models["unpriced calls"] == 0).all()
    assert "unpriced" not in shown(at)
    cost, tokens = chart_values(at)
    days = {v["day"] for v in cost}
    assert len(days) >= 14 and max(days) < str(TODAY)
    assert {v["cohort"] for v in tokens} == {"model=openai/gpt-4o", "model=openai/gpt-4o-mini"}

    at.selectbox(key="cost_dimension").select("tenant").run()
    assert set(table(at, after="By tenant").value["tenant"]) == TENANTS


@pytest.fixture(scope="module")
def odd_project(collector: CollectorProcess) -> str:
    """A project with two requests on a model missing from the price table, in releases
    whose names are markdown."""
    project = f"review-odd-{uuid.uuid4().hex[:8]}"
    start = (NOW - DAY // 2) * 10**9
    spans = []
    for i, release in enumerate(("**1.0** [x](https://evil.example)", ":red[2.0]")):
        trace_id, root = payloads.new_trace_id(), os.urandom(8)
        cohort = {A.COHORT_TENANT: "odd", A.COHORT_RELEASE: release}
        spans.append(payloads.span(trace_id, name="answer", span_id=root, attrs=cohort, start_ns=start + i))
        llm = {
            **cohort,
            A.SPAN_KIND: "llm",
            A.GEN_AI_REQUEST_MODEL: "mystery-model-9",
            A.GEN_AI_PROVIDER_NAME: "nowhere",
            A.GEN_AI_USAGE_INPUT_TOKENS: 100,
            A.GEN_AI_USAGE_OUTPUT_TOKENS: 10,
        }
        spans.append(payloads.span(trace_id, name="chat", parent=root, attrs=llm, start_ns=start + i))
    post_spans(collector.url, project, spans)
    wait_for_tasks(collector.url, project, 2)
    return project


@pytest.mark.usefixtures("endpoint")
def test_cost_says_which_calls_are_unpriced(odd_project: str) -> None:
    at = open_page("_cost_page.py", odd_project, (WEEK[0], TODAY))
    (warning,) = [unescape(w.value) for w in at.warning]
    assert warning.startswith("2 calls unpriced: add their model to the price file")
    assert "nowhere/mystery-model-9 (2)" in warning
    assert table(at, after="By model").value["unpriced calls"].tolist() == [2]


@pytest.mark.usefixtures("endpoint")
def test_client_strings_are_escaped(odd_project: str) -> None:
    at = open_page("_releases_page.py", odd_project, (WEEK[0], TODAY))
    (heading,) = [s.value for s in at.subheader]
    assert "\\*\\*1.0\\*\\* \\[x\\](https\\://evil.example)" in heading and "\\:red\\[2.0\\]" in heading
    assert "Gate: not enough data" in shown(at)  # one request on each side


# ---- empty window, bad input, no collector ------------------------------------------------


@pytest.mark.usefixtures("endpoint")
@pytest.mark.parametrize("page", REVIEW_PAGES)
def test_empty_window_says_so(demo: Demo, page: str) -> None:
    at = open_page(page, demo.project, EMPTY)
    assert any("No requests in this window (2020-01-01 to 2020-01-07 UTC" in i.value for i in at.info)
    assert not at.dataframe and not at.error


@pytest.mark.usefixtures("endpoint")
def test_bad_filter_shows_the_api_message(demo: Demo) -> None:
    at = open_page("_cohorts_page.py", demo.project)
    at.text_input(key="cohorts_f_tenant").input("x" * 300).run()
    assert not at.exception
    errors = [unescape(e.value) for e in at.error]
    assert any("tenant" in e and "200" in e for e in errors), errors
    assert not at.dataframe


@pytest.mark.parametrize("page", REVIEW_PAGES)
def test_unreachable_collector_is_a_message(monkeypatch: pytest.MonkeyPatch, page: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("SPYGLASS_ENDPOINT", closed)
    at = open_page(page, "default")
    expected = f"cannot reach the collector at {closed}: is `spyglass up` running?"
    assert any(expected in unescape(e.value) for e in at.error), [e.value for e in at.error]


def test_window_follows_across_review_pages(
    monkeypatch: pytest.MonkeyPatch, collector: CollectorProcess
) -> None:
    monkeypatch.setenv("SPYGLASS_ENDPOINT", collector.url)
    at = open_page("_latency_page.py", "default", EMPTY)
    at.date_input(key="latency_window").set_value((date(2021, 3, 1), date(2021, 3, 2))).run()
    at.switch_page("_cost_page.py").run()
    assert at.date_input(key="cost_window").value == (date(2021, 3, 1), date(2021, 3, 2))
    assert any("2021-03-01 to 2021-03-02 UTC" in i.value for i in at.info)
