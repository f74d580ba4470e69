"""The report as one self-contained HTML page: inline CSS, charts as inline SVG, no script, no
external resource. Every string from the data is escaped; a Content-Security-Policy that
forbids scripts backs that up."""

from __future__ import annotations

from datetime import UTC

from ._collect import ReportData
from ._format import Block, Bullets, Cell, Chart, Paragraph, Section, Table, report_title
from ._svg import esc

CSS = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1f; margin: 0 auto;
       max-width: 1180px; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 8px;
       border-bottom: 1px solid #ddd; padding-bottom: 4px; } h3 { font-size: 15px; margin: 20px 0 6px; }
.meta { color: #666; margin: 0 0 12px; }
nav a { margin-right: 14px; color: #3b6ea5; text-decoration: none; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 12.5px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border: 1px solid #e0e0e0; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f7; font-weight: 600; }
td.worse, li.worse, p.worse { background: #fde8e8; color: #8a1c1c; }
td.better, li.better, p.better { background: #e6f4e6; color: #1f5f1f; }
td.muted { color: #999; } td.strong { font-weight: 700; }
td.block, p.block, li.block { background: #fde8e8; color: #8a1c1c; font-weight: 700; }
td.ship, p.ship, li.ship { background: #e6f4e6; color: #1f5f1f; font-weight: 700; }
td.not_enough_data, p.not_enough_data, li.not_enough_data { background: #fff5db; color: #6b5300; }
figure { margin: 8px 0 16px; } svg { max-width: 100%; height: auto; }
footer { margin-top: 40px; color: #666; font-size: 12px; }
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
METHOD = (
    "Rates carry 95% Wilson intervals; latency quantiles distribution-free 95% intervals (order "
    "statistics); cost per task a normal 95% interval. A week-over-week change is flagged when "
    "it is outside the noise at 99.9% (Newcombe interval of a rate's difference, non-overlapping "
    "quantile intervals, Welch's z for means), so a table of a hundred comparisons is not flagged "
    "by chance. Computed by the collector's /api/analytics endpoints."
)


def _cls(flag: str) -> str:
    return f' class="{esc(flag)}"' if flag else ""


def _cell(cell: Cell, tag: str = "td") -> str:
    cls = _cls(cell.flag)
    text = esc(cell.text)
    if cell.href:
        text = f'<a href="{esc(cell.href)}">{text}</a>'
    return f"<{tag}{cls}>{text}</{tag}>"


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p{_cls(block.flag)}>{esc(block.text)}</p>"
    if isinstance(block, Bullets):
        items = "".join(f"<li{_cls(p.flag)}>{esc(p.text)}</li>" for p in block.items)
        return f"<ul>{items}</ul>"
    if isinstance(block, Chart):
        return f'<figure aria-label="{esc(block.title)}">{block.svg}</figure>'
    if isinstance(block, Table):
        caption = f"<caption>{esc(block.caption)}</caption>" if block.caption else ""
        head = "".join(f"<th>{esc(h)}</th>" for h in block.headers)
        if not block.rows:
            body = f'<tr><td colspan="{len(block.headers)}" class="muted">no data in this window</td></tr>'
        else:
            body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in block.rows)
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    raise TypeError(f"unknown block {type(block).__name__}")


def _section(section: Section) -> str:
    tag = f"h{section.level}"
    inner = "\n".join(_block(b) for b in section.blocks)
    return f'<section id="{esc(section.id)}"><{tag}>{esc(section.title)}</{tag}>\n{inner}</section>'


def render_html(data: ReportData, sections: list[Section]) -> str:
    """The whole page."""
    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections if s.level == 2)
    generated = data.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(_section(s) for s in sections)
    heading = esc(report_title(data.project, data.since, data.until))
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{heading}</title><style>{CSS}</style></head>\n<body>\n"
        f"<header><h1>{heading}</h1>"
        f'<p class="meta">Generated {esc(generated)} from the collector at {esc(data.endpoint)}; '
        f"window {esc(f'{data.since:%Y-%m-%d %H:%M}')} to {esc(f'{data.until:%Y-%m-%d %H:%M}')} UTC.</p>"
        f"<nav>{nav}</nav></header>\n<main>\n{body}\n</main>\n"
        f"<footer><p>{esc(METHOD)}</p></footer>\n</body></html>\n"
    )
