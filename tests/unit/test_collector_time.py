"""Client times -> nanoseconds, to the nanosecond, with errors that say what is wrong."""

from __future__ import annotations

import pytest

from spyglass.collector._time import parse_time_ns

BASE = 1_795_428_000 * 10**9  # 2026-11-23T10:00:00Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T10:00:00Z", BASE),
        ("2026-11-23T10:00:00.5Z", BASE + 500_000_000),
        ("2026-11-23T10:00:00.123456789Z", BASE + 123_456_789),
        ("2026-11-23T10:00:00.1234567891234Z", BASE + 123_456_789),
        ("2026-11-23T11:00:00.000000001+01:00", BASE + 1),
        ("2026-11-23 10:00:00z", BASE),
    ],
)
def test_parses_to_the_nanosecond(text: str, expected: int) -> None:
    assert parse_time_ns(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "is not an RFC 3339 time"),
        ("2026-11-23T10:00:00", "has no time zone"),
        ("2026-13-01T00:00:00Z", "is not an RFC 3339 time"),
        ("", "is not an RFC 3339 time"),
    ],
)
def test_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_time_ns(text)
