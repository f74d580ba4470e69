"""How numbers and times from the API read on screen. Pure functions, no Streamlit."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any


def duration(ms: float | None) -> str:
    """``12.345`` -> ``"12.3 ms"``; seconds past one second; ``None`` -> ``"-"``."""
    if ms is None:
        return "-"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def usd(value: float) -> str:
    """Dollars with three significant digits below a dollar, cents above:
    ``$1,234.50``, ``$0.0123``, ``$0.0000862`` (never scientific notation)."""
    if value == 0:
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    decimals = max(2, 2 - math.floor(math.log10(abs(value))))
    text = f"{abs(value):.{decimals}f}".rstrip("0")
    text += "0" * max(0, 4 - len(text))  # at least two decimals: 0.5 -> 0.50
    return ("-$" if value < 0 else "$") + text


def trace_cost(cost_usd: float | None, unpriced_spans: int | None) -> str:
    """A trace's cost as the API reports it: ``None`` means no span could be priced (so the
    cost is unknown, not zero); unpriced spans make a known cost a lower bound."""
    unpriced = unpriced_spans or 0
    if cost_usd is None:
        return f"unknown ({unpriced} spans unpriced)" if unpriced else "unknown"
    if unpriced:
        return f"≥ {usd(cost_usd)} ({unpriced} span{'s' if unpriced != 1 else ''} unpriced)"
    return usd(cost_usd)


def span_cost(cost: dict[str, Any] | None) -> str | None:
    """An llm/embedding span's ``cost`` object -> text; ``None`` for spans that have none."""
    if not cost:
        return None
    if cost.get("usd") is not None:
        return usd(cost["usd"])
    reasons = {"unknown_model": "no price for this model", "no_usage": "no token counts"}
    status = cost.get("status") or "unknown"
    return f"unknown ({reasons.get(status, status)})"


def parse_time(value: str | None) -> datetime | None:
    """The API's ISO 8601 UTC strings (nine fraction digits) -> an aware datetime (to the µs)."""
    if not value:
        return None
    text = value.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        return None


def timestamp(value: str | None) -> str:
    """``2026-11-23T16:39:48.738149787Z`` -> ``2026-11-23 16:39:48.738 UTC``."""
    parsed = parse_time(value)
    if parsed is None:
        return value or "-"
    return parsed.strftime("%Y-%m-%d %H:%M:%S.") + f"{parsed.microsecond // 1000:03d} UTC"


def iso(moment: datetime) -> str:
    """An aware datetime -> the ISO 8601 UTC form the API accepts."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def since(window: timedelta, now: datetime | None = None) -> str:
    """The start of a window ending now, as an API ``since`` parameter."""
    return iso((now or datetime.now(UTC)) - window)


def tokens(input_tokens: int | None, output_tokens: int | None) -> str:
    """``(120, 30)`` -> ``"120 in / 30 out"``."""
    return f"{input_tokens or 0:,} in / {output_tokens or 0:,} out"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~$:])")
# After a newline only: callers never put client text at the start of a markdown block.
_MD_LINE_START = re.compile(r"(?<=\n)([ \t]*)([-+=]|\d+)([.)]?)")


def md(text: object) -> str:
    """Text from a client (comments, names, reasons) made inert inside Streamlit markdown:
    no links, emphasis, HTML, LaTeX or ``:color[]`` directives, no list or heading lines."""
    escaped = _MD_SPECIAL.sub(r"\\\1", str(text))
    return _MD_LINE_START.sub(_escape_line_start, escaped)


def _escape_line_start(match: re.Match[str]) -> str:
    indent, lead, dot = match.groups()
    if lead.isdigit():  # "1." starts a list; only the punctuation can be escaped
        return indent + lead + ("\\" + dot if dot else "")
    return indent + "\\" + lead + dot
