"""Keeps the ``requests`` rollup (one row per trace) in step with ``spans``.

``Rollup.refresh()`` recomputes, from ``spans FINAL``, every trace that received spans since
the previous refresh (less ``margin_s``, for inserts that were in flight when it read). Readers
of ``requests`` (the cohort review, the trace list) call it first, so they see everything
stored before them; the collector also runs it in the background (``Rollup.running()``), so the
refresh a reader pays for is normally a few seconds of traffic. The first refresh of a store
that has spans but no requests backfills every trace, a day of trace starts at a time.

Example::

    rollup = Rollup(store)
    rollup.refresh()
    store.query(cohort_sql.cohort_breakdown(["tenant"]), params)
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

from .store import Store, StoreError
from .store import rollup_sql as sql

log = logging.getLogger("spyglass.collector")


@dataclass
class RefreshStats:
    """What one refresh did."""

    traces: int = 0
    days: int = 0
    seconds: float = 0.0


class Rollup:
    """Refreshes ``requests`` for one store. ``margin_s``: how far before the previous
    refresh's start a trace-index row's arrival still counts as new (an insert that started
    before a refresh read may become visible after it)."""

    def __init__(self, store: Store, margin_s: float = 15.0, interval_s: float = 5.0) -> None:
        self.store = store
        self.margin_ms = int(margin_s * 1000)
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._watermark_ms: int | None = None
        self.last = RefreshStats()
        self._combos_lock = threading.Lock()
        self._combos_ms = 0
        self._combos: pl.DataFrame | None = None

    def _resume_from(self) -> int:
        row = self.store.query(sql.LAST_REFRESH).to_pylist()[0]
        return int(row["ms"]) if row["any"] else 0

    def refresh(self) -> RefreshStats:
        """Recompute the traces that changed since the last refresh; returns what it did."""
        with self._lock:
            t0 = time.perf_counter()
            if self._watermark_ms is None:
                self._watermark_ms = self._resume_from()
            now_ms = int(self.store.query(sql.NOW_MS).to_pylist()[0]["now_ms"])
            since_ms = max(0, self._watermark_ms - self.margin_ms) if self._watermark_ms else 0
            days = self.store.query(sql.DIRTY_DAYS, {"since_ms": since_ms}).to_pylist()
            stats = RefreshStats(days=len(days))
            for d in days:
                params = {
                    "since_ms": since_ms,
                    "now_ms": now_ms,
                    "day": d["day"],
                    "lo_ns": int(d["lo_ns"]),
                    "hi_ns": int(d["hi_ns"]),
                }
                self.store.command(sql.REFRESH_DAY, params)
                stats.traces += int(d["traces"])
            self._watermark_ms = now_ms
            stats.seconds = time.perf_counter() - t0
            self.last = stats
            return stats

    def combos(self, project: str) -> pl.DataFrame:
        """Every (request_model, response_model, provider, combo_hash) of ``project``'s model
        calls in ``requests`` (a superset of any window's: pricing a window with it gives the
        same costs), kept in memory and topped up from the rows refreshed since the last call
        (by any collector), so a review does not scan every call for them."""
        with self._combos_lock:
            now_ms = int(self.store.query(sql.NOW_MS).to_pylist()[0]["now_ms"])
            since = max(0, self._combos_ms - self.margin_ms) if self._combos_ms else 0
            new = pl.from_arrow(self.store.query(sql.COMBOS_SINCE, {"since_ms": since}))
            assert isinstance(new, pl.DataFrame)
            known = new if self._combos is None else pl.concat([self._combos, new])
            self._combos = known.unique(maintain_order=True)
            self._combos_ms = now_ms
            return self._combos.filter(pl.col("project") == project).drop("project")

    @contextlib.contextmanager
    def running(self) -> Iterator[Rollup]:
        """Refresh every ``interval_s`` in a daemon thread while the block runs."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(self.interval_s):
                try:
                    self.refresh()
                except StoreError as exc:  # the store is down: the readers' refresh will say so
                    log.warning("requests rollup refresh failed: %s", exc)

        thread = threading.Thread(target=loop, name="spyglass-rollup", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=30)
