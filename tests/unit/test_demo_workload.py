"""The demo workload, generated into memory (``spyglass.cli._demo.simulate``): deterministic,
realistic in structure, and carrying exactly the planted problems."""

from __future__ import annotations

import io
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode, format_span_id, format_trace_id

from spyglass import attributes as A
from spyglass._state import state
from spyglass.cli import _demo
from spyglass.cli._demo import PLANTED, Workload, examples, simulate
from spyglass.cli._demo_world import DAY_NS, HOUR_NS, INTENTS, ROLLOUT, TENANTS, anchor

NOW = 1_795_000_000 - 1_795_000_000 % 3600  # a fixed hour in November 2026
NOW_NS = NOW * 10**9


def trace_hex(span: ReadableSpan) -> str:
    assert span.context is not None
    return format_trace_id(span.context.trace_id)


def duration_s(span: ReadableSpan) -> float:
    assert span.start_time is not None and span.end_time is not None
    return (span.end_time - span.start_time) / 1e9


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


@pytest.fixture(scope="module")
def demo() -> tuple[Workload, Sequence[ReadableSpan]]:
    return simulate(2000, seed=7, now=NOW)


@pytest.fixture(scope="module")
def by_trace(demo: tuple[Workload, Sequence[ReadableSpan]]) -> dict[str, list[ReadableSpan]]:
    traces: dict[str, list[ReadableSpan]] = defaultdict(list)
    for span in demo[1]:
        traces[trace_hex(span)].append(span)
    return traces


def roots(spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is None]


def snapshot(spans: Sequence[ReadableSpan]) -> list[tuple[Any, ...]]:
    out = []
    for s in spans:
        assert s.context is not None
        parent = s.parent.span_id if s.parent else None
        out.append((s.context.trace_id, s.context.span_id, parent, s.name, s.start_time, s.end_time))
        out.append(tuple(sorted((k, str(v)) for k, v in (s.attributes or {}).items())))
    return out


# --- determinism ---------------------------------------------------------------------------------


def test_same_scenario_gives_identical_spans_and_feedback() -> None:
    first, first_spans = simulate(300, seed=5, now=NOW)
    second, second_spans = simulate(300, seed=5, now=NOW)
    assert len(first.trace_ids) == 300 == len(set(first.trace_ids))
    assert first.trace_ids == second.trace_ids
    assert snapshot(first_spans) == snapshot(second_spans)
    assert first.feedback == second.feedback and first.feedback


def test_another_seed_size_or_hour_gets_ids_of_its_own() -> None:
    base = set(simulate(300, seed=5, now=NOW)[0].trace_ids)
    for other in (
        simulate(300, seed=6, now=NOW)[0],
        simulate(301, seed=5, now=NOW)[0],
        simulate(300, seed=5, now=NOW + 3600)[0],
    ):
        assert not base & set(other.trace_ids)


def test_window_ends_at_the_current_hour_by_default() -> None:
    assert anchor(NOW_NS + 59 * 60 * 10**9 + 7) == NOW_NS
    assert anchor(NOW_NS) == NOW_NS
    plan = _demo.make_scenario(10, 14, 7, None)
    assert plan.now_ns % HOUR_NS == 0


def test_simulate_restores_the_clock_and_the_sdk_tracer() -> None:
    clock, tracer = sdk_trace.time_ns, state.tracer
    simulate(5, seed=1, now=NOW)
    assert sdk_trace.time_ns is clock
    assert state.tracer is tracer


# --- structure -----------------------------------------------------------------------------------


def test_every_span_in_the_window_and_inside_its_parent(
    demo: tuple[Workload, Sequence[ReadableSpan]],
) -> None:
    _, spans = demo
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    for span in spans:
        assert span.start_time is not None and span.end_time is not None
        assert NOW_NS - 14 * DAY_NS <= span.start_time <= span.end_time <= NOW_NS
        if span.parent is not None:
            parent = by_id[span.parent.span_id]
            assert parent.start_time is not None and parent.end_time is not None
            assert parent.start_time <= span.start_time <= span.end_time <= parent.end_time
        cohort = span.attributes or {}
        assert cohort[A.COHORT_TENANT] in TENANTS and cohort[A.COHORT_INTENT] in INTENTS
        assert cohort[A.USER_ID] and cohort[A.SESSION_ID]


