"""Fault tests: nothing acknowledged is lost and nothing is stored twice, whatever happens to
the collector, the store or the client. All bounded, all on 127.0.0.1.

The soak runs ``SPYGLASS_SOAK_SECONDS`` (default 10 s in the suite; ``SPYGLASS_SOAK_SECONDS=120``
for the full length).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from spyglass.collector import Settings, create_app
from spyglass.collector.store import Store
from tests.apps.otlp_sender import post, trace_body
from tests.conftest import ROOT, CollectorProcess, clean_env, free_port, run_app, settled_client

pytestmark = pytest.mark.integration

PB = {"Content-Type": "application/x-protobuf"}


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)


def span_ids(url: str, trace_id: str, project: str) -> list[str]:
    """The trace's span IDs as the API returns them (empty list for an unknown trace)."""
    try:
        trace = get_json(f"{url}/api/traces/{trace_id}?project={project}")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise
    out: list[str] = []
    stack = list(trace["spans"])
    while stack:
        span = stack.pop()
        out.append(span["span_id"])
        stack.extend(span["children"])
    return out


def wait_for_traces(url: str, traces: dict[str, int], project: str, timeout: float = 60) -> dict[str, list]:
    """Poll until every trace has its expected span count (or the timeout); return what is seen."""
    deadline = time.monotonic() + timeout
    seen: dict[str, list[str]] = {}
    while True:
        seen = {tid: span_ids(url, tid, project) for tid in traces}
        if all(len(seen[t]) >= n for t, n in traces.items()) or time.monotonic() > deadline:
            return seen


def test_sigkill_mid_stream_loses_nothing_and_stores_nothing_twice(tmp_path: Path) -> None:
    project = "crash-" + os.urandom(3).hex()
    collector = CollectorProcess(tmp_path / "data").start()
    bodies = [trace_body(project, 50) for _ in range(40)]  # 2,000 spans in 40 exports
    acked: list[str] = []
    errors: list[BaseException] = []

    def send(share: list[tuple[str, bytes]]) -> None:
        try:
            for tid, body in share:
                post(collector.url, body, deadline=time.monotonic() + 120)
                acked.append(tid)
        except BaseException as exc:  # reported by the test thread below
            errors.append(exc)

    senders = [threading.Thread(target=send, args=(bodies[i::3],)) for i in range(3)]
    try:
        for t in senders:
            t.start()
        while len(acked) < 12 and not errors:
            time.sleep(0.01)
        collector.kill()  # mid-stream: other exports are in flight or about to be sent
        killed_after = len(acked)
        collector.start()  # same data directory and port: replays the spool, clients retry
        for t in senders:
            t.join(timeout=180)
        assert not errors, errors
        assert killed_after < len(bodies), "the crash came too late to test anything"
        seen = wait_for_traces(collector.url, {tid: 50 for tid, _ in bodies}, project)
    finally:
        collector.stop()
    assert sorted(acked) == sorted(tid for tid, _ in bodies)
    counts = {tid: len(ids) for tid, ids in seen.items()}
    assert counts == {tid: 50 for tid, _ in bodies}  # exactly N = 2,000: none lost, none twice
    assert all(len(set(ids)) == 50 for ids in seen.values())


def test_sigterm_stops_accepting_drains_and_exits(tmp_path: Path) -> None:
    project = "term-" + os.urandom(3).hex()
    collector = CollectorProcess(tmp_path / "data").start()
    traces = [trace_body(project, 20) for _ in range(10)]
    for _, body in traces:
        post(collector.url, body, deadline=time.monotonic() + 30)
    assert collector.proc is not None
    collector.proc.send_signal(signal.SIGTERM)
    # uvicorn stops accepting, finishes in-flight requests, runs the shutdown (the spool is
    # drained into the store), then re-raises SIGTERM: 128 + 15 is the conventional status.
    assert collector.proc.wait(timeout=60) in (0, 128 + signal.SIGTERM)
    assert not list((tmp_path / "data").rglob("*.seg"))  # the spool was drained into the store
    collector.start()
    try:
        seen = wait_for_traces(collector.url, {tid: 20 for tid, _ in traces}, project, timeout=5)
    finally:
        collector.stop()
    assert {tid: len(ids) for tid, ids in seen.items()} == {tid: 20 for tid, _ in traces}


