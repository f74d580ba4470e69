"""Content capture: off by default (no prompt or result text on any span), on when asked."""

from __future__ import annotations

import json

import spyglass
from spyglass import attributes as A
from spyglass.testing import capture_spans

SECRETS = (
    "SECRET-PROMPT-1",
    "SECRET-COMPLETION-2",
    "SECRET-ARG-3",
    "SECRET-RESULT-4",
    "SECRET-IN-5",
    "SECRET-OUT-6",
)
CONTENT_KEYS = (
    A.GEN_AI_INPUT_MESSAGES,
    A.GEN_AI_OUTPUT_MESSAGES,
    A.GEN_AI_TOOL_CALL_ARGUMENTS,
    A.GEN_AI_TOOL_CALL_RESULT,
    A.INPUT,
    A.OUTPUT,
)


def record_everything() -> None:
    with spyglass.workflow("wf"):
        with spyglass.llm(model="m") as call:
            call.set_input("SECRET-PROMPT-1")
            call.set_output("SECRET-COMPLETION-2")
        with spyglass.tool("lookup") as t:
            t.set_arguments({"q": "SECRET-ARG-3"})
            t.set_result("SECRET-RESULT-4")
        with spyglass.span("step") as s:
            s.set_input("SECRET-IN-5")
            s.set_output({"answer": "SECRET-OUT-6"})


def all_text(span) -> str:
    parts = [span.name]
    parts += [f"{k}={v!r}" for k, v in (span.attributes or {}).items()]
    for event in span.events:
        parts += [event.name] + [f"{k}={v!r}" for k, v in (event.attributes or {}).items()]
    return "\n".join(parts)


def test_content_capture_off_by_default() -> None:
    with capture_spans() as spans:
        record_everything()
    assert len(spans.all()) == 4
    for span in spans.all():
        text = all_text(span)
        for secret in SECRETS:
            assert secret not in text, (span.name, secret)
        for key in CONTENT_KEYS:
            assert key not in (span.attributes or {}), (span.name, key)


def test_content_capture_off_for_decorated_handles() -> None:
    @spyglass.llm(model="m")
    def call() -> None:
        handle = spyglass.current_span()
        handle.set_input("SECRET-PROMPT-1")
        handle.set_output("SECRET-COMPLETION-2")

    with capture_spans() as spans:
        call()
    (s,) = spans.all()
    assert "SECRET" not in all_text(s)


def test_content_capture_on_llm_messages() -> None:
    with capture_spans(capture_content=True) as spans:
        record_everything()
    (call,) = spans.by_kind("llm")
    inp = json.loads(call.attributes[A.GEN_AI_INPUT_MESSAGES])
    out = json.loads(call.attributes[A.GEN_AI_OUTPUT_MESSAGES])
    assert inp == [{"role": "user", "parts": [{"type": "text", "content": "SECRET-PROMPT-1"}]}]
    assert out == [{"role": "assistant", "parts": [{"type": "text", "content": "SECRET-COMPLETION-2"}]}]
    assert A.INPUT not in call.attributes and A.OUTPUT not in call.attributes


def test_content_capture_on_structured_messages_kept_as_given() -> None:
    messages = [
        {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
        {"role": "user", "parts": [{"type": "text", "content": "héllo"}]},
    ]
    with capture_spans(capture_content=True) as spans, spyglass.llm(model="m") as call:
        call.set_input(messages)
    (s,) = spans.all()
    assert json.loads(s.attributes[A.GEN_AI_INPUT_MESSAGES]) == messages
    assert "héllo" in s.attributes[A.GEN_AI_INPUT_MESSAGES]  # not ASCII-escaped


def test_content_capture_on_tool_and_generic() -> None:
    with capture_spans(capture_content=True) as spans:
        record_everything()
    (tool,) = spans.by_kind("tool")
    assert json.loads(tool.attributes[A.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"q": "SECRET-ARG-3"}
    assert tool.attributes[A.GEN_AI_TOOL_CALL_RESULT] == "SECRET-RESULT-4"
    assert A.INPUT not in tool.attributes
    (step,) = spans.by_name("step")
    assert step.attributes[A.INPUT] == "SECRET-IN-5"
    assert json.loads(step.attributes[A.OUTPUT]) == {"answer": "SECRET-OUT-6"}
    (wf,) = spans.by_kind("workflow")
    assert not any(key in wf.attributes for key in CONTENT_KEYS)


def test_capture_setting_restored_after_block() -> None:
    with capture_spans(capture_content=True):
        pass
    with capture_spans() as spans, spyglass.span("s") as s:
        s.set_input("SECRET-IN-5")
    assert A.INPUT not in spans.all()[0].attributes


def test_message_json_is_what_json_dumps_writes() -> None:
    # A plain string's message list is written without building the list (the SDK's hot path).
    from spyglass._spans import _messages, _text

    odd = ["plain", 'quote " and \\ backslash', "tab\t nl\n cr\r nul\x00 bell\x07", "héllo 日本 ✓ 🙂"]
    odd += ["\ud800", ""]
    for text in odd:
        for role in ("user", "assistant"):
            expected = [{"role": role, "parts": [{"type": "text", "content": text}]}]
            assert _messages(text, role) == json.dumps(expected, default=str, ensure_ascii=False)
    value = {"q": "héllo", "n": [1, 2.5, None, True], "when": object}
    assert _text(value) == json.dumps(value, default=str, ensure_ascii=False)
    assert _messages([{"role": "system", "content": "x"}], "user") == '[{"role": "system", "content": "x"}]'
