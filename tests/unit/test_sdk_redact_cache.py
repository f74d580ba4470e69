"""The redactor's cache and block-by-block scan only skip work: what it returns for a string
is exactly what one scan of that whole string with every pattern returns, the first time and
every time after, and a cached result never goes to a different string."""

from __future__ import annotations

import json
import random

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import spyglass
from spyglass import _redact
from spyglass import attributes as A
from spyglass._processors import BoundedExportProcessor
from spyglass._state import state
from tests.unit._redact_reference import full_scan

PASSAGE = (
    "Refund policy (revision 2024-03-01, v2.4.1): orders placed on or after 15.01.2024 can be "
    "refunded within 30 days of delivery. Items over $1,200.00 need a manager's approval; order "
    "numbers look like 1234567812345678. Our warehouse at 10.0.0.12 processes returns. "
)


def test_multiline_text_finds_what_a_full_scan_finds_first_time_and_cached() -> None:
    # Long texts of many lines go block by block through the cache. The pieces put values
    # right at line starts and ends: a phone word at the end of one line and a bare number
    # at the start of the next, "Bearer" and its token a line apart, a private key over lines.
    rng = random.Random(23)
    pieces = [
        *(
            "jane.doe@example.com",
            "+44 20 7946 0958",
            "4111 1111 1111 1111",
            "(415) 555-2671",
            "020 7946 0958",
        ),
        *("4155552671", "07700900123", "1234567812345678", "2024-01-15", "10.0.0.1", "v2.4.1", "12345"),
        *("call", "tel:", "phone", "mobile ", "text me on", "order", "Bearer", "bearer\n", "BEARER "),
        *(
            "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
            "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
            "AKIAIOSFODNN7EXAMPLE",
        ),
        *(
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2ln",
            "postgres://u:pw@db:5432/x",
            "ghp_" + "a" * 36,
        ),
        *("-----BEGIN PRIVATE KEY-----\nMIIEvQ\nIBADANB\n-----END PRIVATE KEY-----", "-----BEGIN RSA"),
        *(" ", " ", " ", "\n", "\n", "\n", "\n\n", "-", ".", "(", ")", ":", "x" * 30, "word ", "日本", "é"),
        PASSAGE,
        PASSAGE,
    ]
    redactor = spyglass.Redactor()
    cached_blocks = 0
    previous = ""
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(20, 90)))
        expected = full_scan(text)
        # First sight: one scan. Second: each block scanned alone and cached. Third: cached.
        for _ in range(3):
            assert redactor.redact(text) == expected, text
        assert spyglass.Redactor().redact(text) == expected, text
        # Blocks of the text before, now cached, next to blocks never seen.
        mixed = previous + "\n" + text
        assert redactor.redact(mixed) == full_scan(mixed), mixed
        previous = text
        if len(text) >= _redact._BLOCK_MIN and len(_redact._blocks(text)) > 1:
            cached_blocks += sum(redactor._cache.get(b) is not None for b in _redact._blocks(text))
    assert cached_blocks > 400  # the block path was exercised, not only the whole-text scan


def test_a_phone_word_on_the_line_before_a_cached_block_still_counts() -> None:
    # The second block starts with a bare number; alone it is not a phone number, after
    # "call me on" it is. The block seen alone first must not decide for the later text.
    redactor = spyglass.Redactor()
    head = PASSAGE * 2
    number_first = "4155552671 is what I have.\n" + PASSAGE * 2
    assert redactor.redact(number_first)[1] == {}
    out, counts = redactor.redact(head + "call me on\n" + number_first)
    assert counts == {"phone": 1} and "4155552671" not in out


def test_blocks_rebuild_the_text() -> None:
    rng = random.Random(5)
    for _ in range(200):
        text = "".join(rng.choice(["a" * rng.randint(0, 400), "\n", "\n\n", "b"]) for _ in range(30))
        blocks = _redact._blocks(text)
        assert "\n".join(blocks) == text
        assert all(len(b) >= _redact._BLOCK_LINES for b in blocks[:-1])


def test_different_strings_never_share_a_cached_result() -> None:
    redactor = spyglass.Redactor()
    clean = PASSAGE + " write to jane.doe at example dot com"
    dirty = PASSAGE + " write to jane.doe@example.com"
    assert redactor.redact(clean) == (clean, {})
    out, counts = redactor.redact(dirty)
    assert counts == {"email": 1} and "jane.doe@example.com" not in out
    assert redactor.redact(clean) == (clean, {})
    # Equal text built apart (another object) gets the same result; the counts are a copy.
    again = "".join([PASSAGE, " write to jane.doe@", "example.com"])
    out2, counts2 = redactor.redact(again)
    assert (out2, counts2) == (out, counts)
    counts2["email"] = 99
    assert redactor.redact(dirty)[1] == {"email": 1}


