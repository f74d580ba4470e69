"""The report's later sections as neutral blocks: stage time and tail attribution, cost, the
release gate and example traces with links to their trace pages."""

from __future__ import annotations

import urllib.parse

import polars as pl

from ._collect import ReportData
from ._format import (
    Block,
    Bullets,
    Cell,
    Chart,
    Paragraph,
    Section,
    Table,
    count,
    label,
    labels,
    level,
    metric_interval,
    money,
    ms,
    pct,
    records,
)
from ._sections import series
from ._svg import bar_chart, stacked_chart

STAGES = ("model", "retrieval", "rerank", "tool", "app")
EXAMPLE_KINDS = {"good": "Good path", "bad": "Bad path", "escalated": "Escalation"}


def trace_link(ui_url: str, trace_id: str) -> str:
    """The trace page of ``trace_id`` in the UI (empty when ``ui_url`` is not http(s)).

    >>> trace_link("http://127.0.0.1:8501/", "ab" * 16)
    'http://127.0.0.1:8501/?trace_id=abababababababababababababababab'
    """
    if not ui_url.startswith(("http://", "https://")):
        return ""
    return f"{ui_url.rstrip('/')}/?{urllib.parse.urlencode({'trace_id': trace_id})}"


# --- stages ----------------------------------------------------------------------------------


def stages(data: ReportData) -> Section:
    frame = data.stages
    blocks: list[Block] = [
        Paragraph(
            "Time per request in each stage (wall time while a span of that stage was open; app = "
            "the rest), and each stage's share of the time of the slowest 5% of requests: where the "
            "tail comes from."
        )
    ]
    headers = [
        "Cohort",
        "Requests",
        *[f"{s} p95" for s in STAGES],
        "Slowest 5%",
        *[f"{s} share of tail" for s in STAGES],
    ]
    rows, sentences = [], []
    names: list[str] = []
    shares: dict[str, list[float | None]] = {s: [] for s in STAGES}
    for r in records(frame):
        name = "all" if r.get("tenant") is None else f"tenant={label(r.get('tenant'))}"
        muted = "" if r.get("judgeable", True) else "muted"
        tail = {s: r.get(f"{s}_tail_share") for s in STAGES}
        top = max((s for s in STAGES if tail[s] is not None), key=lambda s: tail[s] or 0.0, default=None)
        cells = [Cell(name, muted), Cell(count(r.get("tasks")), muted)]
        cells += [Cell(ms(r.get(f"{s}_p95_ms")), muted) for s in STAGES]
        cells.append(Cell(count(r.get("tail_tasks")), muted))
        cells += [Cell(pct(tail[s], 0), "strong" if s == top else muted) for s in STAGES]
        rows.append(cells)
        names.append(name)
        for s in STAGES:
            shares[s].append(tail[s])
        if top is not None and r.get("tail_tasks"):
            ranked = sorted((s for s in STAGES if tail[s]), key=lambda s: -(tail[s] or 0.0))[:2]
            parts = ", ".join(f"{pct(tail[s], 0)} in {s}" for s in ranked)
            sentences.append(
                Paragraph(
                    f"{name}: the slowest 5% ({count(r.get('tail_tasks'))} requests) spend {parts}.", muted
                )
            )
    blocks.append(Table(headers, rows))
    if sentences:
        blocks.append(Bullets(sentences))
    if names:
        blocks.append(
            Chart(
                stacked_chart(
                    "Share of the slowest 5% of requests' time, by stage", names, list(shares.items())
                ),
                "Tail attribution by stage",
            )
        )
    return Section("stages", "Where the time goes", blocks)


# --- cost ------------------------------------------------------------------------------------


