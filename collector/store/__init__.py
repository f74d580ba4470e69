"""Storage: one small interface over ClickHouse; the SQL lives in ``queries`` and ``sql/``."""

from __future__ import annotations

from typing import Any, Protocol

import pyarrow as pa

from .dsn import InvalidDsn, embedded_dsn, parse_dsn


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


def open_store(dsn: str, *, cluster: str = "") -> Store:
    """The store at ``dsn``, schema migrated: ``chdb:///path`` (or a plain directory path) for
    embedded ClickHouse, ``http(s)://user:pass@host:8123/db`` for a ClickHouse server;
    ``cluster`` renders the schema for that ClickHouse cluster (servers only). Raises
    ``StoreError`` (or ``InvalidDsn``) saying what is wrong.

    Example::

        store = open_store("http://spyglass:secret@clickhouse:8123/spyglass")
    """
    from ._clickhouse import ClickHouseStore

    store = ClickHouseStore(dsn, cluster=cluster)
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store


__all__ = ["InvalidDsn", "Store", "StoreError", "embedded_dsn", "open_store", "parse_dsn"]