def test_the_cache_is_bounded() -> None:
    redactor = spyglass.Redactor()
    for i in range(_redact._CACHE_ENTRIES + 300):
        redactor.redact(f"{PASSAGE} question {i}")
    assert len(redactor._cache) == _redact._CACHE_ENTRIES
    huge = PASSAGE * (_redact._CACHE_MAX // len(PASSAGE) + 1)
    redactor.redact(huge.replace("\n", " "))
    assert redactor._cache.get(huge.replace("\n", " ")) is None  # too long to keep


def test_short_strings_never_evict_long_ones() -> None:
    # Tool arguments and message keys are short and many: they have a cache of their own.
    redactor = spyglass.Redactor()
    redactor.redact(PASSAGE)
    for i in range(_redact._SHORT_ENTRIES + 100):
        expected = (f"id {i} of mail [REDACTED:email]", {"email": 1})
        assert redactor.redact(f"id {i} of mail a{i}@b.co") == expected
    assert len(redactor._short) == _redact._SHORT_ENTRIES
    assert redactor._cache.get(PASSAGE) is not None
    assert redactor.redact("id 7 of mail a7@b.co") == ("id 7 of mail [REDACTED:email]", {"email": 1})


def test_custom_redactors_run_on_every_call_even_for_cached_text() -> None:
    seen: list[str] = []

    def mask_order_ids(text: str) -> str:
        seen.append(text)
        return text.replace("ORD-77", "[REDACTED:order_id]")

    redactor = spyglass.Redactor([mask_order_ids])
    text = PASSAGE + " order ORD-77 for jane.doe@example.com"
    first = redactor.redact(text)
    assert first == redactor.redact(text)
    assert first[1] == {"email": 1, "order_id": 1}
    assert len(seen) == 2 and "jane.doe@example.com" not in seen[1]


class Recorder(SpanProcessor):
    """Another processor on the same provider (a console exporter, another vendor)."""

    def __init__(self) -> None:
        self.ended: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)


def test_every_processor_sees_content_already_redacted_including_repeated_prompts() -> None:
    system = "You are a support assistant.\n\n" + PASSAGE * 3
    provider = TracerProvider()
    recorder = Recorder()  # added before Spyglass's own export: it sees each span first
    provider.add_span_processor(recorder)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(BoundedExportProcessor(exporter, schedule_delay_millis=10))
    saved = (state.tracer, state.capture_content)
    state.tracer, state.capture_content = provider.get_tracer("spyglass"), True
    try:
        for i in range(3):  # the same context each time: the second and third come from the cache
            with spyglass.llm(model="m") as call:
                call.set_input(f"{system}\nCustomer {i}: reach me at jane.doe@example.com\ncall\n4155552671")
                call.set_output("Noted jane.doe@example.com")
        provider.force_flush()
    finally:
        state.tracer, state.capture_content = saved
        provider.shutdown()
    exported = exporter.get_finished_spans()
    assert len(exported) == 3 and len(recorder.ended) == 3
    for span in [*exported, *recorder.ended]:
        attrs = span.attributes or {}
        text = json.dumps(dict(attrs))
        assert "jane.doe@example.com" not in text and "4155552671" not in text
        assert attrs["spyglass.redaction.email"] == 2 and attrs["spyglass.redaction.phone"] == 1
        assert "[REDACTED:email]" in attrs[A.GEN_AI_INPUT_MESSAGES]


def test_a_database_url_reaching_past_an_earlier_urls_window_is_redacted_whole() -> None:
    # Each "://" is searched within a window after it; a later URL starting inside an earlier
    # URL's window and ending past it was cut at the window's end, its tail exported.
    first = "postgres://u:pw@db.internal/shop"
    second = "mysql://root:secret@10.0.0.5/orders?token=" + "Zx9" * 40
    text = first + " " + "word " * 402 + second + " done"
    assert text.index(second) < text.index("://") + 3 + 2049 < text.index(second) + len(second)
    out, counts = spyglass.Redactor().redact(text)
    assert (out, counts) == full_scan(text)
    assert counts == {"database_url": 2} and "Zx9" not in out
