"""Several collector processes on one ClickHouse server: two ``spyglass up --store DSN``
processes (one of them with two uvicorn workers) start at once on a fresh database, take writes
at the same time, a trace's spans split between them and some requests delivered to both, and
each one reads everything the others wrote: no lost and no duplicated rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from spyglass.collector.store import open_store, queries
from tests import payloads as P
from tests.conftest import clean_env, free_port, wait_healthy
from tests.server.conftest import ClickHouseServer

pytestmark = pytest.mark.integration

TRACES = 60
SPANS_PER_TRACE = 5


def _up(dsn: str, data_dir: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "spyglass.cli", "up", "--no-ui", "--port", str(port), "--store", dsn, *extra],
        env=clean_env(SPYGLASS_DATA_DIR=str(data_dir), SPYGLASS_GRPC_PORT="0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def collectors(
    clickhouse: ClickHouseServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, list[str]]]:
    dsn = clickhouse.dsn()
    shared = tmp_path_factory.mktemp("shared-data")  # one data dir: each process claims its own spool
    started = [_up(dsn, shared, "--workers", "2"), _up(dsn, shared)]
    try:
        for proc, url in started:
            wait_healthy(url, proc, timeout=120)
        yield dsn, [url for _, url in started]
    finally:
        for proc, _ in started:
            proc.terminate()
        for proc, _ in started:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _post(url: str, path: str, body: bytes, content_type: str) -> None:
    request = urllib.request.Request(url + path, data=body, headers={"content-type": content_type})
    with urllib.request.urlopen(request, timeout=60) as resp:
        assert resp.status == 200


def _get(url: str, path: str) -> Any:
    with urllib.request.urlopen(url + path, timeout=60) as resp:
        return json.loads(resp.read())


def _send_trace(urls: list[str], project: str, n: int) -> str:
    """One trace: its first spans to one collector, the rest to the other; every third trace's
    requests also re-delivered to the other collector (an exporter retrying elsewhere)."""
    tid = os.urandom(16)
    start = time.time_ns() - 60_000_000_000
    root = P.span(tid, name="root", start_ns=start)
    spans = [root] + [
        P.span(tid, name=f"step {i}", parent=root.span_id, start_ns=start + i * 1000)
        for i in range(1, SPANS_PER_TRACE)
    ]
    resource = {"service.name": "svc", "spyglass.project": project}
    first, second = urls[n % 2], urls[(n + 1) % 2]
    batches = [(first, spans[:2]), (second, spans[2:])]
    if n % 3 == 0:
        batches += [(second, spans[:2]), (first, spans[2:])]
    for url, batch in batches:
        _post(
            url,
            "/v1/traces",
            P.request(*batch, resource=resource).SerializeToString(),
            "application/x-protobuf",
        )
    event = {"trace_id": tid.hex(), "id": f"ev-{n}", "thumbs": "down", "project": project}
    for url in [first, second] if n % 3 == 0 else [second]:
        _post(url, "/v1/feedback", json.dumps(event).encode(), "application/json")
    return tid.hex()


def _eventually(check: Any, timeout: float = 60) -> Any:
    """``check()`` once it stops raising AssertionError (acknowledged data reaches the store a
    moment after the acknowledgment), or its last failure."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_two_collectors_write_and_read_one_server(collectors: tuple[str, list[str]]) -> None:
    dsn, urls = collectors
    project = f"multi_{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=6) as pool:
        trace_ids = list(pool.map(lambda n: _send_trace(urls, project, n), range(TRACES)))

    store = open_store(dsn)
    try:

        def stored() -> None:
            spans = store.query(queries.COUNT_SPANS, {"project": project}).column(0)[0].as_py()
            assert spans == TRACES * SPANS_PER_TRACE

        _eventually(stored)
        feedback = (
            store.query("SELECT count() FROM feedback FINAL WHERE project = {p:String}", {"p": project})
            .column(0)[0]
            .as_py()
        )
        assert feedback == TRACES
    finally:
        store.close()

    for url in urls:  # each collector reads what both wrote
        listing = _get(url, f"/api/traces?project={project}&limit=500")
        assert sorted(t["trace_id"] for t in listing["traces"]) == sorted(trace_ids)
        for tid in trace_ids[:: TRACES // 10]:
            trace = _get(url, f"/api/traces/{tid}?project={project}")
            assert trace["totals"]["span_count"] == SPANS_PER_TRACE
            assert [e["thumbs"] for e in trace["feedback"]] == ["down"]


def test_several_workers_need_a_server_store(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "spyglass.cli",
            "up",
            "--no-ui",
            "--workers",
            "2",
            "--data-dir",
            str(tmp_path),
        ],
        env=clean_env(SPYGLASS_GRPC_PORT="0"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "2 workers need a ClickHouse server store" in done.stderr and "--store" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--store", "postgres://db/x"], "scheme 'postgres' is not supported"),
        (
            ["--store", "http://u:hunter2@127.0.0.1:1/db"],
            "cannot open the store at http://u:***@127.0.0.1:1/db",
        ),
        (["--store", "http://h/db", "--data-dir", "d"], "give --store or --data-dir, not both"),
    ],
)
def test_a_store_that_cannot_be_used_stops_start_with_the_reason(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "spyglass.cli", "up", "--no-ui", *args],
        env=clean_env(SPYGLASS_GRPC_PORT="0"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and message in done.stderr, done.stderr
    assert "hunter2" not in done.stderr + done.stdout and "Traceback" not in done.stderr
