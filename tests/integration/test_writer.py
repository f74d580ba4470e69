"""The batch writer groups requests into shared INSERTs and answers each request only once
its rows are in the store."""

from __future__ import annotations

import os
import threading

import pytest

from spyglass.collector.normalize import normalize
from spyglass.collector.store import Store, StoreError, queries
from spyglass.collector.writer import BatchWriter, Overloaded
from tests import payloads as P

pytestmark = pytest.mark.integration


def rows(n: int, project: str) -> object:
    req = P.request(
        *[P.span(os.urandom(16)) for _ in range(n)],
        resource={"service.name": "w", "spyglass.project": project},
    )
    return normalize(req).table


def count(store: Store, project: str) -> int:
    return store.query(queries.COUNT_SPANS, {"project": project}).column(0)[0].as_py()


def test_requests_within_the_delay_share_one_insert(store: Store) -> None:
    project = "writer-" + os.urandom(4).hex()
    with BatchWriter(store, max_rows=10_000, max_delay=0.5) as writer:
        futures = [writer.submit(rows(3, project)) for _ in range(40)]
        for f in futures:
            f.result(timeout=30)
        # Resolved means stored: every row is readable the moment its future is done.
        assert count(store, project) == 120
    assert writer.rows_written == 120
    assert writer.batches_written < 5  # one INSERT per request would be 40


def test_max_rows_splits_batches(store: Store) -> None:
    project = "writer-" + os.urandom(4).hex()
    with BatchWriter(store, max_rows=10, max_delay=0.5) as writer:
        for f in [writer.submit(rows(5, project)) for _ in range(6)]:
            f.result(timeout=30)
    assert writer.batches_written == 3 and count(store, project) == 30


def test_close_writes_what_is_waiting(store: Store) -> None:
    project = "writer-" + os.urandom(4).hex()
    writer = BatchWriter(store, max_rows=10_000, max_delay=60).__enter__()
    future = writer.submit(rows(4, project))
    writer.close()  # does not wait out the 60 s delay
    assert future.done() and count(store, project) == 4
    with pytest.raises(Overloaded, match="shutting down"):
        writer.submit(rows(1, project))


class FailingStore:
    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def insert(self, table: str, batch: object) -> None:
        with self.lock:
            self.calls += 1
        raise StoreError("injected")


def test_store_errors_reach_every_waiting_request() -> None:
    failing = FailingStore()
    with BatchWriter(failing, max_delay=0.2) as writer:  # type: ignore[arg-type]
        futures = [writer.submit(rows(2, "x")) for _ in range(5)]
        for f in futures:
            with pytest.raises(StoreError, match="injected"):
                f.result(timeout=30)
    assert failing.calls >= 1


def test_pending_bound_refuses_instead_of_buffering(store: Store) -> None:
    with BatchWriter(store, max_delay=60, max_pending_rows=5) as writer:
        writer.submit(rows(4, "bound"))
        with pytest.raises(Overloaded, match="4 spans are already waiting"):
            writer.submit(rows(2, "bound"))
