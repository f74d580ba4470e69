"""The redaction prefilters (triggers, one-character gates, digit runs) only skip work: a
detector is skipped only on text it could not have matched, so redaction finds exactly what
a scan of every position with every pattern finds."""

from __future__ import annotations

import random
from collections import Counter

import pytest

import spyglass
from spyglass import _redact
from spyglass._detectors import DETECTORS, digit_runs, luhn_ok
from tests.unit._redact_reference import full_scan

BY_KIND = {kind: det for det in DETECTORS for kind in det.kinds}

# One real-looking value per prefiltered kind, spelled the way the pattern allows at its edge
# (mixed case for the caseless bearer detector).
EXAMPLES = [
    ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"),
    ("database_url", "MySQL://root:pw@db.internal:3306/shop"),
    ("anthropic_key", "sk-" + "ant-api03-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji"),
    ("openai_key", "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv"),
    ("stripe_key", "rk_" + "test_" + "4eC39HqLyjWDarjtT1zdp7dc"),
    ("aws_access_key", "ASIA" + "IOSFODNN7EXAMPLE"),
    ("github_token", "ghs_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"),
    ("google_api_key", "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"),
    ("bearer_token", "BeArEr 9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
]


@pytest.mark.parametrize(("kind", "value"), EXAMPLES)
def test_a_detector_is_never_skipped_on_text_it_matches(kind: str, value: str) -> None:
    det = BY_KIND[kind]
    assert det.pattern.search(value), "the example must match the pattern itself"
    haystack = value.lower() if det.caseless else value
    assert not det.gate or det.gate in value
    assert not det.triggers or any(t in haystack for t in det.triggers)
    out, counts = spyglass.Redactor().redact(f"see {value} now")
    assert counts == {kind: 1} and f"[REDACTED:{kind}]" in out


def test_digit_runs_keep_positions_and_need_enough_digits() -> None:
    # Non-Latin-1 text before the number must not shift the run's position.
    text = "日本語 ✓ order 2024-01-15 then call (415) 555-2671 or 12345678 and 4111 1111 1111 1111"
    runs = digit_runs(text, 9)
    found = [text[start:end].strip() for start, end in runs]
    assert found == ["415) 555-2671", "4111 1111 1111 1111"]  # from the first digit: "(" is before
    assert digit_runs("2024-01-15 and 12345678", 9) == []  # 8 digits each: never a phone or card
    out, counts = spyglass.Redactor().redact(text)
    assert counts == {"phone": 1, "card_number": 1}
    assert "555-2671" not in out and "4111" not in out and "2024-01-15" in out and "12345678" in out


def test_prefiltered_redaction_finds_what_a_full_scan_finds() -> None:
    rng = random.Random(9)
    pieces = [
        *(value for _, value in EXAMPLES),
        *("4111 1111 1111 1111", "4111-1111-1111-1111", "(415) 555-2671", "1-800-555-0199", "020 7946 0958"),
        *("01 23 45 67 89", "+44 20 7946 0958", "4155552671", "07700900123", "2024-01-15", "10.0.0.1"),
        *("a@example.com", "Bob.Smith@Mail.Example.ORG", "tel ", "call ", "order ", "bearer ", "BEARER "),
        *(" ", " ", "-", ".", "(", ")", "@", "+", ":", "_", "0", "7", "12", "987", "word", "\n", "日本", "é"),
        *("sk-", "eyJ", "://", "https://u:p@h.io", "AKIA", "ghp_", "xoxb-", "AIza", "_live_"),
    ]
    redactor = spyglass.Redactor()
    for _ in range(600):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        assert redactor.redact(text) == full_scan(text), text


def test_text_of_letters_and_digits_alone_finds_what_a_full_scan_finds() -> None:
    # Such text (a key, a role, an ID) only goes through the detectors marked ``alnum``.
    rng = random.Random(11)
    pieces = [
        *("AKIA" + "IOSFODNN7EXAMPLE", "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "4111111111111111"),
        *("4155552671", "07700900123", "eyJhbGciOi", "Bearer", "sk", "ghp", "xoxb", "tel", "call"),
        *("a", "Z", "0", "7", "12", "987", "word", "日本", "é", "ASIA", "AKIA", "AIza"),
    ]
    redactor = spyglass.Redactor()
    for _ in range(600):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        assert text.isalnum()
        assert redactor.redact(text) == full_scan(text), text
    assert redactor.redact("AKIA" + "IOSFODNN7EXAMPLE") == (
        "[REDACTED:aws_access_key]",
        {"aws_access_key": 1},
    )


def test_email_tried_once_per_at_sign_finds_what_a_full_scan_finds() -> None:
    # The email detector tries its pattern only where the local part before each "@" starts.
    rng = random.Random(13)
    pieces = [
        *("a", "Bob", "x.y", "_", "%", "+", "-", ".", "@", "@", "@", " ", "é", "日", "9", "com", ".org"),
        *("a@b.co", "me@mail.example.com", "user@localhost", "k" * 70, "q" * 63, ".com.x", "@@"),
    ]
    redactor = spyglass.Redactor(detectors=["email"])
    for _ in range(800):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 20)))
        assert redactor.redact(text) == full_scan_of(["email"], text), text


def full_scan_of(kinds: list[str], text: str) -> tuple[str, dict[str, int]]:
    counts: Counter[str] = Counter()
    for det in DETECTORS:
        if set(det.kinds) & set(kinds):
            text = det.pattern.sub(_redact._replacer(det, frozenset(kinds), counts), text)
    return text, dict(counts)


def luhn_complete(body: str) -> str:
    """``body`` plus the check digit that makes it pass the Luhn checksum."""
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


def test_runs_of_digits_alone_are_searched_only_when_a_match_could_be_accepted() -> None:
    # Order numbers and IDs (a 16-digit number failing the checksum, 12 or 20 digits) are
    # skipped without a search; what is skipped must be exactly what a full scan leaves.
    assert digit_runs("order 1234567812345678 and 412345678901 ok", 9, BY_KIND["card_number"].bare_run) == []
    rng = random.Random(17)
    redactor = spyglass.Redactor()
    for _ in range(1500):
        n = rng.randint(8, 21)
        body = "".join(rng.choice("0123456789") for _ in range(n))
        if rng.random() < 0.4:
            body = rng.choice("23456") + body[1:]
            body = luhn_complete(body[:-1])
        before = rng.choice(["", "call ", "tel: ", "order ", "(", "x", "phone number "])
        after = rng.choice(["", " ", ".", "-", ". ", ":5", ")", "a", "-x"])
        text = before + body + after
        assert redactor.redact(text) == full_scan(text), text
