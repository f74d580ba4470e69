"""Small, dependency-free SVG charts for the report: horizontal bars with interval whiskers, and
stacked shares. Every text from the data is escaped (and stripped of characters XML forbids),
so the output is well-formed XML whatever a tenant is called."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

PALETTE = ("#3b6ea5", "#e08a2e", "#5a9e4b", "#b04a5a", "#7d5ba6", "#8c8c8c")
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

LABEL_W, VALUE_W, PAD, BAR_H, BAR_GAP, GROUP_GAP = 180, 96, 12, 12, 3, 12


def esc(text: object) -> str:
    """Text safe in XML and HTML content and in double- or single-quoted attributes."""
    return html.escape(_XML_FORBIDDEN.sub("\ufffd", str(text)), quote=True)


def _short(label: str, limit: int = 26) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


@dataclass(frozen=True)
class Series:
    """One bar per category: ``values`` with optional interval ``lo``/``hi`` (whiskers)."""

    name: str
    values: Sequence[float | None]
    lo: Sequence[float | None] | None = None
    hi: Sequence[float | None] | None = None


def nice_step(span: float, ticks: int = 4) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about ``ticks`` ticks.

    >>> nice_step(4100), nice_step(0.18), nice_step(0)
    (2000.0, 0.05, 1.0)
    """
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * power:
            return float(mult * power)
    return float(10 * power)


def _finite(values: Sequence[float | None] | None) -> list[float]:
    return [float(v) for v in values or () if v is not None and math.isfinite(v)]


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[float], str],
    width: int = 720,
) -> str:
    """Horizontal bars, one group per label and one bar per series, each with its interval as
    a whisker; the value printed at the right. Returns an ``<svg>`` element.

    Example::

        bar_chart("p95 latency by tenant", ["acme", "globex"],
                  [Series("p95", [850.0, 4100.0], lo=[800.0, 3600.0], hi=[910.0, 5200.0])], ms)
    """
    top = PAD + 22 + (16 if len(series) > 1 else 0)
    group_h = len(series) * (BAR_H + BAR_GAP) - BAR_GAP
    plot_h = max(1, len(labels)) * (group_h + GROUP_GAP)
    height = top + plot_h + 28
    x0, x1 = LABEL_W, width - VALUE_W
    peak = max(
        [*_finite([v for s in series for v in s.values]), *_finite([v for s in series for v in s.hi or ()])],
        default=0.0,
    )
    step = nice_step(peak)
    axis_max = step * max(1, math.ceil(peak / step)) if peak > 0 else 1.0

    def x(v: float) -> float:
        return x0 + (x1 - x0) * max(0.0, min(v, axis_max)) / axis_max

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}" font-family="sans-serif" '
        'font-size="11">',
        f"<title>{esc(title)}</title>",
        f'<text x="{PAD}" y="{PAD + 12}" font-size="13" font-weight="bold">{esc(title)}</text>',
    ]
    if len(series) > 1:
        lx = x0
        for i, s in enumerate(series):
            color = PALETTE[i % len(PALETTE)]
            out.append(f'<rect x="{lx}" y="{PAD + 22}" width="10" height="10" fill="{color}"/>')
            out.append(f'<text x="{lx + 14}" y="{PAD + 31}">{esc(s.name)}</text>')
            lx += 24 + 7 * len(s.name)
    tick = 0.0
    while tick <= axis_max + step / 2:
        tx = x(tick)
        out.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{top + plot_h}" stroke="#e3e3e3"/>')
        out.append(
            f'<text x="{tx:.1f}" y="{top + plot_h + 14}" text-anchor="middle" fill="#555">'
            f"{esc(fmt(tick))}</text>"
        )
        tick += step
    for gi, label in enumerate(labels):
        gy = top + gi * (group_h + GROUP_GAP)
        out.append(
            f'<text x="{x0 - 8}" y="{gy + group_h / 2 + 4:.1f}" text-anchor="end">'
            f"<title>{esc(label)}</title>{esc(_short(label))}</text>"
        )
        for si, s in enumerate(series):
            y = gy + si * (BAR_H + BAR_GAP)
            value = s.values[gi] if gi < len(s.values) else None
            color = PALETTE[si % len(PALETTE)]
            if value is None or not math.isfinite(value):
                out.append(f'<text x="{x0 + 4}" y="{y + BAR_H - 2}" fill="#888">no data</text>')
                continue
            out.append(
                f'<rect x="{x0}" y="{y}" width="{x(value) - x0:.1f}" height="{BAR_H}" fill="{color}">'
                f"<title>{esc(f'{label} {s.name}: {fmt(value)}')}</title></rect>"
            )
            lo = s.lo[gi] if s.lo is not None and gi < len(s.lo) else None
            hi = s.hi[gi] if s.hi is not None and gi < len(s.hi) else None
            if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
                cy, a, b = y + BAR_H / 2, x(lo), x(hi)
                out.append(
                    f'<path d="M{a:.1f},{cy - 4:.1f}V{cy + 4:.1f}M{a:.1f},{cy:.1f}H{b:.1f}'
                    f'M{b:.1f},{cy - 4:.1f}V{cy + 4:.1f}" stroke="#222" stroke-width="1.2" fill="none"/>'
                )
            out.append(f'<text x="{x1 + 6}" y="{y + BAR_H - 2}">{esc(fmt(value))}</text>')
    out.append("</svg>")
    return "".join(out)


def stacked_chart(
    title: str,
    labels: Sequence[str],
    parts: Sequence[tuple[str, Sequence[float | None]]],
    width: int = 720,
) -> str:
    """One bar per label split into ``parts`` (name, share per label), shares of 1; each part's
    percentage written inside when there is room. Returns an ``<svg>`` element."""
    top = PAD + 22 + 16
    row_h = BAR_H + 8
    height = top + max(1, len(labels)) * (row_h + 4) + 12
    x0, x1 = LABEL_W, width - PAD
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}" font-family="sans-serif" '
        'font-size="11">',
        f"<title>{esc(title)}</title>",
        f'<text x="{PAD}" y="{PAD + 12}" font-size="13" font-weight="bold">{esc(title)}</text>',
    ]
    lx = x0
    for i, (name, _) in enumerate(parts):
        out.append(
            f'<rect x="{lx}" y="{PAD + 22}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
        )
        out.append(f'<text x="{lx + 14}" y="{PAD + 31}">{esc(name)}</text>')
        lx += 24 + 7 * len(name)
    for li, label in enumerate(labels):
        y = top + li * (row_h + 4)
        out.append(
            f'<text x="{x0 - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end">'
            f"<title>{esc(label)}</title>{esc(_short(label))}</text>"
        )
        cursor = float(x0)
        for pi, (name, shares) in enumerate(parts):
            share = shares[li] if li < len(shares) else None
            if share is None or not math.isfinite(share) or share <= 0:
                continue
            w = (x1 - x0) * min(share, 1.0)
            color = PALETTE[pi % len(PALETTE)]
            out.append(
                f'<rect x="{cursor:.1f}" y="{y}" width="{w:.1f}" height="{row_h}" fill="{color}">'
                f"<title>{esc(f'{label} {name}: {share:.0%}')}</title></rect>"
            )
            if w > 34:
                out.append(
                    f'<text x="{cursor + w / 2:.1f}" y="{y + row_h / 2 + 4:.1f}" text-anchor="middle" '
                    f'fill="#fff">{share:.0%}</text>'
                )
            cursor += w
    out.append("</svg>")
    return "".join(out)
