"""API keys and deletion end to end: a real ``spyglass up`` with keys required, the
``spyglass keys`` / ``delete`` / ``trace`` commands as real processes, and the refusal to
listen beyond loopback without keys."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from spyglass import attributes as A
from spyglass.collector import Settings
from spyglass.collector.auth import describe_keys
from tests import payloads as P
from tests.conftest import CollectorProcess, clean_env, free_port

pytestmark = pytest.mark.integration
ADMIN = "cli-operator-" + "z" * 30


def spyglass(*args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = clean_env(**({"SPYGLASS_API_KEY": key} if key else {}))
    return subprocess.run(
        [sys.executable, "-m", "spyglass.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    proc = CollectorProcess(
        tmp_path_factory.mktemp("keys-data"), env={"SPYGLASS_REQUIRE_KEYS": "1", "SPYGLASS_ADMIN_KEY": ADMIN}
    ).start()
    yield proc
    proc.stop()


def export(url: str, key: str, trace_id: bytes) -> int:
    body = P.request(
        P.span(trace_id, name="root", attrs={A.COHORT_TENANT: "cli-tenant"}), resource={A.PROJECT: "other"}
    ).SerializeToString()
    request = urllib.request.Request(
        f"{url}/v1/traces",
        data=body,
        headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_keys_trace_and_delete_commands(collector: CollectorProcess) -> None:
    url = collector.url
    created = spyglass(
        "keys", "create", "--project", "cli", "--scopes", "ingest,read", "--endpoint", url, key=ADMIN
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("sg_") and "only time the key is shown" in created.stderr
    key_id = key.split("_")[1]

    assert export(url, "sg_000000000000_wrong", P.new_trace_id()) == 401
    trace_id = P.new_trace_id()
    assert export(url, key, trace_id) == 200
    for _ in range(100):
        shown = spyglass("trace", trace_id.hex(), "--project", "cli", "--endpoint", url, key=key)
        if shown.returncode == 0:
            break
        time.sleep(0.1)
    assert shown.returncode == 0 and trace_id.hex() in shown.stdout, shown.stderr

    anonymous = spyglass("trace", trace_id.hex(), "--project", "cli", "--endpoint", url)
    assert anonymous.returncode == 1 and "requires an API key" in anonymous.stderr

    listed = spyglass("keys", "list", "--json", "--endpoint", url, key=ADMIN)
    assert listed.returncode == 0, listed.stderr
    assert {k["id"]: k["scopes"] for k in json.loads(listed.stdout)}[key_id] == ["ingest", "read"]
    assert key.split("_", 2)[2] not in listed.stdout

    refused = spyglass("delete", "trace", trace_id.hex(), "--project", "cli", "--endpoint", url, key=key)
    assert refused.returncode == 1 and "lacks the 'admin' scope" in refused.stderr
    deleted = spyglass("delete", "trace", trace_id.hex(), "--project", "cli", "--endpoint", url, key=ADMIN)
    assert deleted.returncode == 0, deleted.stderr
    assert f"deleted trace {trace_id.hex()} in project 'cli': 1 spans" in deleted.stdout
    gone = spyglass("trace", trace_id.hex(), "--project", "cli", "--endpoint", url, key=key)
    assert gone.returncode == 1 and "no trace" in gone.stderr

    unconfirmed = spyglass("delete", "tenant", "cli-tenant", "--project", "cli", "--endpoint", url, key=ADMIN)
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr

    revoked = spyglass("keys", "revoke", key_id, "--endpoint", url, key=ADMIN)
    assert revoked.returncode == 0 and f"revoked key {key_id}" in revoked.stdout
    after = spyglass("trace", trace_id.hex(), "--project", "cli", "--endpoint", url, key=key)
    assert after.returncode == 1 and "revoked" in after.stderr

    no_key = spyglass("keys", "list", "--endpoint", url)
    assert no_key.returncode == 1 and "set SPYGLASS_API_KEY to an admin key" in no_key.stderr


def test_start_banner_says_keys_are_required(collector: CollectorProcess) -> None:
    collector.stop()
    assert collector.proc is not None and collector.proc.stdout is not None
    output = collector.proc.stdout.read().decode()
    assert "API keys required" in output and ADMIN not in output


def test_listening_beyond_loopback_without_keys_is_refused(tmp_path: Path) -> None:
    port = str(free_port())
    done = spyglass("up", "--host", "0.0.0.0", "--port", port, "--no-ui", "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0 without API keys" in done.stderr
    assert "--require-keys" in done.stderr


def test_without_keys_the_banner_says_so() -> None:
    line = describe_keys(Settings())
    assert "WITHOUT API keys" in line and "127.0.0.1:4318" in line and "--require-keys" in line
