"""The release gate: a comparison of a candidate against a baseline (``GET
/api/analytics/compare``) -> ship, block or not enough data, with the reasons in sentences.

Pure: no I/O except reading the TOML configuration in ``GateConfig.load``. The rules, each
applied to the overall comparison and to every cohort with at least ``min_tasks`` requests
on both sides:

1. **Quality**: the success rate or the positive-feedback rate drops by more than
   ``max_quality_drop_pp`` percentage points, or the negative-feedback rate rises by more than
   that (the same rule seen from the thumbs-down side), the change outside the noise.
2. **Latency**: p95 rises by more than ``max_p95_increase_pct`` percent, outside the noise.
3. **Cost**: cost per task rises by more than ``max_cost_increase_pct`` percent, outside the noise.
4. **Errors** (zero tolerance): the error rate rises, outside the noise, by any amount.
5. **Denied authorizations** (zero tolerance), any of:

   - denials per task grow outside the noise: exact one-sided conditional test of two Poisson
     rates (given the ``denied_base + denied_cand`` denials, the candidate's share under equal
     rates is Binomial(n, tasks_cand / (tasks_base + tasks_cand))), one-sided p below half of
     1 - confidence;
   - denials per tool call (``denied_rate``) grow outside the noise;
   - the candidate has any denial while the baseline had none over at least ``min_tasks``
     requests (a new behaviour, however rare).

**Outside the noise** uses the comparison's own statistics (``spyglass.analytics.cohorts``) at
one of the two levels it carries: rates by the Newcombe interval of the difference, p95 by
the MOVER interval of the difference, cost per task by Welch's z.

- The **overall** row is judged at 95% (``overall_confidence``): it is the one comparison
  declared in advance for each rule, so the usual level applies (the 95% Newcombe interval
  ``<metric>_diff_lo/_hi``, the 95% intervals ``<metric>_lo/_hi``, Welch z > 1.96).
- **Cohort** rows are judged at 99.9% (``cohort_confidence``, the comparison's
  ``<metric>_changed`` flags, z = 3.29): five tenants times seven rules are some thirty-five
  one-sided tests, and at 95% each a release that changed nothing could be blocked by one of
  them more often than not; at 99.9% that happens at most about once in sixty such releases.
- The price of 95% overall: its seven rules leave a release that changed nothing a chance of
  being blocked of at most about one in seven (less where the 2 pp / 10% limits, not the noise,
  decide, i.e. with large samples). ``overall_confidence = 0.999`` trades that for sensitivity:
  the demo's planted prompt problem (thumbs-down 6% -> 18%) at 600 requests is then missed.

A cohort with fewer than ``min_tasks`` requests on either side is reported as not enough data
and never blocks by itself. The verdict is ``not_enough_data`` (exit code 3) when the overall
comparison lacks ``min_tasks`` on either side, else ``block`` (1) when the overall row or any
judged cohort breaks a rule, else ``ship`` (0).
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

SHIP, BLOCK, NOT_ENOUGH_DATA = "ship", "block", "not_enough_data"
EXIT_CODES = {SHIP: 0, BLOCK: 1, NOT_ENOUGH_DATA: 3}
LEVELS = {0.95: 1.959963984540054, 0.999: 3.290526731491926}
"""The confidence levels the comparison carries intervals for -> their two-sided z."""


class GateConfigError(ValueError):
    """A gate configuration that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class GateConfig:
    """The gate's thresholds. Load from TOML with ``GateConfig.load("gate.toml")``; keys at the
    top level or under a ``[gate]`` table::

        min_tasks = 200
        max_p95_increase_pct = 15
    """

    min_tasks: int = 100
    """Requests needed on each side before a cohort (or the whole comparison) is judged."""
    max_quality_drop_pp: float = 2.0
    """Largest tolerated drop of the success or positive-feedback rate, in percentage points."""
    max_p95_increase_pct: float = 10.0
    """Largest tolerated rise of p95 latency, in percent of the baseline."""
    max_cost_increase_pct: float = 10.0
    """Largest tolerated rise of the cost per task, in percent of the baseline."""
    overall_confidence: float = 0.95
    """Confidence at which a change of the overall row is outside the noise (0.95 or 0.999)."""
    cohort_confidence: float = 0.999
    """Confidence at which a change of a cohort row is outside the noise (0.95 or 0.999)."""

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> GateConfig:
        """The defaults, or the TOML file at ``path``. Raises :class:`GateConfigError`.

        >>> GateConfig.load(None).min_tasks
        100
        """
        if path is None:
            return cls()
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise GateConfigError(f"{p}: gate configuration not found; check the --config path") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise GateConfigError(f"{p}: cannot read the gate configuration: {exc}") from exc
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise GateConfigError(f"{p}: not valid TOML: {exc}") from exc
        return cls.from_mapping(doc, str(p))

    @classmethod
    def from_mapping(cls, doc: dict[str, Any], source: str = "gate configuration") -> GateConfig:
        """A configuration from parsed TOML (top-level keys or a ``gate`` table)."""
        if "gate" in doc:
            if not isinstance(doc["gate"], dict):
                raise GateConfigError(f"{source}: 'gate' must be a table ([gate]) of thresholds")
            extra = sorted(set(doc) - {"gate"})
            if extra:
                raise GateConfigError(
                    f"{source}: key {extra[0]!r} is outside the [gate] table; move it under [gate]"
                )
            doc = doc["gate"]
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in doc.items():
            if key not in known:
                raise GateConfigError(
                    f"{source}: unknown key {key!r}; known keys: {', '.join(known)}. Fix the spelling"
                )
            is_int = key == "min_tasks"
            ok_type = int if is_int else (int, float)
            if isinstance(value, bool) or not isinstance(value, ok_type):
                kind = "a whole number" if is_int else "a number"
                hint = " (write it without quotes)" if isinstance(value, str) else ""
                raise GateConfigError(f"{source}: key {key!r} must be {kind}, got {value!r}{hint}")
            if value < (1 if is_int else 0) or (not is_int and not math.isfinite(value)):
                bound = "at least 1" if is_int else "a finite number >= 0"
                raise GateConfigError(f"{source}: key {key!r} must be {bound}, got {value!r}")
            if key.endswith("_confidence") and value not in LEVELS:
                raise GateConfigError(
                    f"{source}: key {key!r} must be 0.95 or 0.999 (the levels the comparison carries "
                    f"intervals for), got {value!r}"
                )
            values[key] = value if is_int else float(value)
        return cls(**values)