def test_store_down_spools_to_the_bound_then_503_then_catches_up(store: Store, tmp_path: Path) -> None:
    project = "down-" + os.urandom(3).hex()
    down = tmp_path / "store-is-down"
    down.touch()
    settings = Settings(
        spool_dir=str(tmp_path / "spool"),
        spool_max_bytes=200_000,
        fault_store_down_file=str(down),
        batch_max_delay=0.01,
    )
    with settled_client(create_app(store, settings)) as client:
        accepted: list[str] = []
        for _ in range(200):
            tid, body = trace_body(project, 20)
            resp = client.post("/v1/traces", content=body, headers=PB)
            if resp.status_code != 200:
                break
            accepted.append(tid)
        assert resp.status_code == 503 and resp.headers["retry-after"] == "5"
        assert "spool" in resp.text
        assert 5 <= len(accepted) < 200
        refused = tid
        ready = client.get("/readyz")
        assert ready.status_code == 503 and len(ready.json()["problems"]) == 2  # store and spool
        down.unlink()  # the store is back
        for tid in accepted:  # the settled client waits for the spool to drain first
            assert client.get(f"/api/traces/{tid}?project={project}").json()["totals"]["span_count"] == 20
        assert client.get(f"/api/traces/{refused}?project={project}").status_code == 404
        assert client.get("/readyz").status_code == 200
        metrics = client.get("/metrics").text
    assert f'spyglass_written_rows_total{{table="spans"}} {20.0 * len(accepted)}' in metrics


def test_the_same_export_three_times_is_stored_once(store: Store, tmp_path: Path) -> None:
    project = "dup-" + os.urandom(3).hex()
    tid, body = trace_body(project, 7)
    event = {"trace_id": tid, "thumbs": "down", "id": "ev-" + tid[:8], "project": project}
    with settled_client(create_app(store, Settings(batch_max_delay=0.01))) as client:
        for _ in range(3):
            assert client.post("/v1/traces", content=body, headers=PB).status_code == 200
            assert client.post("/v1/feedback", json=event).status_code == 200
        trace = client.get(f"/api/traces/{tid}?project={project}").json()
        listed = client.get(f"/api/traces?project={project}").json()["traces"]
        inbox = client.get(f"/api/feedback?project={project}").json()["events"]
    assert trace["totals"]["span_count"] == 7 and len(trace["feedback"]) == 1
    assert [(t["trace_id"], t["span_count"]) for t in listed] == [(tid, 7)]
    assert len(inbox) == 1


def test_soak_from_several_processes_stores_every_span_sent(tmp_path: Path) -> None:
    seconds = float(os.environ.get("SPYGLASS_SOAK_SECONDS", "10"))
    project = "soak-" + os.urandom(3).hex()
    collector = CollectorProcess(tmp_path / "data").start()
    try:
        clients = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "tests" / "apps" / "otlp_sender.py"),
                    collector.url,
                    "--project",
                    project,
                    "--rate",
                    "15",
                    "--seconds",
                    str(seconds),
                    "--spans",
                    "20",
                ],
                env=clean_env(),
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        reports = [
            json.loads(c.communicate(timeout=seconds + 120)[0].strip().splitlines()[-1]) for c in clients
        ]
        sent = sum(r["spans"] for r in reports)
        stored, deadline = 0, time.monotonic() + 60
        while stored < sent and time.monotonic() < deadline:
            stored = sum_spans(collector.url, project)
    finally:
        collector.stop()
    assert sent >= 3 * 20 * 15 * seconds * 0.5  # the clients really sent at about the rate asked
    assert stored == sent


def sum_spans(url: str, project: str) -> int:
    total, offset = 0, 0
    while True:
        page = get_json(
            f"{url}/api/traces?project={project}&since=2000-01-01T00:00:00Z&limit=500&offset={offset}"
        )
        total += sum(t["span_count"] for t in page["traces"])
        if not page["has_more"]:
            return total
        offset += 500


class SlowCollector:
    """Answers every export with 200, but only after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_slow_or_absent_collector_does_not_slow_the_application() -> None:
    fast, slow = SlowCollector(0.0), SlowCollector(5.0)
    try:
        runs = {
            name: run_app("sdk_probe.py", "busy", "3000", env={"SPYGLASS_ENDPOINT": url}, timeout=120)
            for name, url in {
                "fast": fast.url,
                "slow": slow.url,
                "absent": f"http://127.0.0.1:{free_port()}",
            }.items()
        }
    finally:
        fast.close()
        slow.close()
    out = {}
    for name, run in runs.items():
        assert run.returncode == 0, run.stderr
        out[name] = json.loads(run.stdout.strip().splitlines()[-1])
    print({name: o["call_s"] for name, o in out.items()})
    assert out["fast"]["stats"]["spans_exported"] > 0
    for name in ("slow", "absent"):
        # No call ever waited for the collector (which takes 5 s to answer, or never does).
        assert out[name]["call_s"]["max"] < 1.0, out[name]
        assert out[name]["total"] == out["fast"]["total"]
