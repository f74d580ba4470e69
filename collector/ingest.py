"""The one path accepted data takes, whatever transport it came by (OTLP/HTTP, OTLP/gRPC,
the feedback endpoint): decode -> normalize -> policy transforms -> durable hand-off.

Transports call ``Ingest.spans`` / ``Ingest.feedback``; they only map its two exceptions to
their own status codes: ``Rejected`` (the client's fault: 400/413/415, never retried) and
``Busy`` (retry later: 503 + Retry-After, gRPC UNAVAILABLE). When a call returns, the data is
as durable as the sink makes it, so the transport may answer success.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from typing import Protocol, TypeVar

import anyio
import pyarrow as pa
from fastapi.concurrency import run_in_threadpool
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from . import feedback as feedback_codec
from . import otlp
from .metrics import Metrics
from .normalize import Normalized, normalize
from .settings import Settings
from .store import StoreError

RETRY_AFTER_S = 5
T = TypeVar("T")

Transform = Callable[[pa.Table], pa.Table]
"""A policy step over normalized span rows (for example: drop content a data class forbids)."""


class Rejected(ValueError):
    """The request is the client's fault; ``status`` is the HTTP status (400, 413 or 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Busy(RuntimeError):
    """Nothing was accepted: the collector cannot keep more right now; retry after ``retry_after`` s."""

    def __init__(self, message: str, retry_after: int = RETRY_AFTER_S) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Denied(PermissionError):
    """The caller may not do this: ``status`` 401 (no, wrong or revoked key) or 403 (key lacks
    the scope). HTTP answers ``status``; gRPC UNAUTHENTICATED / PERMISSION_DENIED."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


Authorize = Callable[[str | None], str | None]
"""``Authorization`` header value -> the project the caller may ingest into (None: the data's
own project, keys are off); raises ``Denied``."""


def _no_keys(authorization: str | None) -> str | None:
    return None


class Sink(Protocol):
    """Where accepted rows go (the spool, or the batch writer). ``submit`` raises when it
    cannot take the rows; its future resolves once they are durable."""

    def submit(self, table: pa.Table) -> Future[None]: ...

    def flush(self, timeout: float) -> bool:
        """Wait until everything submitted before the call is in the store; False on timeout."""
        ...


_CLIENT_ERRORS: dict[type[Exception], int] = {
    otlp.DecodeError: 400,
    feedback_codec.FeedbackError: 400,
    otlp.TooLarge: 413,
    otlp.UnsupportedMediaType: 415,
}


class Ingest:
    """Accepts spans and feedback for the collector.

    ``project``, when given to a call, overrides whatever project the data names (an API key's
    project). ``transforms`` run, in order, on every span batch before it is handed off.
    """

    def __init__(
        self,
        settings: Settings,
        spans_sink: Sink,
        feedback_sink: Sink,
        transforms: Sequence[Transform] = (),
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self._spans = spans_sink
        self._feedback = feedback_sink
        self.transforms = list(transforms)
        self.authorize: Authorize = _no_keys
        """Replaced by the API-key check when keys are on; transports call it first."""
        # Decoding and normalizing is Python holding the GIL: more threads than this add no
        # throughput to one process, they only delay everything else it does (bench/README.md).
        self._decoders = anyio.CapacityLimiter(max(1, settings.decode_threads))

    async def _decode(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` on one of the ``decode_threads`` decoding threads."""
        return await anyio.to_thread.run_sync(functools.partial(fn, *args), limiter=self._decoders)

    def project_for(self, authorization: str | None, signal: str = "spans") -> str | None:
        """The project an ingest call with this ``Authorization`` header writes into (None: the
        data's own); raises ``Denied``."""
        try:
            return self.authorize(authorization)
        except Denied as exc:
            self.metrics.refused(signal, exc.status)
            raise

    async def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything accepted before this call is in the store (a deletion calls it
        first, so nothing accepted earlier can reappear after it); False on timeout."""
        spans = await run_in_threadpool(self._spans.flush, timeout)
        return spans and await run_in_threadpool(self._feedback.flush, timeout)

    # -- spans -------------------------------------------------------------------------------
    def _prepare(self, request: ExportTraceServiceRequest, project: str | None) -> Normalized:
        result = normalize(request, self.settings.default_project, project=project)
        if result.accepted == 0 and result.rejected:
            raise otlp.DecodeError(f"all {result.rejected} spans rejected: {result.error_message()}")
        for transform in self.transforms:
            result.table = transform(result.table)
        return result

    def _decode_body(self, body: bytes, media: str, encoding: str | None, project: str | None) -> Normalized:
        raw = otlp.decompress(body, encoding, self.settings.max_body_bytes)
        return self._prepare(otlp.decode(raw, media), project)

    async def spans(self, request: ExportTraceServiceRequest, *, project: str | None = None) -> Normalized:
        """Normalize an already parsed export request (gRPC) and hand it off durably."""
        result = await self._guard("spans", self._decode(self._prepare, request, project))
        return await self._accepted(result)

    async def spans_from_body(
        self, body: bytes, media: str, encoding: str | None, *, project: str | None = None
    ) -> Normalized:
        """An OTLP/HTTP body (protobuf or JSON, maybe gzip) -> normalized, handed off durably."""
        result = await self._guard("spans", self._decode(self._decode_body, body, media, encoding, project))
        return await self._accepted(result)

    async def _accepted(self, result: Normalized) -> Normalized:
        await self._submit("spans", self._spans, result.table)
        self.metrics.received.labels("spans").inc(result.accepted)
        if result.rejected:
            self.metrics.rejected_items.labels("spans").inc(result.rejected)
        return result

    # -- feedback ----------------------------------------------------------------------------
    async def feedback(self, body: bytes, *, project: str | None = None) -> pa.Table:
        """A feedback body (JSON) -> rows, handed off durably; all or nothing."""
        table = await self._guard(
            "feedback", self._decode(feedback_codec.decode, body, self.settings.default_project, project)
        )
        await self._submit("feedback", self._feedback, table)
        self.metrics.received.labels("feedback").inc(table.num_rows)
        return table

    # -- shared ------------------------------------------------------------------------------
    async def _guard(self, signal: str, work: Awaitable[T]) -> T:
        try:
            return await work
        except tuple(_CLIENT_ERRORS) as exc:
            status = _CLIENT_ERRORS[type(exc)]
            self.metrics.refused(signal, status)
            raise Rejected(status, str(exc)) from exc

    async def _submit(self, signal: str, sink: Sink, table: pa.Table) -> None:
        """Hand ``table`` to ``sink`` (off the event loop: it serializes and writes to disk) and
        wait until it is durable."""
        try:
            await asyncio.wrap_future(await run_in_threadpool(sink.submit, table))
        except (StoreError, RuntimeError) as exc:  # the sink cannot keep it (SpoolFull, a failing disk)
            self.metrics.refused(signal, 503)
            raise Busy(str(exc)) from exc