@dataclass(frozen=True)
class Check:
    """One rule applied to one comparison row. ``passed`` is None when the rule could not be
    evaluated (a side has no value, e.g. no rated requests)."""

    rule: str
    passed: bool | None
    message: str


@dataclass(frozen=True)
class CohortVerdict:
    """The verdict of one comparison row: ``label`` is "overall" or "tenant=globex"."""

    label: str
    cohort: dict[str, Any]
    verdict: str
    tasks_base: int
    tasks_cand: int
    checks: tuple[Check, ...] = ()

    @property
    def reasons(self) -> list[str]:
        """Why it blocks (or lacks data), one sentence each, starting with the label."""
        if self.verdict == NOT_ENOUGH_DATA:
            return [f"{self.label}: {self.checks[0].message}"] if self.checks else []
        return [f"{self.label}: {c.message}" for c in self.checks if c.passed is False]

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "cohort": self.cohort,
            "verdict": self.verdict,
            "tasks_base": self.tasks_base,
            "tasks_cand": self.tasks_cand,
            "reasons": self.reasons,
            "checks": [{"rule": c.rule, "passed": c.passed, "message": c.message} for c in self.checks],
        }


@dataclass(frozen=True)
class GateResult:
    """The gate's decision: ``verdict`` and ``exit_code`` (0 ship, 1 block, 3 not enough data),
    the overall row's verdict with every check, and one verdict per cohort."""

    verdict: str
    overall: CohortVerdict
    cohorts: tuple[CohortVerdict, ...]
    config: GateConfig
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def reasons(self) -> list[str]:
        """The sentences behind the verdict: the blocking violations (overall first), or why
        there is not enough data; empty when it ships."""
        if self.verdict == NOT_ENOUGH_DATA:
            return self.overall.reasons
        return [r for v in (self.overall, *self.cohorts) if v.verdict == BLOCK for r in v.reasons]

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "reasons": self.reasons,
            "config": {f.name: getattr(self.config, f.name) for f in fields(self.config)},
            **self.context,
            "overall": self.overall.to_dict(),
            "cohorts": [c.to_dict() for c in self.cohorts],
        }


def evaluate(comparison: dict[str, Any], config: GateConfig | None = None) -> GateResult:
    """Judge a comparison (the JSON of ``GET /api/analytics/compare``: ``overall`` and
    ``rows``, each row with ``<metric>_base/_cand/_diff/_changed``, ``tasks_base/_cand``,
    ``denied_base/_cand``) against ``config``.

    Example::

        result = evaluate(get_json("/api/analytics/compare?dimension=release&baseline=1.0"
                                   "&candidate=1.1&by=tenant&min_tasks=100"))
        sys.exit(result.exit_code)
    """
    config = config or GateConfig()
    by = [str(b) for b in comparison.get("by") or []]
    overall = _judge(comparison.get("overall") or {}, "overall", {}, config, config.overall_confidence)
    cohorts = tuple(
        _judge(row, _label(row, by), {b: row.get(b) for b in by}, config, config.cohort_confidence)
        for row in comparison.get("rows") or []
    )
    if overall.verdict == NOT_ENOUGH_DATA:
        verdict = NOT_ENOUGH_DATA
    elif any(v.verdict == BLOCK for v in (overall, *cohorts)):
        verdict = BLOCK
    else:
        verdict = SHIP
    context: dict[str, Any] = {
        k: comparison[k] for k in ("dimension", "baseline", "candidate", "by") if k in comparison
    }
    return GateResult(verdict, overall, cohorts, config, context)


