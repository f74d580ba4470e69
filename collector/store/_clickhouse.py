"""The store on clickhouse-connect: one implementation for every ClickHouse the collector
can use. Today that is embedded ClickHouse (chDB) through clickhouse-connect's ``chdb://``
interface; a ClickHouse server is the same client with an ``http(s)://`` DSN.

clickhouse-connect was chosen over chDB's own Python API by measurement
(``bench/store_insert.py``: equal insert throughput at 10k-row batches, faster at 1k; equal
trace-lookup latency), so one client serves both backends.

Each thread gets its own client: reads run in parallel with the writer's inserts (chDB
releases the GIL), and clients are not shared across threads.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from typing import Any

import pyarrow as pa

from . import StoreError, queries


def embedded_dsn(data_dir: str) -> str:
    """The DSN of the embedded store in ``data_dir``."""
    return "chdb://" + os.path.abspath(data_dir)


def _locked_by_another_process(data_dir: str) -> bool:
    """ClickHouse holds an exclusive ``flock`` on ``status`` while it owns a data directory;
    chDB's own error does not say so, so ask the lock directly."""
    status = os.path.join(data_dir, "status")
    if not os.path.exists(status):
        return False
    with open(status, "rb") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        with contextlib.suppress(OSError):
            fcntl.flock(fh, fcntl.LOCK_UN)
    return False


class ClickHouseStore:
    def __init__(self, dsn: str) -> None:
        import clickhouse_connect

        self.dsn = dsn
        self.location = dsn.removeprefix("chdb://") if dsn.startswith("chdb://") else dsn
        if dsn.startswith("chdb://"):
            os.makedirs(self.location, exist_ok=True)
            if _locked_by_another_process(self.location):
                raise StoreError(
                    f"the embedded store at {self.location} is in use by another process. Another "
                    "Spyglass collector may be using this directory: stop it, or pass a different "
                    "--data-dir."
                )
        self._connect = clickhouse_connect.get_client
        self._local = threading.local()
        self._clients: list[Any] = []
        self._lock = threading.Lock()
        try:
            self._client()
        except Exception as exc:
            raise StoreError(
                f"cannot open the store at {self.location}: {exc}. Check the address or path and "
                "its permissions."
            ) from exc

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._connect(dsn=self.dsn)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def migrate(self) -> None:
        client = self._client()
        client.command(queries.MIGRATIONS_TABLE)
        applied = set(self.query(queries.APPLIED_MIGRATIONS).column("version").to_pylist())
        for version, name, statements in queries.migrations():
            if version in applied:
                continue
            for statement in statements:
                client.command(statement)
            client.command(queries.RECORD_MIGRATION, parameters={"version": version, "name": name})

    def insert(self, table: str, batch: pa.Table) -> None:
        try:
            self._client().insert_arrow(table, batch)
        except Exception as exc:
            raise StoreError(f"insert of {batch.num_rows} rows into {table} failed: {exc}") from exc

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        try:
            return self._client().query_arrow(sql, parameters=params or None)
        except Exception as exc:
            raise StoreError(f"query failed: {exc}") from exc

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        try:
            self._client().command(sql, parameters=params or None)
        except Exception as exc:
            raise StoreError(f"statement failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            try:
                client.close()
            except Exception:
                pass
