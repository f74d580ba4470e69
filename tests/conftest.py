"""Shared fixtures. Tiers: ``tests/unit`` (no services), ``tests/integration`` (the real
embedded ClickHouse in-process, and real collector processes on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# SDK bugs must fail tests instead of being swallowed by the SDK's guard.
os.environ["SPYGLASS_RAISE_INTERNAL_ERRORS"] = "1"

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"collector exited with {proc.returncode}: {output}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"collector at {url} not healthy after {timeout} s")


class CollectorProcess:
    """``spyglass up`` as a real process on a free port with its own data directory."""

    def __init__(
        self, data_dir: Path, *, ui_port: int | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ui_port = ui_port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> CollectorProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SPYGLASS_"))}
        env.update(self.env)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "spyglass.cli",
                "up",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                *(["--ui-port", str(self.ui_port)] if self.ui_port else ["--no-ui"]),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        wait_healthy(self.url, self.proc)
        return self

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to flush anything."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def settled_client(app: Any) -> Any:
    """A TestClient for ``app`` whose reads first wait until everything the app acknowledged is
    in the store. The collector acknowledges once data is durable in its spool, a moment before
    the store has it; tests of what the API returns should not depend on that moment (freshness
    has its own tests)."""
    from fastapi.testclient import TestClient

    class SettledClient(TestClient):
        def get(self, url: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            if str(url).startswith("/api/"):  # not /readyz or /metrics: those report the spool
                assert app.state.writer.spool.flush(30), "the spool did not drain into the store in 30 s"
            return super().get(url, *args, **kwargs)

    return SettledClient(app)


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real embedded store, in-process. chDB allows one data directory per process, so
    the whole session shares this one; tests isolate by trace ID and project.
    ``SPYGLASS_TEST_STORE=server`` makes it the server backend instead (the chhttp test fixture,
    or the server at ``SPYGLASS_TEST_CLICKHOUSE_URL``), to run the whole collector suite on it."""
    from spyglass.collector.store import open_store

    if os.environ.get("SPYGLASS_TEST_STORE") == "server":
        from tests.server.conftest import clickhouse_server

        with clickhouse_server(tmp_path_factory) as server:
            s = open_store(server.dsn())
            yield s
            s.close()
        return
    s = open_store(str(tmp_path_factory.mktemp("store")))
    yield s
    s.close()


@pytest.fixture(scope="session")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """One real collector process for the session (tests isolate by trace ID)."""
    proc = CollectorProcess(tmp_path_factory.mktemp("collector-data")).start()
    yield proc
    proc.stop()


def flatten(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A trace's span tree (the trace API's ``spans``) as a list, parents before children."""
    out = []
    for span in spans:
        out.append(span)
        out.extend(flatten(span["children"]))
    return out


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without OpenTelemetry and Spyglass settings, SDK errors raised."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SPYGLASS_"))}
    env["SPYGLASS_RAISE_INTERNAL_ERRORS"] = "1"
    return env | extra


def run_demo(
    url: str, *args: str, timeout: float = 300
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``spyglass demo`` against the collector at ``url`` in its own process (``spyglass.init``
    runs once per process): the finished process and its JSON result."""
    done = subprocess.run(
        [sys.executable, "-m", "spyglass.cli._demo", url, *args, "--no-progress", "--json"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done, json.loads(done.stdout.strip().splitlines()[-1])


def run_app(
    script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a test application (``tests/apps/SCRIPT``) in its own interpreter."""
    return subprocess.run(
        [sys.executable, str(ROOT / "tests" / "apps" / script), *args],
        env=clean_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