def _label(row: dict[str, Any], by: list[str]) -> str:
    return ", ".join(f"{b}={'(none)' if row.get(b) in (None, '') else row[b]}" for b in by) or "all"


def _tasks(row: dict[str, Any], side: str) -> int:
    value = row.get(f"tasks_{side}")
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _judge(
    row: dict[str, Any], label: str, cohort: dict[str, Any], config: GateConfig, confidence: float
) -> CohortVerdict:
    base, cand = _tasks(row, "base"), _tasks(row, "cand")
    if base < config.min_tasks or cand < config.min_tasks:
        message = (
            f"not enough data: {base} baseline and {cand} candidate requests, "
            f"the gate needs {config.min_tasks} on each side"
        )
        return CohortVerdict(label, cohort, NOT_ENOUGH_DATA, base, cand, (Check("min_tasks", None, message),))
    judge = _Judge(row, confidence)
    drop = config.max_quality_drop_pp
    checks = (
        judge.quality("success_rate", "success rate", drop),
        judge.quality("positive_feedback_rate", "positive-feedback rate", drop),
        judge.quality("negative_feedback_rate", "negative-feedback rate", drop, higher_is_worse=True),
        judge.relative("p95_ms", "p95 latency", config.max_p95_increase_pct, _duration),
        judge.relative("cost_per_task", "cost per task", config.max_cost_increase_pct, usd),
        judge.error_rate(),
        judge.denied(base, cand),
    )
    verdict = BLOCK if any(c.passed is False for c in checks) else SHIP
    return CohortVerdict(label, cohort, verdict, base, cand, checks)


