"""The report's first sections as neutral blocks (``_format``) for the HTML and Markdown
renderers: the summary, the cohort scorecards and week over week. Every number was computed by
the API; this module only chooses and words them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from ..cohorts import MEANS, QUANTILES, RATES
from ._collect import ReportData
from ._format import (
    Block,
    Bullets,
    Cell,
    Chart,
    Paragraph,
    Section,
    Table,
    change,
    count,
    label,
    labels,
    metric_interval,
    money,
    ms,
    pct,
    records,
)
from ._svg import Series, bar_chart

NAMES = {
    "success_rate": "success rate",
    "error_rate": "error rate",
    "timeout_rate": "timeout rate",
    "fallback_rate": "fallback rate",
    "escalation_rate": "escalation rate",
    "negative_feedback_rate": "thumbs-down rate",
    "positive_feedback_rate": "thumbs-up rate",
    "tool_failure_rate": "tool failure rate",
    "denied_rate": "denied tool calls",
    "empty_retrieval_rate": "empty retrieval rate",
    "p50_ms": "p50 latency",
    "p95_ms": "p95 latency",
    "p99_ms": "p99 latency",
    "cost_per_task": "cost per task",
    "tokens_per_task": "tokens per task",
}


def _kind(metric: str) -> str:
    return "rate" if metric in RATES else "ms" if metric in QUANTILES else "usd"


def _fmt(metric: str) -> Callable[[Any], str]:
    return {"rate": pct, "ms": ms, "usd": money}[_kind(metric)]


# --- summary ---------------------------------------------------------------------------------


def summary(data: ReportData) -> Section:
    items: list[Paragraph] = []
    overall = records(data.scorecards.get("", pl.DataFrame()))
    if overall and overall[0].get("tasks"):
        o = overall[0]
        items.append(
            Paragraph(
                f"{count(o['tasks'])} requests: success {pct(o.get('success_rate'))}, thumbs-down "
                f"{pct(o.get('negative_feedback_rate'))} of rated answers, escalations "
                f"{pct(o.get('escalation_rate'))}, p95 {ms(o.get('p95_ms'))}, p99 {ms(o.get('p99_ms'))}, "
                f"cost per task {money(o.get('cost_per_task'))}."
            )
        )
    else:
        items.append(Paragraph("No requests in this window.", "worse"))
    flagged = len(flagged_changes(data))
    items.append(
        Paragraph(
            f"{flagged} change{'s' if flagged != 1 else ''} outside the noise against the previous "
            f"{data.days:g} days (highlighted under Week over week).",
            "worse" if flagged else "",
        )
    )
    if data.gate is not None:
        g, ctx = data.gate, data.gate.context
        items.append(
            Paragraph(
                f"Release gate, {ctx.get('dimension', '')} {ctx.get('baseline', '')} -> "
                f"{ctx.get('candidate', '')}: {g.verdict.replace('_', ' ').upper()}"
                + (f" ({len(g.reasons)} reason{'s' if len(g.reasons) != 1 else ''})" if g.reasons else ""),
                g.verdict,
            )
        )
    return Section("summary", "At a glance", [Bullets(items)])


# --- scorecards ------------------------------------------------------------------------------


def _scorecard_table(frame: pl.DataFrame, dim: str) -> Table:
    headers = [
        dim.capitalize(),
        "Requests",
        "Success",
        "Errors",
        "Thumbs-down (of rated)",
        "Escalations",
        "Fallbacks",
        "p50",
        "p95 (95% interval)",
        "p99",
        "Cost / task",
        "Denied tool calls",
    ]
    rows = []
    for r in records(frame):
        muted = "" if r.get("judgeable", True) else "muted"
        rows.append(
            [
                Cell(label(r.get(dim)), muted),
                Cell(count(r.get("tasks")), muted),
                Cell(
                    metric_interval(pct, r, "success_rate"),
                    muted,
                ),
                Cell(pct(r.get("error_rate")), muted),
                Cell(
                    metric_interval(pct, r, "negative_feedback_rate"),
                    muted,
                ),
                Cell(pct(r.get("escalation_rate")), muted),
                Cell(pct(r.get("fallback_rate")), muted),
                Cell(ms(r.get("p50_ms")), muted),
                Cell(metric_interval(ms, r, "p95_ms"), muted),
                Cell(ms(r.get("p99_ms")), muted),
                Cell(money(r.get("cost_per_task")), muted),
                Cell(pct(r.get("denied_rate")), muted),
            ]
        )
    return Table(headers, rows)


def series(frame: pl.DataFrame, metric: str, name: str) -> Series:
    def col(c: str) -> list[Any]:
        return frame[c].to_list() if c in frame.columns else [None] * frame.height

    return Series(name, col(metric), col(f"{metric}_lo"), col(f"{metric}_hi"))


def scorecards(data: ReportData) -> list[Section]:
    blocks: list[Block] = [
        Paragraph(
            "Each rate with its 95% Wilson interval, latency quantiles with distribution-free 95% "
            "intervals. Greyed rows have fewer than 30 requests: shown, not judged."
        )
    ]
    sections = [Section("scorecard", "Cohort scorecard", blocks)]
    for dim in ("tenant", "prompt", "model"):
        frame = data.scorecards.get(dim, pl.DataFrame())
        sub: list[Block] = [_scorecard_table(frame, dim)]
        if frame.height and dim in frame.columns:
            names = labels(frame, dim)
            if dim in ("tenant", "model"):
                sub.append(
                    Chart(
                        bar_chart(
                            f"p95 and p99 latency by {dim} (95% intervals)",
                            names,
                            [series(frame, "p95_ms", "p95"), series(frame, "p99_ms", "p99")],
                            ms,
                        ),
                        f"p95 and p99 latency by {dim}",
                    )
                )
            if dim in ("tenant", "prompt"):
                sub.append(
                    Chart(
                        bar_chart(
                            f"Thumbs-down rate by {dim} (95% intervals)",
                            names,
                            [series(frame, "negative_feedback_rate", "thumbs-down")],
                            lambda v: pct(v, 0),
                        ),
                        f"Thumbs-down rate by {dim}",
                    )
                )
        sections.append(Section(f"scorecard-{dim}", f"By {dim}", sub, level=3))
    return sections


# --- week over week --------------------------------------------------------------------------

WOW_COLUMNS = (
    "success_rate",
    "negative_feedback_rate",
    "error_rate",
    "escalation_rate",
    "p95_ms",
    "p99_ms",
    "cost_per_task",
)


def _wow_rows(data: ReportData) -> list[tuple[str, dict[str, Any]]]:
    out = [("all", r) for r in records(data.week_over_week_overall)]
    out += [(f"tenant={label(r.get('tenant'))}", r) for r in records(data.week_over_week)]
    return out


def flagged_changes(data: ReportData) -> list[tuple[str, str, bool]]:
    """Every change outside the noise: (cohort, sentence, worse)."""
    found = []
    for name, r in _wow_rows(data):
        for metric in (*RATES, *QUANTILES, *MEANS):
            if not r.get(f"{metric}_changed"):
                continue
            base, cand = r.get(f"{metric}_base"), r.get(f"{metric}_cand")
            fmt, worse = _fmt(metric), bool(r.get(f"{metric}_worse"))
            sentence = (
                f"{name}: {NAMES.get(metric, metric)} {fmt(base)} -> {fmt(cand)} "
                f"({change(_kind(metric), base, cand)}), {'worse' if worse else 'better'}"
            )
            found.append((name, sentence, worse))
    return found


def week_over_week(data: ReportData) -> Section:
    prev_since, prev_until = data.previous
    blocks: list[Block] = [
        Paragraph(
            f"This window ({data.since:%Y-%m-%d %H:%M} to {data.until:%Y-%m-%d %H:%M} UTC) against the "
            f"{data.days:g} days before it ({prev_since[:16].replace('T', ' ')} to "
            f"{prev_until[:16].replace('T', ' ')} UTC). A change is highlighted when it is outside the "
            "noise at 99.9% confidence (red worse, green better); cohorts with fewer than 30 requests "
            "in either window are not judged."
        )
    ]
    headers = ["Cohort", "Requests", *[NAMES[m].capitalize() for m in WOW_COLUMNS]]
    rows = []
    for name, r in _wow_rows(data):
        muted = "" if r.get("judgeable") else "muted"
        cells = [
            Cell(name, muted),
            Cell(f"{count(r.get('tasks_base'))} -> {count(r.get('tasks_cand'))}", muted),
        ]
        for metric in WOW_COLUMNS:
            base, cand = r.get(f"{metric}_base"), r.get(f"{metric}_cand")
            fmt = _fmt(metric)
            text = f"{fmt(base)} -> {fmt(cand)}"
            delta = change(_kind(metric), base, cand)
            flag = muted
            if r.get(f"{metric}_changed"):
                flag = "worse" if r.get(f"{metric}_worse") else "better"
            cells.append(Cell(f"{text} ({delta})" if delta else text, flag))
        rows.append(cells)
    blocks.append(Table(headers, rows, "Previous -> this window"))
    flagged = flagged_changes(data)
    if flagged:
        blocks.append(Bullets([Paragraph(s, "worse" if w else "better") for _, s, w in flagged]))
    else:
        blocks.append(Paragraph("No change outside the noise."))
    return Section("week-over-week", "Week over week", blocks)
