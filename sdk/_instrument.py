"""Span kinds as objects that work both as decorators and as context managers."""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from ._guard import internal_errors, report_internal_error
from ._spans import SpanHandle
from ._state import state

H = TypeVar("H", bound=SpanHandle)
F = TypeVar("F", bound=Callable[..., Any])

# Spans opened by ``with factory:`` blocks, per context: one factory object may be entered by
# many threads and tasks at once (a module-level ``spyglass.span("step")``), so its open spans
# cannot live on the factory itself.
_OPEN: contextvars.ContextVar[tuple[tuple[object, trace.Span | None, object], ...]] = contextvars.ContextVar(
    "spyglass_open_spans", default=()
)


def _error_type(exc: BaseException) -> str:
    """Fully qualified class name, as OpenTelemetry writes ``exception.type``."""
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _finish(span: trace.Span, exc: BaseException | None) -> None:
    try:
        if exc is not None and not isinstance(exc, GeneratorExit):
            span.record_exception(exc)
            span.set_attribute("error.type", _error_type(exc))
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        span.end()
    except Exception:
        report_internal_error("span end")


class SpanFactory(Generic[H]):
    """Returned by ``spyglass.llm(...)`` and friends: a decorator and a context manager.

    As a context manager it yields a handle (``LLMSpan``, ``RetrievalSpan``...); as a
    decorator it wraps sync and async functions, generators and async generators (the span
    of a generator ends when the stream is exhausted, fails or is closed).
    """

    __slots__ = ("_attributes", "_handle_cls", "_name")

    def __init__(self, name: str | None, attributes: dict[str, Any], handle_cls: type[H]) -> None:
        self._name = name
        self._attributes = attributes
        self._handle_cls = handle_cls

    # --- span lifecycle --------------------------------------------------------------------------
    def _start(self, name: str) -> trace.Span | None:
        try:
            return state.tracer.start_span(name, attributes=self._attributes)
        except Exception:
            report_internal_error("span start")
            return None

    # --- context manager -------------------------------------------------------------------------
    def __enter__(self) -> H:
        span = self._start(self._name or str(self._attributes.get("spyglass.span.kind", "span")))
        # A span that failed to start leaves the context alone: the block keeps its outer trace.
        token = None if span is None else otel_context.attach(trace.set_span_in_context(span))
        _OPEN.set((*_OPEN.get(), (self, span, token)))
        return self._handle_cls(span if span is not None else trace.INVALID_SPAN)

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        opened = _OPEN.get()
        for i in range(len(opened) - 1, -1, -1):
            if opened[i][0] is self:
                _, span, token = opened[i]
                _OPEN.set(opened[:i] + opened[i + 1 :])
                break
        else:
            return
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]
        if span is not None:
            _finish(span, exc)

    async def __aenter__(self) -> H:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    # --- decorator -------------------------------------------------------------------------------
    @overload
    def __call__(self, func: F) -> F: ...
    @overload
    def __call__(self, func: Any) -> Any: ...

    def __call__(self, func: Any) -> Any:
        name = self._name or getattr(func, "__qualname__", None) or "span"
        start = self._start
        if inspect.isasyncgenfunction(func):
            wrapper = _wrap_async_generator(func, name, start)
        elif inspect.isgeneratorfunction(func):
            wrapper = _wrap_generator(func, name, start)
        elif inspect.iscoroutinefunction(func):
            wrapper = _wrap_coroutine(func, name, start)
        else:
            wrapper = _wrap_function(func, name, start)
        return functools.wraps(func)(wrapper)


Start = Callable[[str], "trace.Span | None"]


def _wrap_function(func: Callable[..., Any], name: str, start: Start) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        span = start(name)
        if span is None:
            return func(*args, **kwargs)
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            otel_context.detach(token)
            _finish(span, exc)
            raise
        otel_context.detach(token)
        _finish(span, None)
        return result

    return wrapper


def _wrap_coroutine(func: Callable[..., Any], name: str, start: Start) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        span = start(name)
        if span is None:
            return await func(*args, **kwargs)
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            otel_context.detach(token)
            _finish(span, exc)
            raise
        otel_context.detach(token)
        _finish(span, None)
        return result

    return wrapper


def _wrap_generator(func: Callable[..., Any], name: str, start: Start) -> Callable[..., Any]:
    # The span is current only while the generator's own code runs, never while the consumer
    # handles a yielded item, so the consumer's spans are not mistaken for the generator's children.
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        span = start(name)
        gen = func(*args, **kwargs)
        if span is None:
            return (yield from gen)
        ctx = trace.set_span_in_context(span)
        error: BaseException | None = None
        to_send: Any = None
        to_throw: BaseException | None = None
        try:
            while True:
                token = otel_context.attach(ctx)
                try:
                    if to_throw is not None:
                        item, to_throw = gen.throw(to_throw), None
                    else:
                        item = gen.send(to_send)
                except StopIteration as stop:
                    return stop.value
                finally:
                    otel_context.detach(token)
                try:
                    to_send = yield item
                except GeneratorExit:
                    raise
                except BaseException as exc:
                    to_throw = exc
        except GeneratorExit:
            token = otel_context.attach(ctx)
            try:
                gen.close()
            finally:
                otel_context.detach(token)
            span.set_attribute("spyglass.stream.closed_early", True)
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            _finish(span, error)

    return wrapper


def _wrap_async_generator(func: Callable[..., Any], name: str, start: Start) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        span = start(name)
        agen = func(*args, **kwargs)
        # Without a span, relay in the context the stream started in: asend/athrow still reach
        # the application's generator unchanged.
        ctx = trace.set_span_in_context(span) if span is not None else otel_context.get_current()
        error: BaseException | None = None
        to_send: Any = None
        to_throw: BaseException | None = None
        try:
            while True:
                token = otel_context.attach(ctx)
                try:
                    if to_throw is not None:
                        item, to_throw = await agen.athrow(to_throw), None
                    else:
                        item = await agen.asend(to_send)
                except StopAsyncIteration:
                    return
                finally:
                    otel_context.detach(token)
                try:
                    to_send = yield item
                except GeneratorExit:
                    raise
                except BaseException as exc:
                    to_throw = exc
        except GeneratorExit:
            token = otel_context.attach(ctx)
            try:
                await agen.aclose()
            finally:
                otel_context.detach(token)
            if span is not None:
                span.set_attribute("spyglass.stream.closed_early", True)
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            if span is not None:
                _finish(span, error)

    return wrapper


def static_attributes(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """The attributes fixed at decoration time: None values left out, built once."""
    attrs: dict[str, Any] = {"spyglass.span.kind": kind}
    with internal_errors("span attributes"):
        for key, value in values.items():
            if value is not None:
                attrs[key] = value
    return attrs
