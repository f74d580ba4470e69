"""Decoding runs on at most ``decode_threads`` threads: requests beyond that wait their turn
instead of competing for the GIL with the rest of the collector."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import Future

import pyarrow as pa
import pytest

from spyglass.collector.ingest import Ingest
from spyglass.collector.settings import Settings
from tests import payloads as P


class _Kept:
    """A sink that resolves at once (the spool is tested elsewhere)."""

    def __init__(self) -> None:
        self.rows = 0

    def submit(self, table: pa.Table) -> Future[None]:
        self.rows += table.num_rows
        done: Future[None] = Future()
        done.set_result(None)
        return done

    def flush(self, timeout: float) -> bool:
        return True


def _most_at_once(decode_threads: int, requests: int = 4) -> tuple[int, int]:
    """(most decodes running at once, rows kept) for ``requests`` concurrent exports."""
    lock, running, most = threading.Lock(), [0], [0]

    def slow(table: pa.Table) -> pa.Table:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.1)
        with lock:
            running[0] -= 1
        return table

    sink = _Kept()
    ingest = Ingest(Settings(decode_threads=decode_threads), sink, _Kept(), transforms=[slow])
    body = P.request(P.span(os.urandom(16))).SerializeToString()

    async def main() -> None:
        await asyncio.gather(
            *[ingest.spans_from_body(body, "application/x-protobuf", None) for _ in range(requests)]
        )

    asyncio.run(main())
    return most[0], sink.rows


@pytest.mark.parametrize("threads", [1, 2])
def test_no_more_decodes_at_once_than_decode_threads(threads: int) -> None:
    most, kept = _most_at_once(threads)
    assert most == threads  # never more, and the limit is reached (so the test can fail)
    assert kept == 4  # every request decoded and kept
