"""The store writer: moves spooled records into the store in shared INSERTs.

Acknowledged data is already durable in the spool (``spool.py``); this thread takes synced
records in order, groups them by table (up to ``max_rows`` rows, waiting at most
``max_delay`` for more), inserts, and only then releases them from the spool. When the store
fails, the same records are retried with backoff and nothing is dropped: the spool fills up
meanwhile, and at its bound ingestion answers 503 + Retry-After.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from types import TracebackType

import pyarrow as pa

from .spool import Record, Spool
from .store import Store, StoreError

log = logging.getLogger("spyglass.collector")

_BACKOFF_START_S = 0.2
_BACKOFF_MAX_S = 5.0
_ISOLATE_AFTER = 3  # consecutive failures of one batch, with the store answering, before isolating


class StoreWriter:
    """The thread that drains ``spool`` into ``store``; a context manager for the app's lifespan.

    ``on_write(table, seconds)`` is told the time of each INSERT. ``fault_file`` is a
    fault-injection point for tests: while a file exists at that path,
    every insert fails as if the store were down.
    """

    def __init__(
        self,
        store: Store,
        spool: Spool,
        *,
        max_rows: int = 20_000,
        max_delay: float = 0.1,
        drain_timeout: float = 10.0,
        fault_file: str = "",
        on_write: Callable[[str, float], None] | None = None,
    ) -> None:
        self._store = store
        self.spool = spool
        self._max_rows = max_rows
        self._max_delay = max_delay
        self._drain_timeout = drain_timeout
        self._fault_file = fault_file
        self._on_write = on_write
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spyglass-writer", daemon=True)
        self.rows_written: dict[str, int] = {}
        self.batches_written = 0
        self.write_failures = 0
        self.consecutive_failures = 0
        self.last_error = ""

    def __enter__(self) -> StoreWriter:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def store_ok(self) -> bool:
        return self.consecutive_failures == 0

    def sink(self, table_name: str) -> _TableSink:
        """What ``Ingest`` submits one table's rows to."""
        return _TableSink(self.spool, table_name)

    def close(self) -> None:
        """Stop accepting, write what is spooled (up to ``drain_timeout`` s), then stop. What the
        store could not take in time stays in the spool for the next start."""
        self.spool.seal()
        deadline = time.monotonic() + self._drain_timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            self._thread.join(0.05)
        self._stop.set()
        self._thread.join()
        self.spool.close()

    def _insert(self, table_name: str, table: pa.Table) -> None:
        if self._fault_file and os.path.exists(self._fault_file):
            raise StoreError(f"fault injection: {self._fault_file} exists, so the store is down")
        self._store.insert(table_name, table)

    def _write(self, batch: list[Record]) -> None:
        by_table: dict[str, list[pa.Table]] = {}
        for record in batch:
            by_table.setdefault(record.table_name, []).append(self.spool.load(record))
        for table_name, tables in by_table.items():
            started = time.perf_counter()
            self._insert(table_name, pa.concat_tables(tables))
            if self._on_write is not None:
                self._on_write(table_name, time.perf_counter() - started)
            self.rows_written[table_name] = self.rows_written.get(table_name, 0) + sum(
                t.num_rows for t in tables
            )

    def _run(self) -> None:
        backoff = _BACKOFF_START_S
        while not self._stop.is_set():
            batch = self.spool.take(self._max_rows, self._max_delay)
            if not batch:
                return
            try:
                self._write(batch)
            except Exception as exc:
                self.write_failures += 1
                self.consecutive_failures += 1
                self.last_error = str(exc)[:500]
                log.error(
                    "writing %d spooled rows failed (attempt %d, retrying in %.1f s): %s",
                    sum(r.rows for r in batch),
                    self.consecutive_failures,
                    backoff,
                    self.last_error,
                )
                if self.consecutive_failures >= _ISOLATE_AFTER and self._store_answers():
                    self._isolate(batch)
                    continue
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
                continue
            backoff = _BACKOFF_START_S
            self.consecutive_failures = 0
            self.batches_written += 1
            self.spool.release(batch)

    def _store_answers(self) -> bool:
        if self._fault_file and os.path.exists(self._fault_file):
            return False
        try:
            self._store.query("SELECT 1")
        except Exception:
            return False
        return True

    def _isolate(self, batch: list[Record]) -> None:
        """The store answers but keeps refusing this batch: write its records one by one and
        quarantine any the store refuses on its own, so one bad record cannot hold back all
        the data behind it (and is kept, not dropped)."""
        for record in batch:
            try:
                self._write([record])
            except Exception as exc:
                path = self.spool.quarantine(record, str(exc)[:2000])
                log.error(
                    "the store refuses %d %s rows while accepting others; kept in %s: %s",
                    record.rows,
                    record.table_name,
                    path,
                    str(exc)[:500],
                )
        self.consecutive_failures = 0
        self.batches_written += 1
        self.spool.release(batch)


class _TableSink:
    """``Ingest``'s view of the spool for one table."""

    def __init__(self, spool: Spool, table_name: str) -> None:
        self._spool = spool
        self._table = table_name

    def submit(self, table: pa.Table) -> Future[None]:
        if table.num_rows == 0:
            done: Future[None] = Future()
            done.set_result(None)
            return done
        return self._spool.append(self._table, table)

    def flush(self, timeout: float) -> bool:
        return self._spool.flush(timeout)
