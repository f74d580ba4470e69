"""Errors: the user's exceptions pass through unchanged and mark the span; SDK failures never
reach the host when the raise flag is off."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import StatusCode

import spyglass
from spyglass._state import state
from spyglass.testing import capture_spans


class Boom(Exception):
    pass


def assert_error_span(span, message: str) -> None:
    assert span.status.status_code is StatusCode.ERROR
    assert message in (span.status.description or "")
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.type"] == f"{Boom.__module__}.Boom"
    # error.type is the fully qualified class name, the same as OpenTelemetry's exception.type
    assert span.attributes["error.type"] == event.attributes["exception.type"]
    assert event.attributes["exception.message"] == message


def test_decorated_sync_reraises_same_object() -> None:
    err = Boom("sync failure")

    @spyglass.tool("t")
    def fail() -> None:
        raise err

    with capture_spans() as spans, pytest.raises(Boom) as info:
        fail()
    assert info.value is err
    assert_error_span(spans.all()[0], "sync failure")


def test_decorated_async_reraises_same_object() -> None:
    err = Boom("async failure")

    @spyglass.llm(model="m")
    async def fail() -> None:
        await asyncio.sleep(0)
        raise err

    with capture_spans() as spans, pytest.raises(Boom) as info:
        asyncio.run(fail())
    assert info.value is err
    assert_error_span(spans.all()[0], "async failure")


def test_context_manager_reraises_same_object() -> None:
    err = Boom("cm failure")
    with capture_spans() as spans, pytest.raises(Boom) as info, spyglass.retrieval(corpus="kb"):
        raise err
    assert info.value is err
    assert_error_span(spans.all()[0], "cm failure")


def test_async_context_manager_reraises_same_object() -> None:
    err = Boom("acm failure")

    async def main() -> None:
        async with spyglass.workflow("wf"):
            await asyncio.sleep(0)
            raise err

    with capture_spans() as spans, pytest.raises(Boom) as info:
        asyncio.run(main())
    assert info.value is err
    assert_error_span(spans.all()[0], "acm failure")


def test_error_in_child_leaves_parent_ok_when_caught() -> None:
    with capture_spans() as spans, spyglass.workflow("wf"):
        try:
            with spyglass.llm(model="m"):
                raise Boom("caught")
        except Boom:
            pass
    (llm,) = spans.by_kind("llm")
    (wf,) = spans.by_kind("workflow")
    assert llm.status.status_code is StatusCode.ERROR
    assert wf.status.status_code is not StatusCode.ERROR
    assert "error.type" not in wf.attributes


def test_builtin_exception_type_is_unqualified() -> None:
    with capture_spans() as spans, pytest.raises(KeyError), spyglass.span("s"):
        raise KeyError("k")
    assert spans.all()[0].attributes["error.type"] == "KeyError"


def test_successful_span_has_no_error() -> None:
    with capture_spans() as spans, spyglass.span("ok"):
        pass
    (s,) = spans.all()
    assert s.status.status_code is not StatusCode.ERROR
    assert "error.type" not in s.attributes
    assert not [e for e in s.events if e.name == "exception"]


class BrokenTracer:
    def start_span(self, *args, **kwargs):
        raise RuntimeError("tracer is broken")


@pytest.fixture
def broken_tracer(monkeypatch):
    monkeypatch.delenv("SPYGLASS_RAISE_INTERNAL_ERRORS")
    monkeypatch.setattr(state, "tracer", BrokenTracer())


def test_span_start_failure_never_reaches_decorated_function(broken_tracer) -> None:
    before = spyglass.sdk_stats()["internal_errors"]

    @spyglass.workflow
    def work(x: int) -> int:
        return x + 1

    @spyglass.llm(model="m")
    async def awork(x: int) -> int:
        return x * 3

    @spyglass.span
    def gen(n: int):
        sent = yield n
        return sent

    assert work(1) == 2
    assert asyncio.run(awork(2)) == 6
    g = gen(5)
    assert next(g) == 5
    with pytest.raises(StopIteration) as stop:
        g.send("back")
    assert stop.value.value == "back"
    assert spyglass.sdk_stats()["internal_errors"] >= before + 3


def test_span_start_failure_never_reaches_with_block(broken_tracer) -> None:
    before = spyglass.sdk_stats()["internal_errors"]
    ran = []
    with spyglass.llm(model="m") as call:
        call.set_usage(input_tokens=1, output_tokens=2)
        call.set_input("hello")
        ran.append(True)
    with spyglass.retrieval(corpus="kb") as r:
        r.set_documents(["a"], [1.0])
        ran.append(True)
    assert ran == [True, True]
    assert spyglass.sdk_stats()["internal_errors"] >= before + 2


def test_span_start_failure_raises_with_flag_on(monkeypatch) -> None:
    monkeypatch.setattr(state, "tracer", BrokenTracer())
    with pytest.raises(RuntimeError, match="tracer is broken"), spyglass.span("s"):
        pass


def test_user_exception_still_propagates_when_sdk_broken(broken_tracer) -> None:
    err = Boom("user")

    @spyglass.tool("t")
    def fail() -> None:
        raise err

    with pytest.raises(Boom) as info:
        fail()
    assert info.value is err
    with pytest.raises(Boom) as info2, spyglass.span("s"):
        raise err
    assert info2.value is err