def cost(data: ReportData) -> Section:
    blocks: list[Block] = [
        Paragraph("Cost per task in US dollars from the collector's price table, with its 95% interval.")
    ]
    unpriced = 0
    for dim in ("tenant", "model"):
        frame = data.scorecards.get(dim, pl.DataFrame())
        rows = []
        for r in records(frame):
            muted = "" if r.get("judgeable", True) else "muted"
            unpriced += int(r.get("unpriced_calls") or 0) if dim == "tenant" else 0
            rows.append(
                [
                    Cell(label(r.get(dim)), muted),
                    Cell(count(r.get("tasks")), muted),
                    Cell(
                        metric_interval(money, r, "cost_per_task"),
                        muted,
                    ),
                    Cell(count(r.get("tokens_per_task")), muted),
                    Cell(money(r.get("cost")), muted),
                    Cell(count(r.get("unpriced_calls")), muted),
                ]
            )
        headers = [
            dim.capitalize(),
            "Requests",
            "Cost / task (95% interval)",
            "Tokens / task",
            "Total",
            "Unpriced calls",
        ]
        blocks.append(Table(headers, rows, f"By {dim}"))
        if frame.height and dim in frame.columns:
            blocks.append(
                Chart(
                    bar_chart(
                        f"Cost per task by {dim} (95% intervals)",
                        labels(frame, dim),
                        [series(frame, "cost_per_task", "cost per task")],
                        money,
                    ),
                    f"Cost per task by {dim}",
                )
            )
    if unpriced:
        blocks.append(
            Paragraph(
                f"{unpriced} model calls had no price and count as $0: add their models to a price file "
                "(spyglass up --prices FILE).",
                "worse",
            )
        )
    return Section("cost", "Cost", blocks)


# --- gate and examples -----------------------------------------------------------------------


def gate(data: ReportData) -> Section | None:
    if data.gate is None:
        return None
    g, ctx, cfg = data.gate, data.gate.context, data.gate.config
    blocks: list[Block] = [
        Paragraph(
            f"{ctx.get('dimension', '')} {ctx.get('baseline', '')} (baseline) against "
            f"{ctx.get('candidate', '')} (candidate) in this window, cohorts by tenant: "
            f"{g.verdict.replace('_', ' ').upper()}.",
            g.verdict,
        ),
        Paragraph(
            f"Rules: success or thumbs-up rate down (or thumbs-down up) more than "
            f"{cfg.max_quality_drop_pp:g} pp, p95 up more than {cfg.max_p95_increase_pct:g}%, cost per task "
            f"up more than {cfg.max_cost_increase_pct:g}%, any rise of the error rate or of denied "
            f"authorizations; each only outside the noise (overall at {level(cfg.overall_confidence)}, "
            f"cohorts at {level(cfg.cohort_confidence)}); at least {cfg.min_tasks} requests on each side."
        ),
    ]
    if g.reasons:
        blocks.append(Bullets([Paragraph(r, "worse") for r in g.reasons]))
    checks = [
        [
            Cell(c.rule),
            Cell({True: "pass", False: "FAIL", None: "n/a"}[c.passed], "worse" if c.passed is False else ""),
            Cell(c.message),
        ]
        for c in g.overall.checks
    ]
    if checks:
        blocks.append(Table(["Rule", "Result", "Overall"], checks, "Overall checks"))
    cohort_rows = [
        [
            Cell(v.label),
            Cell(f"{v.tasks_base} / {v.tasks_cand}"),
            Cell(v.verdict.replace("_", " "), v.verdict),
            Cell("; ".join(r.split(": ", 1)[1] for r in v.reasons) or "all rules pass"),
        ]
        for v in g.cohorts
    ]
    if cohort_rows:
        blocks.append(Table(["Cohort", "Requests (baseline / candidate)", "Verdict", "Why"], cohort_rows))
    return Section("gate", "Release gate", blocks)


def examples(data: ReportData) -> Section:
    rows = []
    for key, kind in EXAMPLE_KINDS.items():
        ex = data.examples.get(key)
        if not ex:
            rows.append([Cell(kind), Cell("none in this window", "muted"), Cell(""), Cell(""), Cell("")])
            continue
        tid = str(ex.get("trace_id", ""))
        rows.append(
            [
                Cell(kind),
                Cell(tid, href=trace_link(data.ui_url, tid)),
                Cell(str(ex.get("name") or "")),
                Cell(str(ex.get("start_time") or "")[:19].replace("T", " ")),
                Cell(str(ex.get("reason") or "")),
            ]
        )
    blocks: list[Block] = [
        Paragraph(
            f"The newest of each kind in the window; each opens its trace page in the UI ({data.ui_url})."
        ),
        Table(["Kind", "Trace", "Request", "Started (UTC)", "Why"], rows),
    ]
    return Section("examples", "Example traces", blocks)