def test_support_and_triage_trace_shapes(by_trace: dict[str, list[ReadableSpan]]) -> None:
    shapes: Counter[str] = Counter()
    for spans in by_trace.values():
        (root,) = roots(spans)
        kinds = Counter((s.attributes or {})[A.SPAN_KIND] for s in spans)
        names = {s.name for s in spans}
        assert {"embedding", "retrieval", "tool", "llm"} <= set(kinds)
        assert "execute_tool lookup_customer" in names
        if root.name == "answer_question":
            (found,) = [s for s in spans if s.name == "retrieval kb"]
            docs = (found.attributes or {}).get(A.RETRIEVAL_DOCUMENT_IDS, ())
            # The rerank step runs exactly when the search found something, on its documents.
            assert kinds["rerank"] == (1 if docs else 0)
            for rr in (s for s in spans if s.name == "rerank kb"):
                assert set((rr.attributes or {})[A.RETRIEVAL_DOCUMENT_IDS]) <= set(docs)
        else:
            assert root.name == "classify_ticket"
            assert "execute_tool route_ticket" in names and kinds["rerank"] == 0
        shapes[root.name] += 1
    assert 0.6 < shapes["answer_question"] / len(by_trace) < 0.8


def test_empty_retrievals_happen(demo: tuple[Workload, Sequence[ReadableSpan]]) -> None:
    empty = [
        s
        for s in demo[1]
        if (s.attributes or {}).get(A.SPAN_KIND) == "retrieval"
        and s.status.status_code is not StatusCode.ERROR
        and (s.attributes or {}).get(A.RETRIEVAL_DOCUMENT_IDS) == ()
    ]
    assert 0.02 < len(empty) / 2000 < 0.08


