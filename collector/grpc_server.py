"""OTLP/gRPC: the TraceService on port 4317 (``Settings.grpc_port``; 0 turns it off).

A thin transport over the one ingestion path (``Ingest``): the ``authorization`` metadata goes
to the key check, the already parsed request to ``Ingest.spans``, and its outcome to the
status codes the OTLP specification asks for. It runs on grpc.aio in the collector's event
loop, started and stopped with the FastAPI lifespan (``serving``).

Example::

    async with serving(app.state.ingest, settings):
        ...  # exporters reach grpc://127.0.0.1:4317
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from .ingest import Busy, Denied, Ingest, Rejected
from .settings import Settings

log = logging.getLogger("spyglass.collector.grpc")

GRACE_S = 5.0
"""How long in-flight exports may finish when the collector stops."""
_DENIED = {401: grpc.StatusCode.UNAUTHENTICATED, 403: grpc.StatusCode.PERMISSION_DENIED}
_REJECTED = {413: grpc.StatusCode.RESOURCE_EXHAUSTED}  # else INVALID_ARGUMENT (400, 415)


def retry_trailers(message: str, retry_after: int) -> tuple[tuple[str, bytes], ...]:
    """Trailing metadata telling a client when to retry: ``google.rpc.RetryInfo`` inside the
    standard ``grpc-status-details-bin`` status (what the OTLP specification names), and bare
    as ``google.rpc.retryinfo-bin`` (what OpenTelemetry Python's exporter reads)."""
    info = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=retry_after))
    status = status_pb2.Status(code=code_pb2.UNAVAILABLE, message=message)
    status.details.add().Pack(info)
    return (
        ("grpc-status-details-bin", status.SerializeToString()),
        ("google.rpc.retryinfo-bin", info.SerializeToString()),
    )


class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    """``opentelemetry.proto.collector.trace.v1.TraceService/Export`` over ``Ingest``."""

    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest

    async def Export(
        self, request: ExportTraceServiceRequest, context: grpc.aio.ServicerContext
    ) -> ExportTraceServiceResponse:
        authorization = dict(context.invocation_metadata() or ()).get("authorization")
        try:
            project = self.ingest.project_for(authorization if isinstance(authorization, str) else None)
            result = await self.ingest.spans(request, project=project)
        except Denied as exc:
            await context.abort(_DENIED.get(exc.status, grpc.StatusCode.PERMISSION_DENIED), str(exc))
        except Rejected as exc:
            await context.abort(_REJECTED.get(exc.status, grpc.StatusCode.INVALID_ARGUMENT), str(exc))
        except Busy as exc:
            message = f"{exc}; retry in {exc.retry_after} s"
            context.set_trailing_metadata(retry_trailers(message, exc.retry_after))
            await context.abort(grpc.StatusCode.UNAVAILABLE, message)
        response = ExportTraceServiceResponse()
        if result.rejected:
            response.partial_success.CopyFrom(
                ExportTracePartialSuccess(
                    rejected_spans=result.rejected, error_message=result.error_message()
                )
            )
        return response


@contextlib.asynccontextmanager
async def serving(ingest: Ingest, settings: Settings) -> AsyncIterator[int | None]:
    """Serve OTLP/gRPC on ``settings.host``:``settings.grpc_port`` while inside; yields the bound
    port (None when off). A port already in use is logged and skipped, not fatal: the HTTP
    transport still serves (two collectors on one machine must not take each other down)."""
    if not settings.grpc_port:
        yield None
        return
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", settings.max_body_bytes),
            ("grpc.so_reuseport", 0),  # a second collector must not silently share the port
        ]
    )
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(ingest), server)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host  # IPv6 literal
    address = f"{host}:{settings.grpc_port}"
    error: Exception | None = None
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:  # grpcio raises when the port is taken
        port, error = 0, exc
    if not port:
        log.warning(
            "OTLP/gRPC is off: cannot listen on %s (%s); free the port or pick another with "
            "--grpc-port / SPYGLASS_GRPC_PORT (0 turns gRPC off)",
            address,
            error or "address in use",
        )
        yield None
        return
    await server.start()
    try:
        yield port
    finally:
        await server.stop(GRACE_S)
