"""Numbers as the report prints them (the same in HTML and Markdown), and the neutral blocks the
two renderers turn into markup: paragraphs, bullet lists, tables of cells, charts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from ..gate import usd

__all__ = [
    "Block",
    "Bullets",
    "Cell",
    "Chart",
    "Paragraph",
    "Section",
    "Table",
    "ms",
    "pct",
    "report_title",
    "usd",
]

DASH = "\u2013"  # an en dash: no value
EN_DASH = "\u2013"


def _ok(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def pct(value: Any, digits: int = 1) -> str:
    """0.0612 -> "6.1%"; missing -> a dash."""
    return f"{value:.{digits}%}" if _ok(value) else DASH


def ms(value: Any) -> str:
    """Milliseconds as "850 ms" or "4.10 s"; missing -> a dash."""
    if not _ok(value):
        return DASH
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def money(value: Any) -> str:
    return usd(value) if _ok(value) else DASH


def count(value: Any) -> str:
    return f"{int(value):,}" if _ok(value) else DASH


def interval(fmt: Any, value: Any, lo: Any, hi: Any) -> str:
    """A value with its 95% interval, "6.1% (4.0% to 9.2%)" with an en dash, when there is one."""
    if not _ok(value):
        return DASH
    if _ok(lo) and _ok(hi):
        return f"{fmt(value)} ({fmt(lo)}{EN_DASH}{fmt(hi)})"
    return fmt(value)


def metric_interval(fmt: Any, row: dict[str, Any], metric: str) -> str:
    """``interval`` of ``row[metric]`` with its ``_lo``/``_hi`` bounds from the same row."""
    return interval(fmt, row.get(metric), row.get(f"{metric}_lo"), row.get(f"{metric}_hi"))


def change(kind: str, base: Any, cand: Any) -> str:
    """The change from ``base`` to ``cand``: percentage points for rates, percent otherwise."""
    if not (_ok(base) and _ok(cand)):
        return ""
    if kind == "rate":
        return f"{(cand - base) * 100:+.1f} pp"
    if base == 0:
        return "from zero" if cand else "+0%"
    rel = (cand - base) / base * 100
    return f"{rel:+.0f}%" if abs(rel) >= 10 else f"{rel:+.1f}%"


def report_title(project: str, since: datetime, until: datetime) -> str:
    """ "Spyglass review: project default, 2026-11-09 to 2026-11-15": whole days name their last
    day (the window ends at the next midnight), other windows their exact end."""
    if (until.hour, until.minute, until.second, until.microsecond) == (0, 0, 0, 0):
        last = f"{until - timedelta(days=1):%Y-%m-%d}"
    else:
        last = f"{until:%Y-%m-%d %H:%M} UTC"
    return f"Spyglass review: project {project}, {since:%Y-%m-%d} to {last}"


def level(confidence: float) -> str:
    """0.95 -> "95%", 0.999 -> "99.9%"."""
    return f"{confidence:.1%}".replace(".0%", "%")


def records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dicts() if frame.height else []


def labels(frame: pl.DataFrame, dim: str) -> list[str]:
    """The cohort labels of a scorecard's ``dim`` column."""
    return [label(v) for v in frame[dim].to_list()] if dim in frame.columns else []


def label(value: Any) -> str:
    """A cohort value as shown: null or empty -> "(none)"."""
    return "(none)" if value is None or value == "" else str(value)


@dataclass
class Cell:
    """One table cell. ``flag``: "worse", "better", "muted", "strong", or a verdict ("ship",
    "block", "not_enough_data"); ``href`` makes it a link."""

    text: str
    flag: str = ""
    href: str = ""


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    caption: str = ""


@dataclass
class Chart:
    """An SVG chart (HTML only; Markdown names it and points to report.html)."""

    svg: str
    title: str


@dataclass
class Paragraph:
    text: str
    flag: str = ""


@dataclass
class Bullets:
    items: list[Paragraph]


Block = Table | Chart | Paragraph | Bullets


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    level: int = 2
