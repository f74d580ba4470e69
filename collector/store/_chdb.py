"""Embedded ClickHouse (chDB) in a data directory: no server, no set-up.

One process owns a data directory (chDB locks it). Inside it, each thread gets its own
connection so reads run in parallel with the writer's inserts (chDB releases the GIL).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import pyarrow as pa

from . import StoreError, queries


class ChdbStore:
    def __init__(self, data_dir: str) -> None:
        import chdb

        self.path = os.path.abspath(data_dir)
        self.location = self.path
        os.makedirs(self.path, exist_ok=True)
        self._chdb = chdb
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        try:
            self._conn()
        except Exception as exc:
            raise StoreError(
                f"cannot open the embedded store in {self.path}: {exc}. Another Spyglass collector "
                "may be using this directory: stop it, or pass a different --data-dir."
            ) from exc

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._chdb.connect(self.path)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def migrate(self) -> None:
        conn = self._conn()
        conn.query(queries.MIGRATIONS_TABLE)
        applied = set(self.query(queries.APPLIED_MIGRATIONS).column("version").to_pylist())
        for version, name, statements in queries.migrations():
            if version in applied:
                continue
            for statement in statements:
                conn.query(statement)
            conn.query(queries.RECORD_MIGRATION, params={"version": version, "name": name})

    def insert_spans(self, batch: pa.Table) -> None:
        spans_batch = batch  # noqa: F841 - read by name by chDB's Python() table function
        try:
            self._conn().query(queries.INSERT_SPANS)
        except Exception as exc:
            raise StoreError(f"insert of {batch.num_rows} spans failed: {exc}") from exc

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        try:
            if params:
                return self._conn().query(sql, "ArrowTable", params=params)
            return self._conn().query(sql, "ArrowTable")
        except Exception as exc:
            raise StoreError(f"query failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except Exception:
                pass
