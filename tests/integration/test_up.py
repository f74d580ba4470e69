"""``spyglass up`` runs the collector and the UI together, prints both addresses, and stops both."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import CollectorProcess, free_port

pytestmark = pytest.mark.integration


def ui_health(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
            return resp.read().decode()
    except OSError:
        return None


def test_up_starts_and_stops_the_ui_with_the_collector(tmp_path: Path) -> None:
    ui_port = free_port()
    up = CollectorProcess(tmp_path / "data", ui_port=ui_port).start()
    try:
        deadline = time.monotonic() + 60
        while ui_health(ui_port) != "ok" and time.monotonic() < deadline:
            time.sleep(0.3)
        assert ui_health(ui_port) == "ok"
    finally:
        up.stop()
    assert up.proc is not None and up.proc.stdout is not None
    output = up.proc.stdout.read().decode()
    assert f"Spyglass UI on http://127.0.0.1:{ui_port}" in output
    assert f"Spyglass collector on http://127.0.0.1:{up.port}" in output
    deadline = time.monotonic() + 15
    while ui_health(ui_port) is not None and time.monotonic() < deadline:
        time.sleep(0.3)
    assert ui_health(ui_port) is None  # the UI went down with the collector


def test_ui_port_equal_to_the_collector_port_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "spyglass.cli", "up", "--port", str(port), "--ui-port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "pick another" in result.stderr
