"""Redaction: each built-in detector on real-looking values and on near-misses that must stay,
custom redactors (counted, failing closed), and redaction on span content and feedback text."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest

import spyglass
from spyglass import _feedback, _redact
from spyglass import attributes as A
from spyglass._detectors import luhn_ok
from spyglass.testing import capture_spans
from tests.unit._redact_reference import full_scan

# Built from parts so no scanner mistakes this file for a leak.
OPENAI = "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
OPENAI_LEGACY = "sk-" + "T3BlbkFJ" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
ANTHROPIC = "sk-" + "ant-api03-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe-dCbA_98765"
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"
GITHUB_PAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"
SLACK = "xoxb-" + "1234567890-0987654321-AbCdEfGhIjKlMnOp"
GOOGLE = "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
STRIPE = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq8\nx9Qk3Lz+/w==\n-----END RSA PRIVATE KEY-----"
PEM_OPENSSH_TRUNCATED = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"


@pytest.fixture()
def redactor() -> Iterator[None]:
    """Restore the process's redactor after a test that installs its own."""
    saved = _redact.active
    yield
    _redact.active = saved


def redact(text: str) -> tuple[str, dict[str, int]]:
    return spyglass.Redactor().redact(text)


POSITIVES = [
    # (text, kind, the secret that must disappear)
    (f"use {OPENAI} for prod", "openai_key", OPENAI),
    (f"old key {OPENAI_LEGACY}", "openai_key", OPENAI_LEGACY),
    (f"key={ANTHROPIC}", "anthropic_key", ANTHROPIC),
    (f"aws_access_key_id = {AWS}", "aws_access_key", AWS),
    (f"token {GITHUB}", "github_token", GITHUB),
    (f"token {GITHUB_PAT}", "github_token", GITHUB_PAT),
    (f"slack {SLACK}", "slack_token", SLACK),
    (f"maps key {GOOGLE}.", "google_api_key", GOOGLE),
    (f"stripe {STRIPE}", "stripe_key", STRIPE),
    (f"session {JWT} expired", "jwt", JWT),
    (
        "Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "bearer_token",
        "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    ),
    ("authorization: bearer AbCdEfGhIjKlMnOpQrSt", "bearer_token", "AbCdEfGhIjKlMnOpQrSt"),
    (f"key:\n{PEM}\nend", "private_key", "MIIEpAIBAAKCAQEA7bq8"),
    (f"key: {PEM_OPENSSH_TRUNCATED}", "private_key", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"),
    ("fetch https://admin:hunter2@internal.example.com/x", "url_password", "hunter2"),
    ("ftp://bob:pa%24%24w0rd@files.example.org", "url_password", "pa%24%24w0rd"),
    ("DSN postgresql://app:s3cr3t@db.internal:5432/prod", "database_url", "db.internal:5432/prod"),
    ("postgresql+psycopg://db.internal/app", "database_url", "db.internal/app"),
    ("MONGO_URL=mongodb+srv://u:p@cluster0.mongodb.net/test", "database_url", "cluster0.mongodb.net"),
    ("redis://:secret@cache:6379/0", "database_url", "secret@cache"),
    ("jdbc:mysql://db:3306/shop?user=root&password=x", "database_url", "password=x"),
    ("mail bob.smith+tag@example.co.uk today", "email", "bob.smith+tag@example.co.uk"),
    ("<ALICE_99@Mail.Example.COM>", "email", "ALICE_99@Mail.Example.COM"),
    ("card 4111 1111 1111 1111 please", "card_number", "4111 1111 1111 1111"),
    ("card 4111-1111-1111-1111.", "card_number", "4111-1111-1111-1111"),
    ("visa 4012888888881881", "card_number", "4012888888881881"),
    ("amex 3782 822463 10005", "card_number", "3782 822463 10005"),
    ("mastercard 5555555555554444", "card_number", "5555555555554444"),
    ("mc 2-series 2223003122003222", "card_number", "2223003122003222"),
    ("19-digit 6011000990139424009 ok", "card_number", "6011000990139424009"),
    ("ring +14155552671", "phone", "+14155552671"),
    ("ring +1 (415) 555-2671", "phone", "415) 555-2671"),
    ("uk +44 20 7946 0958", "phone", "7946 0958"),
    ("fr +33 1 23 45 67 89", "phone", "23 45 67 89"),
    ("de +49-30-1234567", "phone", "1234567"),
    ("us (415) 555-2671", "phone", "555-2671"),
    ("us 415-555-2671", "phone", "415-555-2671"),
    ("us 415.555.2671", "phone", "415.555.2671"),
    ("us 1-800-555-0199", "phone", "800-555-0199"),
    ("uk 020 7946 0958", "phone", "7946 0958"),
    ("uk mobile 07700 900123", "phone", "900123"),
    ("fr 01 23 45 67 89", "phone", "23 45 67 89"),
    ("de 030-1234567", "phone", "030-1234567"),
    ("call me on 4155552671", "phone", "4155552671"),
    ("Tel: 07700900123", "phone", "07700900123"),
]


@pytest.mark.parametrize(("text", "kind", "secret"), POSITIVES)
def test_detector_redacts(text: str, kind: str, secret: str) -> None:
    out, counts = redact(text)
    assert secret not in out
    assert f"[REDACTED:{kind}]" in out
    assert counts == {kind: 1}


NEAR_MISSES = [
    "a 16-digit order number 4111111111111112 fails the checksum",
    "order 1234567812345678 and invoice 9999-9999-9999-9995",  # Luhn fails / issuer 9
    "numbers 0000000000000000 and 7992739871300000",
    "the task-force, a desk-top, sk-learn and skeleton keys",
    "sk-this-is-a-long-hyphenated-phrase-in-prose",
    "ISO date 2024-01-15, 15.01.2024, 2024/01/15, 05-12-2024, 2024-01-15T10:30:00Z",
    "version 1.2.3.4 and v10.20.30 and 2.14.159265",
    "IPs 192.168.100.200, 10.0.0.1 and 255.255.255.0",
    "UUID 123e4567-e89b-12d3-a456-426614174000",
    "a Unix time 1700000000 and an order 4155552671 and ID 20240115103000",
    "order number 4155552671",
    "ratio 3.14159265358979 and amount 1,234,567.89 and +5 - 3",
    "at 10:30 on 12/25 and 2024 2025 2026",
    "user@localhost and @handle and a@b",
    "ghp_short and AKIAshort and xoxb-1 and AIzaShort",
    "Bearer instruments and the bearer of bad news; Bearer tokenwithnodigits",
    "https://example.com/path?q=1 and http://host:8080/x",
    "BEGIN PRIVATE KEY without the dashes",
    "eyJhbGciOi alone is not a token",
    "[REDACTED:email] stays as it is",
    "tracking 41111111111111111111 is 20 digits; +1234567 is 7, +1234567890123456 is 16",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_miss_is_not_redacted(text: str) -> None:
    assert redact(text) == (text, {})


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and luhn_ok("79927398713")
    assert not luhn_ok("4111111111111112") and not luhn_ok("79927398710")


def test_several_findings_are_counted_by_kind() -> None:
    text = f"a@example.com b@example.org {OPENAI} 4111111111111111 +14155552671 a@example.com"
    out, counts = redact(text)
    assert counts == {"email": 3, "openai_key": 1, "card_number": 1, "phone": 1}
    assert out.count("[REDACTED:email]") == 3
    assert "example" not in out


def test_long_text_without_findings_comes_back_unchanged() -> None:
    text = ("word " * 20_000) + ("a" * 50_000) + " @ " + ("9" * 5_000)
    assert redact(text) == (text, {})


def test_choose_builtin_detectors() -> None:
    only_email = spyglass.Redactor(detectors=["email"])
    assert only_email.redact("a@example.com +14155552671") == ("[REDACTED:email] +14155552671", {"email": 1})
    assert spyglass.Redactor(detectors=()).redact("a@example.com") == ("a@example.com", {})
    assert "phone" in spyglass.Redactor.BUILTIN and "card_number" in spyglass.Redactor.BUILTIN


def test_unknown_detector_and_bad_custom_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown redaction detectors \\['emails'\\]"):
        spyglass.Redactor(detectors=["emails"])
    with pytest.raises(TypeError, match="not the string"):
        spyglass.Redactor(detectors="email")
    with pytest.raises(TypeError, match="callable"):
        spyglass.Redactor(["not callable"])  # type: ignore[list-item]


def mask_orders(text: str) -> str:
    return re.sub(r"ORD-\d+", "[REDACTED:order_id]", text)


def test_custom_redactor_runs_after_builtins_and_counts_its_placeholders() -> None:
    r = spyglass.Redactor([mask_orders, lambda t: t.replace("Acme", "ACME-CORP")])
    out, counts = r.redact("ORD-1 ORD-22 for a@example.com at Acme")
    assert out == "[REDACTED:order_id] [REDACTED:order_id] for [REDACTED:email] at ACME-CORP"
    assert counts == {"order_id": 2, "email": 1, "custom": 1}
    assert r("ORD-7") == "[REDACTED:order_id]"


def test_custom_redactor_that_raises_fails_closed() -> None:
    def broken(text: str) -> str:
        raise RuntimeError("bug in the application's redactor")

    r = spyglass.Redactor([broken])
    assert r.redact("raw customer text a@example.com") == ("[REDACTED:error]", {"error": 1})
    returns_none = spyglass.Redactor([lambda t: None])  # type: ignore[arg-type, return-value]
    assert returns_none.redact("raw text") == ("[REDACTED:error]", {"error": 1})


def test_scrub_keeps_json_structure() -> None:
    value = {
        "to": "a@example.com",
        "b@example.com": [4111111111111111, 42, 1.5, True, None, ("x", "+14155552671")],
        7: "key",
    }
    out, counts = spyglass.Redactor().scrub(value)
    assert out == {
        "to": "[REDACTED:email]",
        "[REDACTED:email]": ["[REDACTED:card_number]", 42, 1.5, True, None, ["x", "[REDACTED:phone]"]],
        7: "key",
    }
    assert counts == {"email": 2, "card_number": 1, "phone": 1}


def test_span_content_is_redacted_and_counted() -> None:
    with capture_spans(capture_content=True) as spans:
        with spyglass.llm(model="m") as call:
            call.set_input(f"my key is {OPENAI}, mail me at a@example.com")
            call.set_output("I emailed a@example.com and b@example.com")
        with spyglass.tool("refund") as t:
            t.set_arguments({"card": "4111 1111 1111 1111", "amount": 12})
            t.set_result({"ok": True})
    llm, tool = spans.by_kind("llm")[0], spans.by_kind("tool")[0]
    prompt = json.loads(llm.attributes[A.GEN_AI_INPUT_MESSAGES])[0]["parts"][0]["content"]
    assert prompt == "my key is [REDACTED:openai_key], mail me at [REDACTED:email]"
    assert "example.com" not in llm.attributes[A.GEN_AI_OUTPUT_MESSAGES]
    assert llm.attributes[A.REDACTION_PREFIX + "email"] == 3  # over input and output
    assert llm.attributes[A.REDACTION_PREFIX + "openai_key"] == 1
    assert json.loads(tool.attributes[A.GEN_AI_TOOL_CALL_ARGUMENTS]) == {
        "card": "[REDACTED:card_number]",
        "amount": 12,
    }
    assert tool.attributes[A.REDACTION_PREFIX + "card_number"] == 1
    assert not any(k.startswith(A.REDACTION_PREFIX) and k.endswith("email") for k in tool.attributes)


def test_nothing_runs_when_capture_is_off(redactor: None) -> None:
    seen: list[str] = []
    _redact.configure(lambda text: seen.append(text) or text)
    with capture_spans() as spans, spyglass.llm(model="m") as call:
        call.set_input("a@example.com")
    assert seen == []
    assert not any(k.startswith(A.REDACTION_PREFIX) for k in spans.all()[0].attributes)


def test_configured_redactor_applies_to_spans_and_fails_closed(redactor: None) -> None:
    def broken(text: str) -> str:
        raise ValueError("boom")

    _redact.configure(spyglass.Redactor([broken]))
    with capture_spans(capture_content=True) as spans, spyglass.span("s") as s:
        s.set_input("the raw prompt")
        s.set_output({"answer": "raw", "more": "raw"})
    attrs = spans.all()[0].attributes
    assert attrs[A.INPUT] == "[REDACTED:error]"
    # Keys go through the redactor too: both fail closed, so they collapse into one.
    assert json.loads(attrs[A.OUTPUT]) == {"[REDACTED:error]": "[REDACTED:error]"}
    assert attrs[A.REDACTION_PREFIX + "error"] == 5
    assert "raw" not in json.dumps(dict(attrs))


def test_configure_refuses_what_is_not_a_redactor(redactor: None) -> None:
    before = _redact.active
    with pytest.raises(TypeError, match=r"spyglass\.Redactor or a callable"):
        _redact.configure("email")  # type: ignore[arg-type]
    assert _redact.active is before


@pytest.fixture()
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Feedback events as handed to the background sender (nothing goes on the network)."""
    events: list[dict[str, Any]] = []
    monkeypatch.setattr(_feedback.sender, "url", "http://127.0.0.1:9/v1/feedback")
    monkeypatch.setattr(_feedback.sender, "put", lambda event: events.append(event) or True)
    return events


def test_feedback_free_text_is_redacted_and_counted(sent: list[dict[str, Any]]) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    spyglass.feedback(
        trace,
        thumbs="down",
        comment="charged twice on 4111 1111 1111 1111, mail a@example.com",
        override="Refunds go to a@example.com within 60 days",
        resolution="called +44 20 7946 0958",
        escalation_reason="complaint",
        attributes={"ticket": "T-1"},
    )
    (event,) = sent
    assert event["comment"] == "charged twice on [REDACTED:card_number], mail [REDACTED:email]"
    assert event["override"] == "Refunds go to [REDACTED:email] within 60 days"
    assert event["resolution"] == "called [REDACTED:phone]"
    assert event["escalation_reason"] == "complaint"
    assert event["attributes"] == {
        "ticket": "T-1",
        "spyglass.redaction.card_number": "1",
        "spyglass.redaction.email": "2",
        "spyglass.redaction.phone": "1",
    }


def test_feedback_without_findings_is_unchanged(sent: list[dict[str, Any]]) -> None:
    spyglass.feedback("4bf92f3577b34da6a3ce929d0e0e4736", comment="wrong refund window")
    (event,) = sent
    assert event["comment"] == "wrong refund window" and "attributes" not in event


def test_anchored_search_finds_what_a_full_scan_finds() -> None:
    rng = random.Random(5)
    pieces = [
        *("4111 1111 1111 1111", "415-555-2671", "(415) 555-2671", "020 7946 0958", "+44 20 7946 0958"),
        *("a@example.com", "x.y+z@mail.example.org", "2024-01-15", "1.2.3.4", "call ", "order "),
        *(" ", " ", "-", ".", "(", ")", "@", "0", "7", "12", "word", "\n", "4155552671", "07700 900123"),
        *("postgresql+psycopg://u:p@db/x", "jdbc:mysql://h:1/s", "https://a:b@c.io", "://", "redis"),
    ]
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 25)))
        assert redact(text) == full_scan(text), text
