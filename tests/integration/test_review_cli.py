"""``spyglass gate`` and ``spyglass report`` for real: the demo workload (600 requests over 14
days, seed 11) is sent by its own process to a ``spyglass up`` process, then both commands run
as subprocesses against it, through the HTTP API only. The data sits in a project and a window
(May 2026) of its own, so other tests sharing the collector do not change it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CollectorProcess, clean_env, free_port, run_demo

pytestmark = pytest.mark.integration

NOW = 1_780_000_000 - 1_780_000_000 % 3600  # 2026-05-28T20:00:00Z: the demo's window ends here
PROJECT = "review-cli"
WINDOW = ["--since", "2026-05-14", "--until", "2026-05-28"]  # whole days, the demo's 14 days
TRACE_LINK = re.compile(r"http://ui\.example:8501/\?trace_id=([0-9a-f]{32})")


def spyglass(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spyglass.cli", *args],
        env=env or clean_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def url(collector: CollectorProcess) -> str:
    args = ["--traces", "600", "--days", "14", "--seed", "11", "--now", str(NOW), "--project", PROJECT]
    _, result = run_demo(collector.url, *args)
    assert result["problems"] == []
    return collector.url


def gate(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return spyglass("gate", "--endpoint", url, "--project", PROJECT, *WINDOW, *args)


def test_release_comparison_ships(url: str) -> None:
    done = gate(url, "--baseline", "2026.11.1", "--candidate", "2026.11.2")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "\x1b[" not in out  # not a terminal: no color codes
    assert out.startswith("spyglass gate: release 2026.11.1 (baseline) -> 2026.11.2 (candidate), ")
    assert "verdict: SHIP (exit 0)" in out
    overall = re.search(r"^overall\s+(\d+)/(\d+)\s+ship\s+all rules pass$", out, re.M)
    assert overall, out
    base, cand = int(overall[1]), int(overall[2])
    assert base + cand == 600 and min(base, cand) >= 100
    # Five tenants, each under 100 requests on a side: reported, not judged.
    tenants = re.findall(
        r"^tenant=(\w+)\s+\d+/\d+\s+not enough data\s+fewer than 100 requests on a side$", out, re.M
    )
    assert sorted(tenants) == ["acme", "globex", "hooli", "initech", "umbrella"]
    assert re.search(
        r"^  pass  p95 latency [\d.]+ s -> [\d.]+ s \([+-][\d.]+%, within the noise at 95%\), limit \+10%$",
        out,
        re.M,
    )
    assert "FAIL" not in out


def test_release_comparison_as_json_and_endpoint_from_the_environment(url: str) -> None:
    done = spyglass(
        "gate",
        "--project",
        PROJECT,
        *WINDOW,
        "--baseline",
        "2026.11.1",
        "--candidate",
        "2026.11.2",
        "--json",
        env=clean_env(SPYGLASS_ENDPOINT=url),
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["verdict"] == "ship" and result["exit_code"] == 0
    assert result["dimension"] == "release" and result["candidate"] == "2026.11.2"
    assert result["overall"]["tasks_base"] + result["overall"]["tasks_cand"] == 600
    assert {c["cohort"]["tenant"] for c in result["cohorts"]} == {
        "acme",
        "globex",
        "hooli",
        "initech",
        "umbrella",
    }


def test_prompt_v4_is_blocked_for_its_thumbs_down(url: str) -> None:
    """The planted problem: answer@v4 gets 18% thumbs-down against 6% for v3. With ~200
    requests per version (about 70 rated each) the rise is outside the noise at 95%, which the
    gate uses for the overall row."""
    done = gate(url, "--by", "prompt_version", "--baseline", "answer@v3", "--candidate", "answer@v4")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "verdict: BLOCK (exit 1)" in out
    assert re.search(
        r"^overall\s+\d+/\d+\s+block\s+fails: positive feedback, negative feedback \(below\)$", out, re.M
    )
    down = re.search(
        r"^  - overall: negative-feedback rate ([\d.]+)% -> ([\d.]+)% "
        r"\(\+([\d.]+) pp, outside the noise at 95%\), limit \+2\.0 pp$",
        out,
        re.M,
    )
    assert down, out
    assert 2 <= float(down[1]) <= 10 and 12 <= float(down[2]) <= 26  # planted: 6% and 18%
    assert "  - overall: positive-feedback rate " in out
    # Nothing else differs between the versions.
    for rule in ("success rate", "p95 latency", "cost per task", "error rate", "denied authorizations"):
        assert re.search(rf"^  pass  {rule} ", out, re.M), rule
    # "prompt" is the API's name for the same dimension.
    again = gate(url, "--by", "prompt", "--baseline", "answer@v3", "--candidate", "answer@v4")
    assert again.returncode == 1 and again.stdout == out


def test_prompt_v4_at_999_percent_is_within_the_noise(url: str, tmp_path: Path) -> None:
    """What the cohort rows' 99.9% level says about the same 600 requests: not enough evidence."""
    config = tmp_path / "gate.toml"
    config.write_text("[gate]\noverall_confidence = 0.999\n")
    done = gate(
        url,
        "--by",
        "prompt_version",
        "--baseline",
        "answer@v3",
        "--candidate",
        "answer@v4",
        "--config",
        str(config),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(
        r"^  pass  negative-feedback rate .* within the noise at 99\.9%\), limit \+2\.0 pp$",
        done.stdout,
        re.M,
    )


def test_tiny_comparison_is_not_enough_data(url: str) -> None:
    # One afternoon of traffic: well under 100 requests per release.
    done = spyglass(
        "gate",
        "--endpoint",
        url,
        "--project",
        PROJECT,
        "--since",
        "2026-05-27T12:00:00Z",
        "--until",
        "2026-05-27T18:00:00Z",
        "--baseline",
        "2026.11.1",
        "--candidate",
        "2026.11.2",
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "verdict: NOT ENOUGH DATA (exit 3)" in done.stdout
    assert re.search(
        r"  - overall: not enough data: \d+ baseline and \d+ candidate requests, the gate needs 100",
        done.stdout,
    )


def test_unknown_baseline_says_where_to_look(url: str) -> None:
    done = gate(url, "--baseline", "2026.10.9", "--candidate", "2026.11.2")
    assert done.returncode == 3
    assert "no request has release = '2026.10.9' in this window: check the value" in done.stdout


def test_unreachable_collector_and_api_errors_exit_2(url: str, tmp_path: Path) -> None:
    port = free_port()
    done = spyglass("gate", "--endpoint", f"http://127.0.0.1:{port}", "--baseline", "a", "--candidate", "b")
    assert done.returncode == 2 and done.stdout == ""
    assert f"cannot reach the collector at http://127.0.0.1:{port}" in done.stderr
    assert "Is `spyglass up` running? Point --endpoint or SPYGLASS_ENDPOINT at it." in done.stderr

    refused = gate(url, "--baseline", "2026.11.1", "--candidate", "2026.11.2", "--cohorts", "release")
    assert refused.returncode == 2
    assert (
        "the collector rejected the request: query parameter 'by': cannot group by 'release'"
        in refused.stderr
    )

    bad = tmp_path / "bad.toml"
    bad.write_text("max_p95_increase = 5\n")
    config = gate(url, "--baseline", "2026.11.1", "--candidate", "2026.11.2", "--config", str(bad))
    assert config.returncode == 2 and "unknown key 'max_p95_increase'" in config.stderr

    report = spyglass("report", "--endpoint", f"http://127.0.0.1:{port}", "--out", str(tmp_path / "r"))
    assert report.returncode == 2 and "cannot reach the collector" in report.stderr
    assert not (tmp_path / "r").exists()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)


def test_report_files(url: str, tmp_path: Path) -> None:
    done = spyglass(
        "report",
        "--endpoint",
        url,
        "--project",
        PROJECT,
        "--from",
        "2026-05-14",
        "--to",
        "2026-05-28",
        "--candidate",
        "answer@v4",
        "--baseline",
        "answer@v3",
        "--by",
        "prompt_version",
        "--ui-url",
        "http://ui.example:8501",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = tmp_path / "spyglass-report-2026-05-28"  # the default directory, named by --to
    assert done.stdout.splitlines() == [f"{out.name}/report.html", f"{out.name}/report.md"]
    page = (out / "report.html").read_text(encoding="utf-8")
    markdown = (out / "report.md").read_text(encoding="utf-8")

    assert "<title>Spyglass review: project review-cli, 2026-05-14 to 2026-05-28</title>" in page
    for section in (
        "Cohort scorecard",
        "Week over week",
        "Where the time goes",
        "Cost",
        "Release gate",
        "Example traces",
    ):
        assert f">{section}</h2>" in page and f"\n## {section}\n" in markdown
    # The scorecard: every tenant, both answer prompt versions, both model routes.
    for cohort in (
        "acme",
        "globex",
        "hooli",
        "initech",
        "umbrella",
        "answer@v3",
        "answer@v4",
        "openai/gpt-4o",
    ):
        assert f"<td>{cohort}</td>" in page and f"| {cohort} |" in markdown
    # Charts: inline SVG, well-formed.
    charts = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)
    assert len(charts) == 7
    for chart in charts:
        ET.fromstring(chart)
    # The gate, as spyglass gate says it for the same window.
    assert (
        "prompt answer@v3 (baseline) against answer@v4 (candidate) in this window, cohorts by tenant: BLOCK."
        in page
    )
    assert "Release gate, prompt answer@v3 -&gt; answer@v4: BLOCK (2 reasons)" in page
    assert "overall: negative-feedback rate" in markdown
    # Example traces: a good path, a bad path and an escalation, each linking its trace page.
    linked = TRACE_LINK.findall(page)
    assert len(set(linked)) == 3, linked
    for trace_id in set(linked):
        assert f"[{trace_id}](http://ui.example:8501/?trace_id={trace_id})" in markdown
        trace = get_json(f"{url}/api/traces/{trace_id}?project={PROJECT}")
        assert trace["trace_id"] == trace_id
    bad = next(t for t in set(linked) if re.search(rf"Bad path</td><td><a href=\"[^\"]+{t}\"", page))
    feedback = get_json(f"{url}/api/traces/{bad}?project={PROJECT}")["feedback"]
    errors = get_json(f"{url}/api/traces/{bad}?project={PROJECT}")["totals"]["error_count"]
    assert any(e["thumbs"] == "down" for e in feedback) or errors > 0


def test_report_without_candidate_week_over_week(url: str, tmp_path: Path) -> None:
    done = spyglass(
        "report",
        "--endpoint",
        url,
        "--project",
        PROJECT,
        "--from",
        "2026-05-22",
        "--to",
        "2026-05-28",
        "--out",
        str(tmp_path / "week"),
    )
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "week" / "report.html").read_text(encoding="utf-8")
    assert "Release gate" not in page
    # This week against the 7 days before, tenant by tenant, with both windows' request counts.
    assert "against the 7 days before it (2026-05-15 00:00 to 2026-05-21 23:59 UTC)" in page
    counts = re.findall(r"<td>tenant=(\w+)</td><td>(\d+) -&gt; (\d+)</td>", page)
    assert {t for t, _, _ in counts} == {"acme", "globex", "hooli", "initech", "umbrella"}
    assert all(int(a) > 0 and int(b) > 0 for _, a, b in counts)
    # Tail attribution: globex's slowest requests in the newest week wait on the slow CRM tool.
    globex = re.search(r"tenant=globex: the slowest 5% \((\d+) requests\) spend (\d+)% in (\w+)", page)
    assert globex and globex[3] == "tool", globex
