"""The write-ahead spool: everything the collector acknowledges is on local disk, fsync'd,
before the client hears success, and stays there until the store has it.

Layout: ``<root>/<n>/`` is one collector process's spool (the process holds an ``flock`` on
``<n>/LOCK`` for its lifetime, so several workers never share one, and a restarted process
takes over what a crashed one left). Inside, numbered segment files hold records::

    [u32 payload length][u32 crc32 of payload][u8 table code][payload: Arrow IPC stream, lz4]

Appends go to the active segment; one sync thread fsyncs whatever was appended since its
last pass and then resolves all those appends' futures at once (group commit: one fsync per
pass, however many requests). Synced records go to the writer (``take``); once the store has
them the writer ``release``s them, and a segment whose records are all released is deleted.

On open, a process replays its own directory and adopts any other directory no live process
holds. A torn record at a segment's end (a crash mid-append, never acknowledged) is cut off.
A record replayed after it was already written is written again: the tables collapse
duplicates (ReplacingMergeTree on the span / event identity, reads with FINAL).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
import threading
import time
import zlib
from collections import deque
from concurrent.futures import Future, wait
from dataclasses import dataclass, field

import pyarrow as pa

from .store.queries import FEEDBACK_TABLE, SPANS_TABLE

log = logging.getLogger("spyglass.collector")

_HEADER = struct.Struct("<IIB")
_CODES = {SPANS_TABLE: 1, FEEDBACK_TABLE: 2}
_TABLES = {code: name for name, code in _CODES.items()}
_SUFFIX = ".seg"
_IPC = pa.ipc.IpcWriteOptions(compression="lz4")


class SpoolFull(RuntimeError):
    """The spool holds ``max_bytes`` already; nothing more can be acknowledged until the
    store catches up."""


@dataclass
class Record:
    """One acknowledged request's rows, at ``offset`` in segment ``seq``."""

    id: int
    seq: int
    offset: int
    length: int
    table_name: str
    rows: int
    table: pa.Table | None = None  # kept in memory while the budget allows, else read back
    replayed: bool = False
    future: Future[None] = field(default_factory=Future)


