"""Storage: one small interface over ClickHouse; the SQL lives in ``queries`` and ``sql/``."""

from __future__ import annotations

from typing import Any, Protocol

import pyarrow as pa


class StoreError(RuntimeError):
    """The store could not complete a read or write (the caller may retry)."""


class Store(Protocol):
    """What the collector needs from storage."""

    location: str
    """Where the data lives, for people: a directory or a server address."""

    def migrate(self) -> None:
        """Create or upgrade the schema (idempotent)."""

    def insert(self, table: str, batch: pa.Table) -> None:
        """Insert rows into ``table`` (``queries.SPANS_TABLE``: columns as ``SPAN_COLUMNS``;
        ``queries.FEEDBACK_TABLE``: as ``FEEDBACK_COLUMNS``) in one INSERT."""

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        """Run a parameterized SELECT and return its result as Arrow."""

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run a parameterized statement that returns no rows (DDL, ALTER, DELETE)."""

    def close(self) -> None: ...


def open_store(data_dir: str) -> Store:
    """The embedded store (chDB) in ``data_dir``, schema migrated."""
    from ._clickhouse import ClickHouseStore, embedded_dsn

    store = ClickHouseStore(embedded_dsn(data_dir))
    store.migrate()
    return store


__all__ = ["Store", "StoreError", "open_store"]
