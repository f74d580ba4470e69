"""``spyglass gate`` and ``spyglass report``: the release gate and the weekly evidence pack,
both read through the collector's HTTP API. Imported only when one of them runs (they need
the server extra's polars)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from spyglass.analytics.gate import (
    BLOCK,
    NOT_ENOUGH_DATA,
    SHIP,
    GateConfig,
    GateConfigError,
    GateResult,
    evaluate,
)
from spyglass.analytics.report import ApiClient, ApiError, collect, compare, parse_day_or_time, write_report
from spyglass.analytics.report._collect import COMPARE_DIMENSIONS, iso

USAGE_ERROR = 2
RULE_NAMES = {
    "success_rate": "success rate",
    "positive_feedback_rate": "positive feedback",
    "negative_feedback_rate": "negative feedback",
    "p95_ms": "p95 latency",
    "cost_per_task": "cost per task",
    "error_rate": "error rate",
    "denied": "denied authorizations",
}
_COLORS = {SHIP: "32", BLOCK: "31", NOT_ENOUGH_DATA: "33"}


def _use_color(stream: IO[str]) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _paint(text: str, verdict: str, color: bool) -> str:
    return f"\x1b[1;{_COLORS[verdict]}m{text}\x1b[0m" if color and verdict in _COLORS else text


def _fail(command: str, message: str) -> int:
    print(f"spyglass {command}: {message}", file=sys.stderr)
    return USAGE_ERROR


def _window(args: argparse.Namespace, command: str) -> tuple[str | None, str | None]:
    since = parse_day_or_time(args.since) if args.since else None
    until = parse_day_or_time(args.until, end=True) if args.until else None
    if since and until and since >= until:
        raise ValueError(f"--since {args.since} is not before --until {args.until}")
    return (iso(since) if since else None), (iso(until) if until else None)


def _time(value: Any) -> str:
    return str(value or "?").replace(".000000000Z", "Z")


def _level(confidence: float) -> str:
    return f"{confidence:.1%}".replace(".0%", "%")


def render_gate(result: GateResult, comparison: dict[str, Any], color: bool = False) -> str:
    """The gate's verdict as text: a header, the verdict, a table of cohorts, the reasons and
    every check of the overall row."""
    ctx = result.context
    verdict = result.verdict.replace("_", " ").upper()
    lines = [
        f"spyglass gate: {ctx.get('dimension', '')} {ctx.get('baseline', '')} (baseline) -> "
        f"{ctx.get('candidate', '')} (candidate), "
        f"{_time(comparison.get('since'))} to {_time(comparison.get('until'))}",
        f"verdict: {_paint(verdict, result.verdict, color)} (exit {result.exit_code})",
        "",
    ]
    rows = [("cohort", "requests base/cand", "verdict", "why")]
    for v in (result.overall, *result.cohorts):
        failed = [RULE_NAMES.get(c.rule, c.rule) for c in v.checks if c.passed is False]
        why = f"fails: {', '.join(failed)} (below)" if failed else "all rules pass"
        if v.verdict == NOT_ENOUGH_DATA:
            why = f"fewer than {result.config.min_tasks} requests on a side"
        rows.append((v.label, f"{v.tasks_base}/{v.tasks_cand}", v.verdict.replace("_", " "), why))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for i, (label, tasks, verdict_text, why) in enumerate(rows):
        cells = [label.ljust(widths[0]), tasks.ljust(widths[1])]
        shown = verdict_text.ljust(widths[2])
        if i:
            shown = _paint(shown, verdict_text.replace(" ", "_"), color)
        lines.append("  ".join([*cells, shown, why]).rstrip())
    if result.reasons:
        lines += ["", "why:"] + [f"  - {r}" for r in result.reasons]
    if result.verdict == NOT_ENOUGH_DATA and result.overall.tasks_base * result.overall.tasks_cand == 0:
        missing = ctx.get("baseline") if result.overall.tasks_base == 0 else ctx.get("candidate")
        lines.append(
            f"  no request has {ctx.get('dimension')} = {missing!r} in this window: check the value "
            "(an exact match) and the window (--since/--until, default the last 7 days)"
        )
    if result.overall.checks and result.verdict != NOT_ENOUGH_DATA:
        lines += ["", "overall checks:"]
        for c in result.overall.checks:
            mark = {True: "pass", False: "FAIL", None: "n/a "}[c.passed]
            lines.append(f"  {mark}  {c.message}")
    cfg = result.config
    lines += [
        "",
        f"rules: min {cfg.min_tasks} requests per side; quality drop > {cfg.max_quality_drop_pp:g} pp, "
        f"p95 > +{cfg.max_p95_increase_pct:g}%, cost per task > +{cfg.max_cost_increase_pct:g}%, "
        "any error-rate or denied-authorization growth; "
        f"changes outside the noise at {_level(cfg.overall_confidence)} overall, "
        f"{_level(cfg.cohort_confidence)} per cohort",
    ]
    return "\n".join(lines)


def run_gate(args: argparse.Namespace, endpoint: str) -> int:
    """``spyglass gate``: exit 0 ship, 1 block, 3 not enough data, 2 when it cannot judge."""
    try:
        config = GateConfig.load(args.config)
        since, until = _window(args, "gate")
    except (GateConfigError, ValueError) as exc:
        return _fail("gate", str(exc))
    if args.by not in COMPARE_DIMENSIONS:
        return _fail("gate", f"--by {args.by!r}: use release, prompt_version (or prompt) or model")
    cohorts = [c.strip() for c in (args.cohorts or "").split(",") if c.strip()]
    client = ApiClient(endpoint, project=args.project)
    try:
        comparison = compare(client, args.by, args.baseline, args.candidate, config, cohorts, since, until)
    except ApiError as exc:
        return _fail("gate", str(exc))
    result = evaluate(comparison, config)
    if args.json:
        print(
            json.dumps(
                {**result.to_dict(), "since": comparison.get("since"), "until": comparison.get("until")}
            )
        )
    else:
        print(render_gate(result, comparison, color=_use_color(sys.stdout)))
    return result.exit_code


def run_report(args: argparse.Namespace, endpoint: str) -> int:
    """``spyglass report``: write report.html and report.md, print their paths."""
    if bool(args.candidate) != bool(args.baseline):
        return _fail("report", "name both --candidate and --baseline to include the release gate, or neither")
    try:
        to_day = args.to or f"{datetime.now(UTC):%Y-%m-%d}"
        until = parse_day_or_time(to_day, end=True)
        since = parse_day_or_time(args.from_) if args.from_ else until - timedelta(days=7)
        if since >= until:
            raise ValueError(f"--from {args.from_} is not before --to {to_day}")
        config = GateConfig.load(args.config)
    except (GateConfigError, ValueError) as exc:
        return _fail("report", str(exc))
    if args.by not in COMPARE_DIMENSIONS:
        return _fail("report", f"--by {args.by!r}: use release, prompt_version (or prompt) or model")
    client = ApiClient(endpoint, project=args.project)
    try:
        data = collect(
            client,
            since,
            until,
            ui_url=args.ui_url,
            candidate=args.candidate,
            baseline=args.baseline,
            by=args.by,
            config=config,
        )
    except ApiError as exc:
        return _fail("report", str(exc))
    out = args.out or f"spyglass-report-{to_day[:10]}"
    try:
        paths = write_report(data, out)
    except OSError as exc:
        return _fail("report", f"cannot write the report into {out}: {exc}")
    for path in paths:
        print(path)
    return 0
