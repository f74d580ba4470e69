"""The report rendered from fixed frames (no services): every section, well-formed SVG charts
with interval whiskers, HTML and Markdown that a hostile tenant name cannot inject into, flagged
week-over-week changes highlighted, example trace links, the gate section."""

from __future__ import annotations

import doctest
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from spyglass.analytics.gate import evaluate
from spyglass.analytics.report import (
    ReportData,
    _collect,
    _detail_sections,
    _markdown,
    _svg,
    build,
    render_html,
    render_markdown,
    write_report,
)
from spyglass.analytics.report._svg import Series, bar_chart, esc, stacked_chart

HOSTILE = "<script>alert(1)</script>&\"'|*_[x](javascript:alert(1))\n# owned\x00\x1b"
VISIBLE = "<script>alert(1)</script>&\"'|*_[x](javascript:alert(1)) # owned"  # as a reader sees it
SVG = "{http://www.w3.org/2000/svg}"
TIDS = {"good": "a" * 32, "bad": "b" * 32, "escalated": "c" * 32}


def card_row(**cohort: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "tasks": 400,
        "judgeable": True,
        "success_rate": 0.97,
        "success_rate_lo": 0.95,
        "success_rate_hi": 0.98,
        "error_rate": 0.03,
        "negative_feedback_rate": 0.06,
        "negative_feedback_rate_lo": 0.03,
        "negative_feedback_rate_hi": 0.11,
        "escalation_rate": 0.04,
        "fallback_rate": 0.02,
        "p50_ms": 1900.0,
        "p95_ms": 4100.0,
        "p95_ms_lo": 3800.0,
        "p95_ms_hi": 4600.0,
        "p99_ms": 5200.0,
        "p99_ms_lo": 4700.0,
        "p99_ms_hi": 6100.0,
        "cost_per_task": 0.0038,
        "cost_per_task_lo": 0.0035,
        "cost_per_task_hi": 0.0041,
        "tokens_per_task": 1650.0,
        "cost": 1.52,
        "unpriced_calls": 0,
        "denied_rate": 0.04,
    }
    return {**cohort, **row}


def wow_row(tenant: str | None, **flags: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"tasks_base": 300, "tasks_cand": 320, "judgeable": True}
    if tenant is not None:
        row["tenant"] = tenant
    for metric, (base, cand) in {
        "success_rate": (0.97, 0.97),
        "negative_feedback_rate": (0.06, 0.07),
        "error_rate": (0.02, 0.02),
        "escalation_rate": (0.04, 0.04),
        "p95_ms": (4000.0, 4100.0),
        "p99_ms": (5200.0, 5300.0),
        "cost_per_task": (0.0038, 0.0037),
    }.items():
        row |= {
            f"{metric}_base": base,
            f"{metric}_cand": cand,
            f"{metric}_changed": False,
            f"{metric}_worse": False,
        }
    for metric, (base, cand, worse) in flags.items():
        row |= {
            f"{metric}_base": base,
            f"{metric}_cand": cand,
            f"{metric}_changed": True,
            f"{metric}_worse": worse,
        }
    return row


def stage_row(tenant: str | None, tool_share: float) -> dict[str, Any]:
    row: dict[str, Any] = {"tenant": tenant, "tasks": 400, "tail_tasks": 20, "judgeable": True}
    rest = (1 - tool_share) / 4
    for stage, p95 in (
        ("model", 3800.0),
        ("retrieval", 140.0),
        ("rerank", 180.0),
        ("tool", 900.0),
        ("app", 9.0),
    ):
        row |= {f"{stage}_p50_ms": p95 / 2, f"{stage}_p95_ms": p95, f"{stage}_p99_ms": p95 * 1.3}
        row[f"{stage}_tail_share"] = tool_share if stage == "tool" else rest
    return row


