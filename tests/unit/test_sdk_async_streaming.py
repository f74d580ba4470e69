"""Async functions, generators and async generators under the decorator: span lifetime,
values and exceptions passing through, and which spans count as the stream's children."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import StatusCode

import spyglass
from spyglass._state import state
from spyglass.testing import capture_spans

CLOSED_EARLY = "spyglass.stream.closed_early"


class Boom(Exception):
    pass


def test_async_function_decorator() -> None:
    @spyglass.llm(model="m")
    async def call(x: int) -> int:
        await asyncio.sleep(0)
        spyglass.current_span().set_usage(input_tokens=x)
        return x + 1

    with capture_spans() as spans:
        assert asyncio.run(call(4)) == 5
    (s,) = spans.all()
    assert s.name == "chat m"
    assert s.attributes["gen_ai.usage.input_tokens"] == 4


@spyglass.span("stream")
def numbers(n: int):
    for i in range(n):
        with spyglass.span("inside"):
            pass
        received = yield i
        if received is not None:
            yield f"got {received}"
    return "done"


def test_generator_span_ends_on_exhaustion_and_keeps_return_value() -> None:
    results = []

    def outer():
        results.append((yield from numbers(2)))

    with capture_spans() as spans:
        g = outer()
        assert next(g) == 0
        assert spans.by_name("stream") == []
        assert list(g) == [1]
        (s,) = spans.by_name("stream")
    assert results == ["done"]
    assert CLOSED_EARLY not in s.attributes
    assert s.status.status_code is not StatusCode.ERROR


def test_generator_send_reaches_generator() -> None:
    with capture_spans() as spans:
        g = numbers(3)
        assert next(g) == 0
        assert g.send("hello") == "got hello"
        assert next(g) == 1
        assert list(g) == [2]
    assert len(spans.by_name("stream")) == 1


def test_generator_throw_reaches_generator() -> None:
    @spyglass.span("resilient")
    def resilient():
        try:
            yield 1
        except Boom as exc:
            yield f"handled {exc}"

    with capture_spans() as spans:
        g = resilient()
        assert next(g) == 1
        assert g.throw(Boom("x")) == "handled x"
        assert list(g) == []
        (s,) = spans.by_name("resilient")
    assert s.status.status_code is not StatusCode.ERROR


def test_generator_closed_early_by_break() -> None:
    with capture_spans() as spans:
        for item in numbers(5):
            if item == 1:
                break
        (s,) = spans.by_name("stream")
    assert s.attributes[CLOSED_EARLY] is True
    assert s.status.status_code is not StatusCode.ERROR


def test_generator_closed_early_by_close() -> None:
    with capture_spans() as spans:
        g = numbers(5)
        next(g)
        assert spans.by_name("stream") == []
        g.close()
        (s,) = spans.by_name("stream")
    assert s.attributes[CLOSED_EARLY] is True


def test_generator_exception_marks_error_and_propagates() -> None:
    err = Boom("stream broke")

    @spyglass.span("failing")
    def failing():
        yield 1
        raise err

    with capture_spans() as spans, pytest.raises(Boom) as info:
        list(failing())
    assert info.value is err
    (s,) = spans.by_name("failing")
    assert s.status.status_code is StatusCode.ERROR
    assert [e.name for e in s.events] == ["exception"]


def test_generator_consumer_spans_are_not_children() -> None:
    with capture_spans() as spans, spyglass.workflow("wf"):
        for _ in numbers(2):
            with spyglass.span("consumer"):
                pass
    (wf,) = spans.by_name("wf")
    (stream,) = spans.by_name("stream")
    consumers = spans.by_name("consumer")
    insiders = spans.by_name("inside")
    assert len(consumers) == 2 and len(insiders) == 2
    assert stream.parent.span_id == wf.context.span_id
    for c in consumers:
        assert c.parent.span_id == wf.context.span_id
    for i in insiders:
        assert i.parent.span_id == stream.context.span_id


@spyglass.span("astream")
async def anumbers(n: int):
    for i in range(n):
        with spyglass.span("inside"):
            await asyncio.sleep(0)
        received = yield i
        if received is not None:
            yield f"got {received}"


def test_async_generator_lifetime_and_send() -> None:
    async def main(spans) -> None:
        agen = anumbers(3)
        assert await agen.__anext__() == 0
        assert spans.by_name("astream") == []
        assert await agen.asend("hi") == "got hi"
        assert [x async for x in agen] == [1, 2]

    with capture_spans() as spans:
        asyncio.run(main(spans))
        (s,) = spans.by_name("astream")
    assert CLOSED_EARLY not in s.attributes


def test_async_generator_closed_early() -> None:
    async def main(spans) -> None:
        agen = anumbers(5)
        async for item in agen:
            if item == 1:
                break
        assert spans.by_name("astream") == []
        await agen.aclose()

    with capture_spans() as spans:
        asyncio.run(main(spans))
        (s,) = spans.by_name("astream")
    assert s.attributes[CLOSED_EARLY] is True
    assert s.status.status_code is not StatusCode.ERROR


def test_async_generator_exception_marks_error_and_propagates() -> None:
    err = Boom("astream broke")

    @spyglass.span("afailing")
    async def failing():
        yield 1
        raise err

    async def main() -> None:
        async for _ in failing():
            pass

    with capture_spans() as spans, pytest.raises(Boom) as info:
        asyncio.run(main())
    assert info.value is err
    (s,) = spans.by_name("afailing")
    assert s.status.status_code is StatusCode.ERROR


def test_async_generator_consumer_spans_are_not_children() -> None:
    async def main() -> None:
        with spyglass.workflow("wf"):
            async for _ in anumbers(2):
                with spyglass.span("consumer"):
                    await asyncio.sleep(0)

    with capture_spans() as spans:
        asyncio.run(main())
    (wf,) = spans.by_name("wf")
    (stream,) = spans.by_name("astream")
    assert stream.parent.span_id == wf.context.span_id
    consumers, insiders = spans.by_name("consumer"), spans.by_name("inside")
    assert len(consumers) == 2 and len(insiders) == 2
    assert all(c.parent.span_id == wf.context.span_id for c in consumers)
    assert all(i.parent.span_id == stream.context.span_id for i in insiders)


class BrokenTracer:
    def start_span(self, *args, **kwargs):
        raise RuntimeError("tracer is broken")


def test_async_generator_asend_survives_sdk_failure(monkeypatch) -> None:
    monkeypatch.delenv("SPYGLASS_RAISE_INTERNAL_ERRORS")
    monkeypatch.setattr(state, "tracer", BrokenTracer())

    @spyglass.span("echo")
    async def echo():
        received = yield "ready"
        yield f"got {received}"

    async def main() -> str:
        agen = echo()
        assert await agen.__anext__() == "ready"
        result = await agen.asend("hi")
        await agen.aclose()
        return result

    # With a healthy SDK this is "got hi"; a failing SDK must not change the host's behaviour.
    assert asyncio.run(main()) == "got hi"
