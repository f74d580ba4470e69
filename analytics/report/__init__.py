"""The weekly evidence pack: ``spyglass report`` fetches the cohort review through the
collector's API (``collect``) and writes it as a self-contained HTML page with SVG charts and
as Markdown (``write_report``)."""

from __future__ import annotations

from pathlib import Path

from ._collect import ApiClient, ApiError, ReportData, collect, compare, parse_day_or_time
from ._detail_sections import cost, examples, gate, stages
from ._format import Section
from ._html import render_html
from ._markdown import render_markdown
from ._sections import scorecards, summary, week_over_week

__all__ = [
    "ApiClient",
    "ApiError",
    "ReportData",
    "build",
    "collect",
    "compare",
    "parse_day_or_time",
    "render_html",
    "render_markdown",
    "write_report",
]


def build(data: ReportData) -> list[Section]:
    """The report's sections, in reading order (the gate only when a candidate was named)."""
    out = [summary(data), *scorecards(data), week_over_week(data), stages(data), cost(data)]
    g = gate(data)
    if g is not None:
        out.append(g)
    out.append(examples(data))
    return out


def write_report(data: ReportData, out_dir: str | Path) -> list[Path]:
    """Write ``report.html`` and ``report.md`` into ``out_dir`` (created if needed); returns
    their paths.

    Example::

        data = collect(ApiClient("http://127.0.0.1:4318"), since, until, ui_url="http://127.0.0.1:8501")
        write_report(data, "spyglass-report-2026-11-15")
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sections = build(data)
    html_path, md_path = out / "report.html", out / "report.md"
    html_path.write_text(render_html(data, sections), encoding="utf-8")
    md_path.write_text(render_markdown(data, sections), encoding="utf-8")
    return [html_path, md_path]
