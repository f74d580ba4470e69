"""RFC 3339 / ISO 8601 times from clients -> nanoseconds since the epoch, to the nanosecond."""

from __future__ import annotations

import re
from datetime import datetime

_FRACTION = re.compile(r"\.(\d+)")


def parse_time_ns(text: str) -> int:
    """``2026-11-23T10:00:00.123456789Z`` -> ns since the epoch. Raises ``ValueError`` saying
    what is wrong (not a time, or no time zone); all nine fraction digits are kept
    (Python's own parser keeps six)."""
    value = text.strip()
    fraction = _FRACTION.search(value)
    extra_ns = 0
    if fraction:
        extra_ns = int(fraction.group(1)[:9].ljust(9, "0"))
        value = value[: fraction.start()] + value[fraction.end() :]
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text[:64]!r} is not an RFC 3339 time such as 2026-11-23T10:00:00Z") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{text[:64]!r} has no time zone; add Z or an offset such as +01:00")
    return int(parsed.timestamp()) * 10**9 + extra_ns