def _num(row: dict[str, Any], key: str) -> float | None:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _duration(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms"


def usd(value: float) -> str:
    """Dollars with enough decimals to show small per-task costs, never scientific notation.

    >>> usd(0.0123), usd(2.5), usd(0.000041)
    ('$0.0123', '$2.50', '$0.0000410')
    """
    if value == 0:
        return "$0"
    decimals = min(8, max(2, 2 - math.floor(math.log10(abs(value)))))
    return f"{'-' if value < 0 else ''}${abs(value):.{decimals}f}"


def _relative_change(b: float, c: float) -> str:
    if b == 0:
        return "from zero" if c > 0 else "+0%"
    pct = (c - b) / b * 100
    return f"{pct:+.0f}%" if abs(pct) >= 10 else f"{pct:+.1f}%"


class _Judge:
    """The rules applied to one comparison row, changes judged at ``confidence``."""

    def __init__(self, row: dict[str, Any], confidence: float) -> None:
        self.row = row
        self.confidence = confidence
        self.level = f"{confidence:.1%}".replace(".0%", "%")

    def pair(self, metric: str) -> tuple[float | None, float | None]:
        return _num(self.row, f"{metric}_base"), _num(self.row, f"{metric}_cand")

    def outside_noise(self, metric: str) -> bool:
        """Is the change of ``metric`` outside the noise at this judge's confidence?"""
        row = self.row
        if self.confidence == 0.999:
            return bool(row.get(f"{metric}_changed"))
        lo, hi = _num(row, f"{metric}_diff_lo"), _num(row, f"{metric}_diff_hi")
        if lo is not None and hi is not None:  # rates (Newcombe) and quantiles (MOVER): 95% interval
            return lo > 0 or hi < 0
        se_b, se_c = _num(row, f"{metric}_se_base"), _num(row, f"{metric}_se_cand")
        b, c = self.pair(metric)
        if se_b is not None and se_c is not None and b is not None and c is not None:  # a mean: Welch
            se = math.hypot(se_b, se_c)
            return se > 0 and abs(c - b) / se > LEVELS[0.95]
        b_lo, b_hi = _num(row, f"{metric}_lo_base"), _num(row, f"{metric}_hi_base")
        c_lo, c_hi = _num(row, f"{metric}_lo_cand"), _num(row, f"{metric}_hi_cand")
        if None in (b_lo, b_hi, c_lo, c_hi):
            return False
        return c_lo > b_hi or c_hi < b_lo  # type: ignore[operator]  # no difference interval: apart

    def noise(self, metric: str) -> tuple[bool, str]:
        changed = self.outside_noise(metric)
        return changed, f"{'outside' if changed else 'within'} the noise at {self.level}"

    def quality(self, metric: str, name: str, max_pp: float, higher_is_worse: bool = False) -> Check:
        b, c = self.pair(metric)
        limit = f"limit {'+' if higher_is_worse else '-'}{max_pp:.1f} pp"
        if b is None or c is None:
            return Check(metric, None, f"{name}: no value on a side (no requests to rate), {limit}")
        diff_pp = (c - b) * 100
        changed, noise = self.noise(metric)
        worse_pp = diff_pp if higher_is_worse else -diff_pp
        passed = not (changed and worse_pp > max_pp)
        return Check(metric, passed, f"{name} {_pct(b)} -> {_pct(c)} ({diff_pp:+.1f} pp, {noise}), {limit}")

    def relative(self, metric: str, name: str, limit_pct: float, fmt: Callable[[float], str]) -> Check:
        b, c = self.pair(metric)
        limit = f"limit +{limit_pct:g}%"
        if b is None or c is None:
            return Check(metric, None, f"{name}: no value on a side, {limit}")
        changed, noise = self.noise(metric)
        too_much = (c - b) > b * limit_pct / 100 if b > 0 else c > 0
        passed = not (changed and too_much)
        return Check(
            metric, passed, f"{name} {fmt(b)} -> {fmt(c)} ({_relative_change(b, c)}, {noise}), {limit}"
        )

    def error_rate(self) -> Check:
        b, c = self.pair("error_rate")
        limit = "limit: zero tolerance"
        if b is None or c is None:
            return Check("error_rate", None, f"error rate: no value on a side, {limit}")
        changed, noise = self.noise("error_rate")
        passed = not (changed and c > b)
        diff_pp = (c - b) * 100
        return Check(
            "error_rate", passed, f"error rate {_pct(b)} -> {_pct(c)} ({diff_pp:+.1f} pp, {noise}), {limit}"
        )

    def denied(self, tasks_base: int, tasks_cand: int) -> Check:
        db, dc = _num(self.row, "denied_base"), _num(self.row, "denied_cand")
        limit = "limit: no growth outside the noise, none where the baseline had none"
        if db is None or dc is None:
            return Check("denied", None, f"denied authorizations: no count on a side, {limit}")
        d_base, d_cand = round(db), round(dc)
        rate_b, rate_c = d_base / tasks_base, d_cand / tasks_cand
        numbers = f"denied authorizations {d_base} -> {d_cand} ({rate_b:.3f} -> {rate_c:.3f} per task"
        call_b, call_c = self.pair("denied_rate")
        if call_b is not None and call_c is not None:
            numbers += f", {_pct(call_b)} -> {_pct(call_c)} of tool calls"
        if d_base == 0 and d_cand > 0:
            return Check(
                "denied",
                False,
                f"{numbers}; denials where the baseline had none in {tasks_base} requests), {limit}",
            )
        alpha = (1 - self.confidence) / 2
        p_value = poisson_growth_p_value(d_base, tasks_base, d_cand, tasks_cand) if rate_c > rate_b else 1.0
        grew = []
        if p_value < alpha:
            grew.append(f"per task p = {p_value:.2g}")
        if (
            call_b is not None
            and call_c is not None
            and call_c > call_b
            and self.outside_noise("denied_rate")
        ):
            grew.append("per tool call")
        if grew:
            noise = f"growth outside the noise at {self.level}: {', '.join(grew)}"
        elif rate_c > rate_b or (call_c or 0) > (call_b or 0):
            noise = f"within the noise at {self.level}"
        else:
            noise = "no growth"
        return Check("denied", not grew, f"{numbers}, {noise}), {limit}")


def poisson_growth_p_value(denied_base: int, tasks_base: int, denied_cand: int, tasks_cand: int) -> float:
    """One-sided p-value that the candidate's rate of events per task is no higher than the
    baseline's: P(X >= denied_cand) for X ~ Binomial(denied_base + denied_cand, tasks_cand /
    (tasks_base + tasks_cand)), the exact conditional test of two Poisson rates.

    >>> round(poisson_growth_p_value(0, 100, 6, 100), 4)
    0.0156
    """
    n = denied_base + denied_cand
    if n == 0 or denied_cand == 0:
        return 1.0
    p = tasks_cand / (tasks_base + tasks_cand)
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    lg = math.lgamma
    return min(
        1.0,
        sum(
            math.exp(lg(n + 1) - lg(k + 1) - lg(n - k + 1) + k * log_p + (n - k) * log_q)
            for k in range(denied_cand, n + 1)
        ),
    )