def comparison() -> dict[str, Any]:
    def side(tasks: int, **extra: Any) -> dict[str, Any]:
        base = {
            "tasks_base": tasks,
            "tasks_cand": tasks,
            "denied_base": 5,
            "denied_cand": 5,
            "p95_ms_base": 4100.0,
            "p95_ms_cand": 6200.0,
            "p95_ms_changed": True,
        }
        return base | extra

    return {
        "by": ["tenant"],
        "dimension": "release",
        "baseline": "2026.11.1",
        "candidate": "2026.11.2",
        "overall": side(900, p95_ms_cand=4200.0, p95_ms_changed=False),
        "rows": [{"tenant": HOSTILE, **side(300)}, {"tenant": "hooli", **side(20)}],
    }


def data(with_gate: bool = True, empty: bool = False) -> ReportData:
    tenants = [
        card_row(tenant="acme"),
        card_row(tenant=HOSTILE),
        card_row(tenant="hooli") | {"judgeable": False},
    ]
    frames = {
        "": pl.DataFrame([card_row()]),
        "tenant": pl.DataFrame(tenants),
        "prompt": pl.DataFrame([card_row(prompt="answer@v3"), card_row(prompt="answer@v4")]),
        "model": pl.DataFrame([card_row(model="openai/gpt-4o"), card_row(model=None)]),
    }
    report = ReportData(
        project="default",
        since=datetime(2026, 11, 9, tzinfo=UTC),
        until=datetime(2026, 11, 16, tzinfo=UTC),
        ui_url="http://127.0.0.1:8501",
        scorecards={k: pl.DataFrame() for k in frames} if empty else frames,
        week_over_week=pl.DataFrame()
        if empty
        else pl.DataFrame(
            [wow_row("acme"), wow_row(HOSTILE, p99_ms=(5200.0, 7400.0, True), error_rate=(0.03, 0.01, False))]
        ),
        week_over_week_overall=pl.DataFrame() if empty else pl.DataFrame([wow_row(None)]),
        previous=("2026-11-02T00:00:00.000000000Z", "2026-11-08T23:59:59.999999999Z"),
        stages=pl.DataFrame()
        if empty
        else pl.DataFrame([stage_row("acme", 0.05), stage_row(HOSTILE, 0.62), stage_row(None, 0.34)]),
        examples={}
        if empty
        else {
            k: {
                "trace_id": t,
                "start_time": "2026-11-15T10:00:00.000000000Z",
                "name": "answer_question",
                "reason": k,
            }
            for k, t in TIDS.items()
        },
        endpoint="http://127.0.0.1:4318",
        generated_at=datetime(2026, 11, 16, 9, 0, tzinfo=UTC),
    )
    if with_gate:
        report.comparison = comparison()
        report.gate = evaluate(report.comparison)
    return report


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.hrefs: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name == "href" and value:
                self.hrefs.append(value)
            if name == "id" and value:
                self.ids.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Collector:
    parser = _Collector()
    parser.feed(page)
    parser.close()
    return parser


def svgs(page: str) -> list[ET.Element]:
    return [ET.fromstring(s) for s in re.findall(r"<svg\b.*?</svg>", page, flags=re.S)]


def test_doctests() -> None:
    for module in (_svg, _markdown, _collect, _detail_sections):
        assert doctest.testmod(module).failed == 0, module.__name__


def test_html_has_every_section_and_is_self_contained() -> None:
    page = render_html(data(), build(data()))
    parsed = parse(page)
    assert {
        "summary",
        "scorecard",
        "scorecard-tenant",
        "scorecard-prompt",
        "scorecard-model",
        "week-over-week",
        "stages",
        "cost",
        "gate",
        "examples",
    } <= set(parsed.ids)
    assert page.startswith("<!doctype html>")
    assert "<style>" in page and "Content-Security-Policy" in page
    # Nothing fetched from elsewhere: no scripts, stylesheets, images or frames.
    assert not {"script", "link", "img", "iframe", "object"} & set(parsed.tags)
    assert " src=" not in page
    text = "".join(parsed.text)
    assert "Spyglass review: project default, 2026-11-09 to 2026-11-15" in text
    assert "4.10 s (3.80 s\u20134.60 s)" in text  # p95 with its interval
    assert "$0.00380 ($0.00350\u2013$0.00410)" in text


