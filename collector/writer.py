"""The batch writer: every accepted request's rows go into the store in shared INSERTs.

Requests are grouped by size (``max_rows``) and by time (``max_delay``): the first waiting
request is written at most ``max_delay`` seconds after it arrived, together with everything
that arrived meanwhile. ``submit`` returns a future that resolves once the rows are in the
store (or fails with the store's error), so the collector answers success only for stored
data. When too many rows wait (``max_pending_rows``), ``submit`` refuses at once
(``Overloaded``) and the client is told to retry later: nothing is accepted that cannot be kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future, wait
from dataclasses import dataclass
from types import TracebackType

import pyarrow as pa

from .store import Store
from .store.queries import SPANS_TABLE

log = logging.getLogger("spyglass.collector")


class Overloaded(RuntimeError):
    """Too many rows already wait for the store; retry later."""


@dataclass
class _Pending:
    table: pa.Table
    future: Future[None]
    arrived: float


class BatchWriter:
    def __init__(
        self,
        store: Store,
        *,
        table: str = SPANS_TABLE,
        max_rows: int = 20_000,
        max_delay: float = 0.1,
        max_pending_rows: int = 1_000_000,
    ) -> None:
        self._store = store
        self._table = table
        self._max_rows = max_rows
        self._max_delay = max_delay
        self._max_pending = max_pending_rows
        self._queue: deque[_Pending] = deque()
        self._pending_rows = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="spyglass-writer", daemon=True)
        self.batches_written = 0
        self.rows_written = 0

    def __enter__(self) -> BatchWriter:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Write everything still waiting, then stop."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    def flush(self, timeout: float) -> bool:
        """Wait until everything submitted so far is written (or failed); False on timeout."""
        with self._cond:
            futures = [p.future for p in self._queue]
        _, not_done = wait(futures, timeout=timeout)
        return not not_done

    def submit(self, table: pa.Table) -> Future[None]:
        future: Future[None] = Future()
        if table.num_rows == 0:
            future.set_result(None)
            return future
        with self._cond:
            if self._stopping:
                raise Overloaded("the collector is shutting down")
            if self._pending_rows + table.num_rows > self._max_pending:
                raise Overloaded(f"{self._pending_rows} spans are already waiting for the store")
            self._queue.append(_Pending(table, future, time.monotonic()))
            self._pending_rows += table.num_rows
            self._cond.notify_all()
        return future

    def _take_batch(self) -> list[_Pending]:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            if not self._queue:
                return []
            deadline = self._queue[0].arrived + self._max_delay
            while (
                not self._stopping
                and self._pending_rows < self._max_rows
                and (remaining := deadline - time.monotonic()) > 0
            ):
                self._cond.wait(remaining)
            batch: list[_Pending] = []
            rows = 0
            while self._queue and (not batch or rows + self._queue[0].table.num_rows <= self._max_rows):
                item = self._queue.popleft()
                batch.append(item)
                rows += item.table.num_rows
            self._pending_rows -= rows
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if not batch:
                return
            try:
                table = pa.concat_tables([p.table for p in batch])
                self._store.insert(self._table, table)
            except Exception as exc:
                log.error(
                    "writing %d rows to %s failed: %s", sum(p.table.num_rows for p in batch), self._table, exc
                )
                for p in batch:
                    p.future.set_exception(exc)
                continue
            self.batches_written += 1
            self.rows_written += table.num_rows
            for p in batch:
                p.future.set_result(None)