def _encode(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=_IPC) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _decode(payload: bytes) -> pa.Table:
    return pa.ipc.open_stream(payload).read_all()


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _try_lock(directory: str) -> int | None:
    os.makedirs(directory, exist_ok=True)
    fd = os.open(os.path.join(directory, "LOCK"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class Spool:
    """A process's write-ahead spool under ``root``; see the module docstring.

    ``max_bytes`` bounds the disk it uses (``append`` raises ``SpoolFull`` beyond it);
    ``memory_bytes`` bounds how much of it is also kept in memory for the writer;
    ``fsync=False`` trades durability for speed (benchmarks only).
    """

    def __init__(
        self,
        root: str,
        *,
        max_bytes: int = 1 << 30,
        segment_bytes: int = 32 << 20,
        memory_bytes: int = 256 << 20,
        fsync: bool = True,
    ) -> None:
        self.max_bytes = max_bytes
        # Disk use stays under max_bytes of unreleased records plus one segment.
        self._segment_bytes = max(1 << 16, min(segment_bytes, max_bytes // 4))
        self._memory_budget = memory_bytes
        self._fsync = fsync
        self._cond = threading.Condition()
        self._unsynced: list[Record] = []
        self._ready: deque[Record] = deque()
        self._outstanding: dict[int, int] = {}  # segment -> records not yet released
        self._sizes: dict[int, int] = {}  # segment -> bytes on disk
        self._live: dict[int, int] = {}  # segment -> bytes of records not yet released
        self._memory = 0
        self._next_id = 1
        self._released_id = 0
        self._closed = False
        self.appended_rows = {name: 0 for name in _CODES}
        self.replayed_rows = {name: 0 for name in _CODES}
        self.quarantined_rows = {name: 0 for name in _CODES}
        self.directory, self._lock_fd = self._claim(root)
        self._recover(root)
        self._active = max(self._sizes, default=0) + 1
        self._fds = {self._active: self._create(self._active)}
        self._syncer = threading.Thread(target=self._sync_loop, name="spyglass-spool-sync", daemon=True)
        self._syncer.start()

    # -- opening -----------------------------------------------------------------------------
    @staticmethod
    def _claim(root: str) -> tuple[str, int]:
        for n in range(1024):
            directory = os.path.join(root, str(n))
            fd = _try_lock(directory)
            if fd is not None:
                return directory, fd
        raise RuntimeError(f"no free spool directory under {root}: 1024 collectors hold one each")

    def _segment(self, seq: int, directory: str | None = None) -> str:
        return os.path.join(directory or self.directory, f"{seq:012d}{_SUFFIX}")

    def _segments(self, directory: str) -> list[int]:
        return sorted(int(n[: -len(_SUFFIX)]) for n in os.listdir(directory) if n.endswith(_SUFFIX))

    def _recover(self, root: str) -> None:
        """Adopt segments of spool directories no live process holds, then index them all."""
        for name in sorted(os.listdir(root)):
            other = os.path.join(root, name)
            if other == self.directory or not os.path.isdir(other):
                continue
            fd = _try_lock(other)
            if fd is None:
                continue  # a live collector owns it
            try:
                for seq in self._segments(other):
                    target = max([0, *self._segments(self.directory)]) + 1
                    os.rename(self._segment(seq, other), self._segment(target))
                    log.warning("spool: adopted %s from %s", self._segment(target), other)
                _fsync_dir(self.directory)
            finally:
                os.close(fd)
        for seq in self._segments(self.directory):
            self._index(seq)

    def _index(self, seq: int) -> None:
        path = self._segment(seq)
        offset, kept = 0, 0
        with open(path, "rb") as fh:
            data = fh.read()
        while offset + _HEADER.size <= len(data):
            length, crc, code = _HEADER.unpack_from(data, offset)
            start = offset + _HEADER.size
            payload = data[start : start + length]
            if len(payload) < length or zlib.crc32(payload) != crc or code not in _TABLES:
                break
            table = _decode(payload)
            record = Record(self._next_id, seq, offset, _HEADER.size + length, _TABLES[code], table.num_rows)
            record.replayed = True
            record.future.set_result(None)
            self._next_id += 1
            self._ready.append(record)
            self._keep_in_memory(record, table)
            offset, kept = start + length, kept + 1
        if offset < len(data):
            log.warning("spool: %s: cut %d bytes of a torn record", path, len(data) - offset)
            with open(path, "r+b") as fh:
                fh.truncate(offset)
                os.fsync(fh.fileno())
        if kept == 0:
            os.remove(path)
            return
        self._outstanding[seq] = kept
        self._sizes[seq] = self._live[seq] = offset
        log.warning("spool: replaying %d records from %s", kept, path)

    def _create(self, seq: int) -> int:
        fd = os.open(self._segment(seq), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if self._fsync:
            _fsync_dir(self.directory)  # the new file's name is durable before any record in it
        self._sizes[seq] = self._live[seq] = 0
        self._outstanding[seq] = 0
        return fd

    def _keep_in_memory(self, record: Record, table: pa.Table) -> None:
        if self._memory + table.nbytes <= self._memory_budget:
            record.table = table
            self._memory += table.nbytes

    # -- the ingest side -----------------------------------------------------------------------
    @property
    def depth_bytes(self) -> int:
        """Bytes of acknowledged records the store does not have yet."""
        with self._cond:
            return sum(self._live.values())

    @property
    def depth_rows(self) -> int:
        with self._cond:
            return sum(r.rows for r in self._ready) + sum(r.rows for r in self._unsynced)

    def append(self, table_name: str, table: pa.Table) -> Future[None]:
        """Spool ``table`` for ``table_name``; the future resolves once it is on disk (fsync'd).
        Raises ``SpoolFull`` at the bound, ``RuntimeError`` once closed."""
        payload = _encode(table)
        header = _HEADER.pack(len(payload), zlib.crc32(payload), _CODES[table_name])
        with self._cond:
            if self._closed:
                raise SpoolFull("the collector is shutting down")
            used = sum(self._live.values())
            if used + len(header) + len(payload) > self.max_bytes:
                raise SpoolFull(
                    f"the spool holds {used >> 20} MiB of {self.max_bytes >> 20} MiB waiting for the store"
                )
            seq = self._active
            record = Record(self._next_id, seq, self._sizes[seq], len(header) + len(payload), table_name, 0)
            record.rows = table.num_rows
            self._next_id += 1
            os.write(self._fds[seq], header + payload)  # O_APPEND: one write per record
            self._sizes[seq] += record.length
            self._live[seq] += record.length
            self._outstanding[seq] += 1
            self._keep_in_memory(record, table)
            self._unsynced.append(record)
            self.appended_rows[table_name] += table.num_rows
            self._cond.notify_all()
        return record.future

    def _sync_loop(self) -> None:
        while True:
            with self._cond:
                while not self._unsynced and not self._closed:
                    self._cond.wait()
                if not self._unsynced and self._closed:
                    return
                batch, self._unsynced = self._unsynced, []
                fds = {r.seq: self._fds[r.seq] for r in batch}
            error: Exception | None = None
            try:
                if self._fsync:
                    for fd in fds.values():
                        os.fdatasync(fd)
            except OSError as exc:  # the disk failed: nothing in this batch is acknowledged
                error = exc
                log.error("spool: fsync failed: %s", exc)
            with self._cond:
                for seq in fds:
                    if seq != self._active and not any(r.seq == seq for r in self._unsynced):
                        os.close(self._fds.pop(seq))
                if self._sizes[self._active] >= self._segment_bytes:
                    old, self._active = self._active, self._active + 1
                    self._fds[self._active] = self._create(self._active)
                    if not any(r.seq == old for r in self._unsynced):
                        os.close(self._fds.pop(old))
                    if self._outstanding[old] == 0:
                        self._remove(old)
                if error is None:
                    self._ready.extend(batch)
                self._cond.notify_all()
            for r in batch:
                if error is None:
                    r.future.set_result(None)
                else:
                    r.future.set_exception(SpoolFull(f"the spool could not be written: {error}"))
                    self.release([r])

    # -- the writer side -----------------------------------------------------------------------
    def take(self, max_rows: int, max_delay: float) -> list[Record]:
        """The next synced records, in order: up to ``max_rows`` rows, waiting at most
        ``max_delay`` after the first one for more. Empty once closed and drained."""
        with self._cond:
            while not self._ready and not self._closed:
                self._cond.wait()
            if not self._ready:
                return []
            deadline = time.monotonic() + max_delay
            while (
                not self._closed
                and sum(r.rows for r in self._ready) < max_rows
                and (remaining := deadline - time.monotonic()) > 0
            ):
                self._cond.wait(remaining)
            batch: list[Record] = []
            rows = 0
            for r in self._ready:
                if batch and rows + r.rows > max_rows:
                    break
                batch.append(r)
                rows += r.rows
            return batch

    def load(self, record: Record) -> pa.Table:
        """The record's rows (from memory, or read back from its segment)."""
        if record.table is not None:
            return record.table
        with open(self._segment(record.seq), "rb") as fh:
            fh.seek(record.offset + _HEADER.size)
            return _decode(fh.read(record.length - _HEADER.size))

    def _remove(self, seq: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._segment(seq))
        del self._outstanding[seq], self._sizes[seq], self._live[seq]

    def quarantine(self, record: Record, reason: str) -> str:
        """Keep a record the store refuses (while it accepts others) beside the spool, with the
        reason, so it neither blocks everything behind it nor is lost; the caller releases it."""
        directory = os.path.join(os.path.dirname(self.directory), "quarantine")
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"{time.time_ns()}-{os.getpid()}-{record.id}.rec")
        with open(self._segment(record.seq), "rb") as fh:
            fh.seek(record.offset)
            data = fh.read(record.length)
        with open(path, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        with open(path[: -len(".rec")] + ".txt", "w") as fh:
            fh.write(f"table: {record.table_name}\nrows: {record.rows}\nrefused: {reason}\n")
        self.quarantined_rows[record.table_name] += record.rows
        return path

    def release(self, records: list[Record]) -> None:
        """The store has ``records``: forget them, and delete segments left with none."""
        with self._cond:
            done = {r.id for r in records}
            while self._ready and self._ready[0].id in done:
                self._ready.popleft()
            for r in records:
                if r.table is not None:
                    self._memory -= r.table.nbytes
                    r.table = None
                if r.replayed:
                    self.replayed_rows[r.table_name] += r.rows
                self._outstanding[r.seq] -= 1
                self._live[r.seq] -= r.length
                self._released_id = max(self._released_id, r.id)
                if self._outstanding[r.seq] == 0 and r.seq != self._active:
                    self._remove(r.seq)
            self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until everything appended before the call is released; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._next_id - 1
            pending = [r.future for r in self._unsynced]
        wait(pending, timeout=timeout)
        with self._cond:
            while self._released_id < target and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return self._released_id >= target

    def seal(self) -> None:
        """Stop accepting appends and let the sync thread finish its last pass; ``take`` then
        returns what is left and an empty list once it is all released."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._syncer.join()

    def close(self) -> None:
        """Seal, then release the directory. What is still spooled stays on disk for the next
        start; an active segment with nothing left in it is removed."""
        self.seal()
        with self._cond:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()
            if self._outstanding.get(self._active) == 0:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self._segment(self._active))
        os.close(self._lock_fd)