def test_hostile_names_are_text_not_markup() -> None:
    page = render_html(data(), build(data()))
    parsed = parse(page)
    assert "script" not in parsed.tags
    assert not [
        h for h in parsed.hrefs if not h.startswith("http://127.0.0.1:8501/?trace_id=") and h[0] != "#"
    ]
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\x00" not in page and "\x1b" not in page
    # The name reads as it was sent (control characters replaced), in tables and sentences.
    text = "".join(parsed.text).replace("\ufffd", "")
    assert VISIBLE.replace("\n", "").replace(" # owned", "# owned") in text.replace("\n", "")
    assert "tenant=<script>alert(1)</script>" in text  # week over week and gate rows


def test_charts_are_well_formed_svg_with_whiskers() -> None:
    page = render_html(data(), build(data()))
    charts = svgs(page)
    titles = [c.find(f"{SVG}title").text for c in charts]  # type: ignore[union-attr]
    assert titles == [
        "p95 and p99 latency by tenant (95% intervals)",
        "Thumbs-down rate by tenant (95% intervals)",
        "Thumbs-down rate by prompt (95% intervals)",
        "p95 and p99 latency by model (95% intervals)",
        "Share of the slowest 5% of requests' time, by stage",
        "Cost per task by tenant (95% intervals)",
        "Cost per task by model (95% intervals)",
    ]
    latency = charts[0]
    bars = [r for r in latency.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    whiskers = list(latency.iter(f"{SVG}path"))
    assert len(bars) == len(whiskers) == 3 * 2  # three tenants, p95 and p99 each
    labels = [
        t.find(f"{SVG}title").text for t in latency.iter(f"{SVG}text") if t.find(f"{SVG}title") is not None
    ]  # type: ignore[union-attr]
    assert HOSTILE.replace("\x00", "\ufffd").replace("\x1b", "\ufffd") in labels
    # Bars scale: the p99 bar of 5.2 s is longer than the p95 bar of 4.1 s.
    widths = [float(r.get("width", 0)) for r in bars[:2]]
    assert widths[1] / widths[0] == pytest.approx(5200 / 4100, rel=0.01)
    stacked = charts[4]
    shares = [
        r.find(f"{SVG}title").text for r in stacked.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None
    ]  # type: ignore[union-attr]
    assert "all tool: 34%" in shares


def test_bar_chart_helper() -> None:
    chart = bar_chart(
        "rates",
        ["a", "b", "c"],
        [Series("r", [0.1, None, 0.5], lo=[0.05, None, 0.4], hi=[0.2, None, 0.6])],
        str,
    )
    root = ET.fromstring(chart)
    assert root.get("role") == "img" and root.get("aria-label") == "rates"
    assert len(list(root.iter(f"{SVG}path"))) == 2  # no whisker without a value
    assert "no data" in [t.text for t in root.iter(f"{SVG}text")]
    ET.fromstring(bar_chart("empty", [], [Series("x", [])], str))
    ET.fromstring(stacked_chart("s", ["x"], [("a", [0.5]), ("b", [None])]))
    assert esc("a\x07<b>") == "a\ufffd&lt;b&gt;"


def test_week_over_week_flags_are_highlighted() -> None:
    sections = build(data())
    page = render_html(data(), sections)
    assert re.search(r'<td class="worse">5\.20 s -&gt; 7\.40 s \(\+42%\)</td>', page)
    assert re.search(r'<td class="better">3\.0% -&gt; 1\.0% \(-2\.0 pp\)</td>', page)
    assert "p99 latency 5.20 s -&gt; 7.40 s (+42%), worse" in page
    assert "2 changes outside the noise against the previous 7 days" in page
    markdown = render_markdown(data(), sections)
    assert "**5.20 s -> 7.40 s (+42%)** (worse)" in markdown
    assert "**3.0% -> 1.0% (-2.0 pp)** (better)" in markdown


def test_stage_attribution_sentences() -> None:
    page = render_html(data(), build(data()))
    assert "all: the slowest 5% (20 requests) spend 34% in tool, 16% in model." in page
    assert "tenant=acme: the slowest 5% (20 requests) spend 24% in model, 24% in retrieval." in page


def test_gate_section_and_example_links() -> None:
    report = data()
    page = render_html(report, build(report))
    parsed = parse(page)
    text = "".join(parsed.text)
    assert (
        "release 2026.11.1 (baseline) against 2026.11.2 (candidate) in this window, cohorts by tenant: BLOCK."
        in text
    )
    assert "p95 latency 4.1 s -> 6.2 s (+51%, outside the noise at 99.9%), limit +10%" in text
    assert "not enough data" in text
    for tid in TIDS.values():
        assert f"http://127.0.0.1:8501/?trace_id={tid}" in parsed.hrefs
    assert [t for t in parsed.text if t in ("Good path", "Bad path", "Escalation")] == [
        "Good path",
        "Bad path",
        "Escalation",
    ]


def test_without_a_candidate_there_is_no_gate_section() -> None:
    report = data(with_gate=False)
    sections = build(report)
    assert "gate" not in [s.id for s in sections]
    assert "Release gate" not in render_markdown(report, sections)


def test_empty_window() -> None:
    report = data(with_gate=False, empty=True)
    page = render_html(report, build(report))
    assert "No requests in this window." in page
    assert "no data in this window" in page
    assert page.count("none in this window") == 3
    for chart in svgs(page):
        assert chart.tag == f"{SVG}svg"


def table_blocks(markdown: str) -> list[list[str]]:
    blocks, current = [], []
    for line in markdown.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    return blocks + ([current] if current else [])


def test_markdown_tables_and_escaping() -> None:
    report = data()
    markdown = render_markdown(report, build(report))
    for heading in (
        "# Spyglass review: project default, 2026-11-09 to 2026-11-15",
        "## At a glance",
        "## Cohort scorecard",
        "### By tenant",
        "### By prompt",
        "### By model",
        "## Week over week",
        "## Where the time goes",
        "## Cost",
        "## Release gate",
        "## Example traces",
    ):
        assert f"\n{heading}\n" in f"\n{markdown}"
    tables = table_blocks(markdown)
    assert len(tables) >= 9
    for table in tables:
        # Every row has as many cells as the header: no pipe from the data splits a cell.
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in table}
        assert len(widths) == 1, table
        assert re.fullmatch(r"\|(---\|)+", table[1])
    # The hostile name: no raw markup, no new heading line, no link.
    assert not re.search(r"(?<!\\)<", markdown) and "\\<script>" in markdown
    assert "\n# owned" not in markdown and "\\[x\\](javascript:alert(1))" in markdown
    assert "\x00" not in markdown and "\x1b" not in markdown
    scorecard = next(t for t in tables if t[0].startswith("| Tenant | Requests | Success"))
    assert scorecard[2].startswith("| acme | 400 | 97.0% (95.0%\u201398.0%) | 3.0% | 6.0% (3.0%\u201311.0%)")
    for kind, tid in zip(("Good path", "Bad path", "Escalation"), TIDS.values(), strict=True):
        assert f"| {kind} | [{tid}](http://127.0.0.1:8501/?trace_id={tid}) | answer\\_question |" in markdown
    assert "*Chart: p95 and p99 latency by tenant (in report.html).*" in markdown


def test_write_report(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "spyglass-report-2026-11-15"
    paths = write_report(data(), out)
    assert paths == [out / "report.html", out / "report.md"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert paths[0].read_text(encoding="utf-8").startswith("<!doctype html>")
