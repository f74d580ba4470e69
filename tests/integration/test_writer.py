"""The spool and the store writer: acknowledged means on disk; the writer groups spooled
requests into shared INSERTs, retries a failing store without dropping anything, and a
spool left behind by a crash is replayed on the next start."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from spyglass.collector.normalize import normalize
from spyglass.collector.spool import Spool, SpoolFull
from spyglass.collector.store import Store, StoreError, queries
from spyglass.collector.writer import StoreWriter
from tests import payloads as P

pytestmark = pytest.mark.integration

SPANS = queries.SPANS_TABLE


def rows(n: int, project: str) -> pa.Table:
    req = P.request(
        *[P.span(os.urandom(16)) for _ in range(n)],
        resource={"service.name": "w", "spyglass.project": project},
    )
    return normalize(req).table


def count(store: Store, project: str) -> int:
    return store.query(queries.COUNT_SPANS, {"project": project}).column(0)[0].as_py()


def segments(spool_root: Path) -> list[Path]:
    return sorted(spool_root.rglob("*.seg"))


def test_requests_within_the_delay_share_one_insert(store: Store, tmp_path: Path) -> None:
    project = "writer-" + os.urandom(4).hex()
    with StoreWriter(store, Spool(str(tmp_path)), max_rows=10_000, max_delay=0.5) as writer:
        sink = writer.sink(SPANS)
        futures = [sink.submit(rows(3, project)) for _ in range(40)]
        for f in futures:
            f.result(timeout=30)  # durable in the spool
        assert sink.flush(30)
        assert count(store, project) == 120
    assert writer.rows_written[SPANS] == 120
    assert writer.batches_written < 5  # one INSERT per request would be 40


def test_max_rows_splits_batches(store: Store, tmp_path: Path) -> None:
    project = "writer-" + os.urandom(4).hex()
    with StoreWriter(store, Spool(str(tmp_path)), max_rows=10, max_delay=0.5) as writer:
        sink = writer.sink(SPANS)
        for f in [sink.submit(rows(5, project)) for _ in range(6)]:
            f.result(timeout=30)
        assert sink.flush(30)
    assert writer.batches_written == 3 and count(store, project) == 30


def test_close_writes_what_is_waiting_and_refuses_more(store: Store, tmp_path: Path) -> None:
    project = "writer-" + os.urandom(4).hex()
    writer = StoreWriter(store, Spool(str(tmp_path)), max_rows=10_000, max_delay=60).__enter__()
    sink = writer.sink(SPANS)
    sink.submit(rows(4, project)).result(timeout=30)
    writer.close()  # does not wait out the 60 s delay
    assert count(store, project) == 4
    assert segments(tmp_path) == []  # released: nothing left to replay
    with pytest.raises(SpoolFull, match="shutting down"):
        sink.submit(rows(1, project))


def test_failing_store_keeps_everything_and_catches_up(store: Store, tmp_path: Path) -> None:
    project = "writer-" + os.urandom(4).hex()
    down = tmp_path / "store-down"
    down.touch()
    spool = Spool(str(tmp_path / "spool"))
    with StoreWriter(store, spool, max_delay=0.01, fault_file=str(down)) as writer:
        sink = writer.sink(SPANS)
        for f in [sink.submit(rows(2, project)) for _ in range(5)]:
            f.result(timeout=30)  # acknowledged although the store is down
        assert not sink.flush(1.0)
        assert writer.write_failures >= 1 and not writer.store_ok
        assert spool.depth_rows == 10 and count(store, project) == 0
        down.unlink()
        assert sink.flush(30)
        assert writer.store_ok and count(store, project) == 10


def test_bound_refuses_instead_of_buffering(tmp_path: Path) -> None:
    one = len(rows(50, "bound").to_string())  # rough size; the bound is on encoded bytes
    spool = Spool(str(tmp_path), max_bytes=max(one, 20_000))
    accepted = 0
    with pytest.raises(SpoolFull, match="waiting for the store"):
        for _ in range(1000):
            spool.append(SPANS, rows(50, "bound")).result(timeout=30)
            accepted += 1
    assert accepted >= 1 and spool.depth_bytes <= spool.max_bytes
    spool.close()


def test_a_crashed_spool_is_replayed_and_a_torn_tail_cut(store: Store, tmp_path: Path) -> None:
    project = "writer-" + os.urandom(4).hex()
    spool = Spool(str(tmp_path))
    for _ in range(3):
        spool.append(SPANS, rows(4, project)).result(timeout=30)
    (segment,) = segments(tmp_path)
    with open(segment, "ab") as fh:
        fh.write(b"\x40\x00\x00\x00torn")  # a crash in the middle of the next append
    os.close(spool._lock_fd)  # the process "dies": its lock goes, its files stay
    size_before = segment.stat().st_size

    replay = Spool(str(tmp_path))
    assert replay.depth_rows == 12
    assert segment.stat().st_size == size_before - 8  # the torn record was cut off
    with StoreWriter(store, replay, max_delay=0.01) as writer:
        assert writer.sink(SPANS).flush(30)
    assert count(store, project) == 12
    assert replay.replayed_rows[SPANS] == 12
    assert segments(tmp_path) == []


def test_a_dead_process_spool_is_adopted_by_the_next(store: Store, tmp_path: Path) -> None:
    project = "writer-" + os.urandom(4).hex()
    live = Spool(str(tmp_path))  # claims tmp/0
    dead = Spool(str(tmp_path))  # claims tmp/1
    dead.append(SPANS, rows(3, project)).result(timeout=30)
    os.close(dead._lock_fd)
    live.close()
    survivor = Spool(str(tmp_path))  # claims tmp/0 and adopts tmp/1's segment
    assert survivor.directory.endswith("0") and survivor.depth_rows == 3
    with StoreWriter(store, survivor, max_delay=0.01) as writer:
        assert writer.sink(SPANS).flush(30)
    assert count(store, project) == 3


class RefusesOneProject:
    """The real store, refusing inserts that hold rows of one project (a fault injection point:
    data the store will not take while it takes everything else)."""

    def __init__(self, inner: Store, poison: str) -> None:
        self.inner, self.poison = inner, poison

    def insert(self, table: str, batch: pa.Table) -> None:
        if self.poison in batch.column("project").to_pylist():
            raise StoreError(f"cannot parse rows of {self.poison} (injected)")
        self.inner.insert(table, batch)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_a_record_the_store_refuses_is_quarantined_not_blocking(store: Store, tmp_path: Path) -> None:
    good, poison = "writer-" + os.urandom(4).hex(), "poison-" + os.urandom(4).hex()
    spool = Spool(str(tmp_path / "spool"))
    refusing = RefusesOneProject(store, poison)
    with StoreWriter(refusing, spool, max_delay=0.2) as writer:  # type: ignore[arg-type]
        sink = writer.sink(SPANS)
        futures = [sink.submit(rows(2, good)), sink.submit(rows(3, poison)), sink.submit(rows(4, good))]
        for f in futures:
            f.result(timeout=30)
        assert sink.flush(60)  # the refused record does not hold back the one behind it
    assert count(store, good) == 6 and count(store, poison) == 0
    assert spool.quarantined_rows[SPANS] == 3
    (kept,) = (tmp_path / "spool" / "quarantine").glob("*.rec")
    assert "injected" in kept.with_suffix(".txt").read_text()
    assert segments(tmp_path / "spool") == []


def test_segments_rotate_and_drained_ones_are_deleted(store: Store, tmp_path: Path) -> None:
    project = "writer-" + os.urandom(4).hex()
    spool = Spool(str(tmp_path), segment_bytes=1, max_bytes=1 << 30)  # floor: 64 KiB segments
    with StoreWriter(store, spool, max_delay=0.01) as writer:
        sink = writer.sink(SPANS)
        for f in [sink.submit(rows(200, project)) for _ in range(8)]:
            f.result(timeout=30)
        assert sink.flush(30)
        assert spool._active > 2  # it rotated...
        assert len(segments(tmp_path)) <= 1  # ...and only the active segment is left
    assert count(store, project) == 1600
