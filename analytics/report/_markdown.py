"""The report as Markdown (GitHub-flavoured tables): the same sections as the HTML page, charts
named with a pointer to report.html. Every string from the data is escaped so a cohort name
cannot break a table or inject markup."""

from __future__ import annotations

import re
import urllib.parse
from datetime import UTC

from ._collect import ReportData
from ._format import Block, Bullets, Cell, Chart, Paragraph, Section, Table, report_title

_SPECIAL = re.compile(r"([\\`*_{}\[\]<|~#])")
_LEADING = re.compile(r"^(\s*)(?:(>|[+-](?=\s|$))|(\d+)([.)])(?=\s|$))")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def md(text: object) -> str:
    """Text as literal Markdown: characters that could start markup (emphasis, code, links,
    HTML tags, table pipes, headings, a leading list or quote marker) backslash-escaped, line
    breaks and control characters turned into spaces.

    >>> md("a|b <script>")
    'a\\\\|b \\\\<script>'
    """
    escaped = _SPECIAL.sub(r"\\\1", _CONTROL.sub(" ", str(text)))
    return _LEADING.sub(_escape_marker, escaped)


def _escape_marker(m: re.Match[str]) -> str:
    if m.group(2):  # "- item", "+ item", "> quote"
        return f"{m.group(1)}\\{m.group(2)}"
    return f"{m.group(1)}{m.group(3)}\\{m.group(4)}"  # "1. item" -> "1\. item"


def _url(url: str) -> str:
    return urllib.parse.quote(url, safe=":/?#@!$&*+,;=%-._~")


def _cell(cell: Cell) -> str:
    text = md(cell.text)
    if cell.href:
        text = f"[{text}]({_url(cell.href)})"
    if cell.flag in ("worse", "better"):
        return f"**{text}** ({cell.flag})"
    if cell.flag in ("strong", "block", "ship", "not_enough_data"):
        return f"**{text}**"
    return text


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"**{md(block.text)}**" if block.flag in ("block", "worse") else md(block.text)
    if isinstance(block, Bullets):
        return "\n".join(
            f"- **{md(p.text)}**" if p.flag in ("block", "worse") else f"- {md(p.text)}" for p in block.items
        )
    if isinstance(block, Chart):
        return f"*Chart: {md(block.title)} (in report.html).*"
    if isinstance(block, Table):
        lines = [f"**{md(block.caption)}**", ""] if block.caption else []
        lines.append("| " + " | ".join(md(h) for h in block.headers) + " |")
        lines.append("|" + "---|" * len(block.headers))
        if not block.rows:
            lines.append("| no data in this window |" + " |" * (len(block.headers) - 1))
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
        return "\n".join(lines)
    raise TypeError(f"unknown block {type(block).__name__}")


def render_markdown(data: ReportData, sections: list[Section]) -> str:
    """The whole document."""
    generated = data.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        f"# {md(report_title(data.project, data.since, data.until))}",
        f"Generated {generated} from the collector at {md(data.endpoint)}; window "
        f"{data.since:%Y-%m-%d %H:%M} to {data.until:%Y-%m-%d %H:%M} UTC. Charts are in report.html.",
    ]
    for section in sections:
        parts.append(f"{'#' * section.level} {md(section.title)}")
        parts += [_block(b) for b in section.blocks]
    return "\n\n".join(parts) + "\n"
