"""The one guard around SDK work: an SDK bug must never reach the host application.

Every piece of Spyglass code that runs on the application's thread (building attributes,
starting and ending spans, the span processor) runs inside ``internal_errors()``. A failure
is logged (at most once a minute per call site) and counted, then swallowed. Under
Spyglass's own test suite (``SPYGLASS_RAISE_INTERNAL_ERRORS=1``) it is re-raised instead,
so tests see SDK bugs.

The user's own code never runs inside the guard: exceptions from it are recorded on the
span and re-raised unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator

logger = logging.getLogger("spyglass")

_LOG_INTERVAL_S = 60.0
_lock = threading.Lock()
_last_logged: dict[str, float] = {}


class _Counters:
    """Process-wide SDK counters, read through ``spyglass.sdk_stats()``. Application threads
    and the export thread both count, so every change goes through ``add`` under a lock."""

    NAMES = (
        "export_failures",
        "feedback_dropped",
        "feedback_exported",
        "feedback_invalid",
        "feedback_rejected",
        "internal_errors",
        "spans_dropped",
        "spans_exported",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(self.NAMES, 0)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._values[name] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)


counters = _Counters()


def raise_internal_errors() -> bool:
    return os.environ.get("SPYGLASS_RAISE_INTERNAL_ERRORS", "") in ("1", "true")


def log_rate_limited(key: str, message: str, *args: object, exc_info: bool = False) -> None:
    """Log ``message`` at most once per minute for ``key``."""
    now = time.monotonic()
    with _lock:
        last = _last_logged.get(key)
        if last is not None and now - last < _LOG_INTERVAL_S:
            return
        _last_logged[key] = now
    logger.warning(message, *args, exc_info=exc_info)


def report_internal_error(site: str) -> None:
    """Count and log the exception being handled; re-raise it under the test suite.

    Call only inside an ``except`` block. Hot paths use ``try/except`` with this directly
    (cheaper than entering a context manager on every call)."""
    counters.add("internal_errors")
    if raise_internal_errors():
        raise  # the exception being handled
    log_rate_limited(
        site, "spyglass: internal error in %s (the application is unaffected)", site, exc_info=True
    )


@contextlib.contextmanager
def internal_errors(site: str) -> Iterator[None]:
    """Swallow (log, count) any exception raised by SDK code inside the block."""
    try:
        yield
    except Exception:
        report_internal_error(site)