def test_fallback_follows_a_failed_primary(by_trace: dict[str, list[ReadableSpan]]) -> None:
    fallbacks = 0
    for spans in by_trace.values():
        for fb in (s for s in spans if (s.attributes or {}).get(A.LLM_FALLBACK)):
            fallbacks += 1
            attrs = fb.attributes or {}
            assert attrs[A.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini" and attrs[A.LLM_FALLBACK_FROM] == "gpt-4o"
            failed = [
                s
                for s in spans
                if s.name == "chat gpt-4o"
                and s.status.status_code is StatusCode.ERROR
                and s.end_time == fb.start_time
                and s.parent == fb.parent
            ]
            assert len(failed) == 1
            assert (failed[0].attributes or {})["error.type"].rsplit(".", 1)[1] in {
                "ProviderTimeout",
                "RateLimited",
                "ProviderError",
            }
    assert fallbacks >= 20


def test_errors_are_recorded_exceptions(demo: tuple[Workload, Sequence[ReadableSpan]]) -> None:
    failed = [s for s in demo[1] if s.status.status_code is StatusCode.ERROR]
    types = Counter((s.attributes or {})["error.type"].rsplit(".", 1)[1] for s in failed)
    assert set(types) >= {
        "ProviderTimeout",
        "RateLimited",
        "ProviderError",
        "ToolError",
        "VectorStoreTimeout",
    }
    assert {"OutputParseError"} <= set(types)
    for span in failed:
        (event,) = span.events
        assert event.name == "exception" and event.timestamp == span.end_time
    timeouts = [s for s in failed if (s.attributes or {})["error.type"].endswith("ProviderTimeout")]
    assert all(duration_s(s) == pytest.approx(6.0) for s in timeouts)
    # Errors are caught by the app: the share of traces with one is a few percent.
    assert 0.01 < len({trace_hex(s) for s in failed}) / 2000 < 0.08


def test_denied_tools_carry_a_reason(demo: tuple[Workload, Sequence[ReadableSpan]]) -> None:
    decisions: Counter[tuple[str, str]] = Counter()
    for span in demo[1]:
        attrs = span.attributes or {}
        decision = attrs.get(A.TOOL_AUTHORIZATION)
        if decision is None:
            continue
        decisions[(span.name, str(decision))] += 1
        assert (A.TOOL_AUTHORIZATION_REASON in attrs) == (decision == "denied")
    denied = {name for name, decision in decisions if decision == "denied"}
    assert denied == {"execute_tool issue_refund", "execute_tool reset_password", "execute_tool route_ticket"}
    refunds = (
        decisions[("execute_tool issue_refund", "denied")]
        + decisions[("execute_tool issue_refund", "allowed")]
    )
    assert 0.12 < decisions[("execute_tool issue_refund", "denied")] / refunds < 0.32


def test_releases_roll_out_over_the_window(demo: tuple[Workload, Sequence[ReadableSpan]]) -> None:
    window_start = NOW_NS - 14 * DAY_NS
    first_new = min(
        r.start_time for r in roots(demo[1]) if (r.attributes or {})[A.COHORT_RELEASE] == "2026.11.2"
    )
    last_old = max(
        r.start_time for r in roots(demo[1]) if (r.attributes or {})[A.COHORT_RELEASE] == "2026.11.1"
    )
    assert first_new is not None and last_old is not None
    assert first_new >= window_start + ROLLOUT[0] * 14 * DAY_NS
    assert last_old <= window_start + ROLLOUT[1] * 14 * DAY_NS


def test_latency_has_a_heavy_tail(demo: tuple[Workload, Sequence[ReadableSpan]]) -> None:
    calls = [
        duration_s(s) for s in demo[1] if s.name == "chat gpt-4o" and s.status.status_code is StatusCode.UNSET
    ]
    median = statistics.median(calls)
    assert 0.5 < median < 3.0
    assert p99(calls) > 2 * median  # log-normal: a long right tail
    requests = [duration_s(r) for r in roots(demo[1])]
    assert max(requests) > 3 * statistics.median(requests) and max(requests) > 6  # timeouts, slow tools


# --- planted problems ----------------------------------------------------------------------------


def test_planted_constant_describes_the_problems() -> None:
    assert PLANTED["slow_tool"]["tenant"] == "globex"
    assert PLANTED["slow_tool"]["span_name"] == "execute_tool lookup_customer"
    assert PLANTED["slow_tool"]["share_of_requests"] == 0.08
    assert PLANTED["slow_tool"]["tool_seconds"] == (2.0, 6.0)
    assert PLANTED["negative_prompt"]["prompt_version"] == "v4"
    assert PLANTED["negative_prompt"]["thumbs_down_rate"] == 0.18
    assert PLANTED["negative_prompt"]["baseline"] == {"prompt_version": "v3", "thumbs_down_rate": 0.06}


def test_slow_tool_only_for_globex_in_the_newest_week(demo: tuple[Workload, Sequence[ReadableSpan]]) -> None:
    newest = NOW_NS - 7 * DAY_NS
    slow = [s for s in demo[1] if s.name == "execute_tool lookup_customer" and duration_s(s) >= 2.0]
    assert slow and all(2.0 <= duration_s(s) <= 6.0 for s in slow)
    assert {(s.attributes or {})[A.COHORT_TENANT] for s in slow} == {"globex"}
    assert all(s.start_time is not None and s.start_time >= newest for s in slow)
    globex_newest = [
        r
        for r in roots(demo[1])
        if (r.attributes or {})[A.COHORT_TENANT] == "globex"
        and r.start_time is not None
        and r.start_time >= newest
    ]
    assert len(slow) / len(globex_newest) == pytest.approx(0.08, abs=0.01)


def test_slow_tool_drives_globex_p99(demo: tuple[Workload, Sequence[ReadableSpan]]) -> None:
    newest = NOW_NS - 7 * DAY_NS
    durations: dict[tuple[str, bool], list[float]] = defaultdict(list)
    for root in roots(demo[1]):
        assert root.start_time is not None
        durations[((root.attributes or {})[A.COHORT_TENANT], root.start_time >= newest)].append(
            duration_s(root)
        )
    p99s = {cohort: p99(values) for cohort, values in durations.items()}
    planted = p99s.pop(("globex", True))
    assert planted > 1.15 * max(p99s.values())
    # The median barely moves: the slow tool is a tail problem.
    others = [d for cohort, values in durations.items() if cohort != ("globex", True) for d in values]
    assert statistics.median(durations[("globex", True)]) == pytest.approx(
        statistics.median(others), rel=0.15
    )


def test_prompt_v4_gets_more_thumbs_down(demo: tuple[Workload, Sequence[ReadableSpan]]) -> None:
    workload = demo[0]
    version = {o.trace_id: o.request.prompt_version for o in workload.outcomes}
    thumbs = Counter((version[e.trace_id], e.thumbs) for e in workload.feedback if e.thumbs)
    rate = {v: thumbs[(v, "down")] / (thumbs[(v, "down")] + thumbs[(v, "up")]) for v in ("v3", "v4")}
    assert rate["v3"] == pytest.approx(0.06, abs=0.01)
    assert rate["v4"] == pytest.approx(0.18, abs=0.015)


def test_nothing_else_differs_between_prompt_versions(demo: tuple[Workload, Sequence[ReadableSpan]]) -> None:
    workload, spans = demo
    support = [o for o in workload.outcomes if o.request.app == "support"]
    escalated = {e.trace_id for e in workload.feedback if e.escalation_reason}
    latency = {o.trace_id: (o.end_ns - o.request.start_ns) / 1e9 for o in support}
    by_version: dict[str, list[Any]] = defaultdict(list)
    for o in support:
        by_version[o.request.prompt_version].append(o)
    assert 0.45 < len(by_version["v4"]) / len(support) < 0.55
    v3, v4 = by_version["v3"], by_version["v4"]
    assert statistics.median(latency[o.trace_id] for o in v4) == pytest.approx(
        statistics.median(latency[o.trace_id] for o in v3), rel=0.1
    )
    esc = [sum(o.trace_id in escalated for o in group) / len(group) for group in (v3, v4)]
    assert esc[0] == pytest.approx(esc[1], abs=0.025)
    tokens: dict[str, list[int]] = defaultdict(list)
    for s in spans:
        attrs = s.attributes or {}
        if attrs.get(A.PROMPT_NAME) == "answer" and A.GEN_AI_USAGE_INPUT_TOKENS in attrs:
            tokens[str(attrs[A.PROMPT_VERSION])].append(int(attrs[A.GEN_AI_USAGE_INPUT_TOKENS]))
    assert statistics.mean(tokens["v4"]) == pytest.approx(statistics.mean(tokens["v3"]), rel=0.05)


# --- feedback ------------------------------------------------------------------------------------


def test_feedback_events_are_valid_and_arrive_after_their_trace(
    demo: tuple[Workload, Sequence[ReadableSpan]], by_trace: dict[str, list[ReadableSpan]]
) -> None:
    workload = demo[0]
    ends = {o.trace_id: o.end_ns / 1e9 for o in workload.outcomes}
    apps = {o.trace_id: o.request.app for o in workload.outcomes}
    ids = [e.event_id for e in workload.feedback]
    assert len(ids) == len(set(ids))
    delays = []
    for e in workload.feedback:
        assert re.fullmatch(r"demo-[0-9a-f]{32}-[a-z]+", e.event_id) and len(e.event_id) <= 64
        assert ends[e.trace_id] <= e.timestamp <= NOW
        delays.append(e.timestamp - ends[e.trace_id])
        assert e.source in ("end_user", "support", "reviewer")
        assert any((e.thumbs, e.score is not None, e.comment, e.escalation_reason, e.override, e.resolution))
        if e.thumbs:
            assert apps[e.trace_id] == "support" and e.source == "end_user"
        if e.span_id is not None:
            assert e.span_id in {format_span_id(s.context.span_id) for s in by_trace[e.trace_id] if s.context}
        if e.source == "reviewer":
            assert apps[e.trace_id] == "triage" and e.score in (0.0, 1.0)
            assert (e.override is None) == (e.score == 1.0) and (e.override is None or e.override in INTENTS)
    assert min(delays) < 60 and max(delays) > 2 * 86_400  # seconds to days later
    kinds = Counter(e.event_id.rsplit("-", 1)[1] for e in workload.feedback)
    assert set(kinds) == {"thumbs", "escalation", "override", "resolution", "review"}
    assert 0.25 < len(workload.feedback) / 2000 < 0.6


def test_resolutions_follow_their_escalation(demo: tuple[Workload, Sequence[ReadableSpan]]) -> None:
    escalations = {e.trace_id: e.timestamp for e in demo[0].feedback if e.escalation_reason}
    resolutions = [e for e in demo[0].feedback if e.resolution]
    assert resolutions
    for e in resolutions:
        assert e.source == "support" and e.timestamp > escalations[e.trace_id]


def test_example_traces(
    demo: tuple[Workload, Sequence[ReadableSpan]], by_trace: dict[str, list[ReadableSpan]]
) -> None:
    good, bad, escalated = examples(demo[0])
    events: dict[str | None, list[Any]] = defaultdict(list)
    for e in demo[0].feedback:
        events[e.trace_id].append(e)
    assert good and bad and escalated
    assert any(e.thumbs == "up" for e in events[good])
    assert all(s.status.status_code is not StatusCode.ERROR for s in by_trace[good])
    assert any(e.thumbs == "down" for e in events[bad])
    assert any(e.escalation_reason for e in events[escalated]) and any(
        e.resolution for e in events[escalated]
    )


# --- progress bar --------------------------------------------------------------------------------


def test_progress_bar_redraws_every_percent() -> None:
    out = io.StringIO()
    bar = _demo._Progress(2000, True, out, width=10)
    for done in range(1, 2001):
        bar.update(done)
    bar.close()
    frames = out.getvalue().split("\r")[1:]
    assert len(frames) == 100
    assert frames[59] == "[######    ] 1200/2000 traces"
    assert frames[-1] == "[##########] 2000/2000 traces\n"


def test_progress_bar_off_writes_nothing() -> None:
    out = io.StringIO()
    bar = _demo._Progress(50, False, out)
    bar.update(50)
    bar.close()
    assert out.getvalue() == ""


# --- collector down ------------------------------------------------------------------------------


def test_wait_gives_up_on_a_dead_collector(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import free_port

    assert _demo._wait_until_up(f"http://127.0.0.1:{free_port()}", timeout=0.5) is False
    assert "demo: waiting for the collector" in capsys.readouterr().err


def test_run_sends_nothing_when_the_collector_is_down(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_demo, "_wait_until_up", lambda endpoint, timeout=30.0: False)
    provider = state.provider
    result = _demo.run("http://127.0.0.1:9/", traces=10)
    assert result.trace_ids == [] and result.spans == 0 and result.bad_trace is None
    assert result.problems == [
        "the collector at http://127.0.0.1:9 did not answer http://127.0.0.1:9/healthz; no demo data sent"
    ]
    assert "no demo data sent" in capsys.readouterr().err
    assert state.provider is provider  # spyglass.init never ran


def test_summary_links_example_traces_into_the_ui(capsys: pytest.CaptureFixture[str]) -> None:
    from spyglass.cli._demo import DemoResult, _print_summary

    result = DemoResult(["a" * 32], 7, 2, "a" * 32, "b" * 32, None, 1.5)
    _print_summary(result, 14, "http://127.0.0.1:8501/")
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["a", "good", "path", f"http://127.0.0.1:8501/?trace_id={'a' * 32}"]
    assert lines[2].endswith(f"http://127.0.0.1:8501/?trace_id={'b' * 32}")
    assert len(lines) == 3  # no escalation example: no line for it
