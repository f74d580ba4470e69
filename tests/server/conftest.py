"""Fixtures of the server tier: the store's server backend, over ClickHouse's HTTP interface.

By default the server is ``tests/server/chhttp.py``, a TEST FIXTURE (ClickHouse's HTTP
interface executing on embedded ClickHouse, in its own process, with a password), because no
ClickHouse server can run on the development and CI machines; the product never imports it.
With ``SPYGLASS_TEST_CLICKHOUSE_URL=http://user:pass@host:8123`` the same tests run against
that real server instead, each test database created fresh (``spyglass_test_*``) and dropped
at the end of the session.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.conftest import free_port

HERE = Path(__file__).resolve().parent
# A password that needs quoting in a URL, so the DSN path is tested with one.
FIXTURE_USER, FIXTURE_PASSWORD = "spyglass", "p@ss:w/rd"


class ClickHouseServer:
    """A ClickHouse HTTP endpoint; ``dsn()`` gives a fresh database on it."""

    def __init__(self, url: str, real: bool) -> None:
        self.url = url.rstrip("/")
        self.real = real
        self.databases: list[str] = []

    def dsn(self, database: str | None = None) -> str:
        """A store DSN for ``database`` (default: a new name; the store creates it)."""
        database = database or f"spyglass_test_{uuid.uuid4().hex[:12]}"
        self.databases.append(database)
        return f"{self.url}/{database}"

    def client(self, database: str = "default") -> Any:
        """A plain clickhouse-connect client, for checks that bypass the store."""
        import clickhouse_connect

        return clickhouse_connect.get_client(dsn=self.url, database=database, autogenerate_session_id=False)


def _start_fixture(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "chhttp.py"), "--data", str(data), "--port", str(port),
         "--user", FIXTURE_USER, "--password", FIXTURE_PASSWORD],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"chhttp fixture exited with {proc.returncode}: {output}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("chhttp fixture did not answer /ping within 60 s")
    return proc, f"http://{FIXTURE_USER}:{quote(FIXTURE_PASSWORD, safe='')}@127.0.0.1:{port}"


@contextlib.contextmanager
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    """The real server named by ``SPYGLASS_TEST_CLICKHOUSE_URL`` (its test databases dropped at
    the end), else the chhttp test fixture in its own process for as long as this is entered."""
    real_url = os.environ.get("SPYGLASS_TEST_CLICKHOUSE_URL", "").strip()
    if real_url:
        parts = urlsplit(real_url)
        server = ClickHouseServer(f"{parts.scheme}://{parts.netloc}", real=True)
        try:
            yield server
        finally:
            client = server.client()
            for database in server.databases:
                client.command(f"DROP DATABASE IF EXISTS `{database}`")
            client.close()
        return
    proc, url = _start_fixture(tmp_path_factory.mktemp("chhttp"))
    try:
        yield ClickHouseServer(url, real=False)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def clickhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    """The ClickHouse server of this session (see ``clickhouse_server``)."""
    with clickhouse_server(tmp_path_factory) as server:
        yield server


@pytest.fixture(scope="session")
def server_store(clickhouse: ClickHouseServer) -> Iterator[Any]:
    """The store on the server, one database for the session (tests isolate by trace ID)."""
    from spyglass.collector.store import open_store

    store = open_store(clickhouse.dsn())
    yield store
    store.close()


@pytest.fixture(params=["embedded", "server"])
def backend(request: pytest.FixtureRequest) -> Any:
    """The store, once per backend: the embedded session store and the server session store."""
    return request.getfixturevalue("store" if request.param == "embedded" else "server_store")
