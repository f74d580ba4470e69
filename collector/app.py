"""The collector's HTTP edge: OTLP/HTTP ingest and the query API.

Handlers only parse and validate; decoding runs off the event loop through the one decode
path (``otlp`` + ``normalize``), writes go through the batch writer, reads through the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator

import polars as pl
from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from spyglass.analytics import build_trace

from . import otlp
from .normalize import Normalized, normalize
from .settings import Settings
from .store import Store, StoreError, queries
from .writer import BatchWriter, Overloaded

log = logging.getLogger("spyglass.collector")

TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")
RETRY_AFTER_S = 5


# What the decode path raises -> the HTTP status OTLP/HTTP asks for.
_CLIENT_ERRORS: dict[type[Exception], int] = {
    otlp.DecodeError: 400,
    otlp.TooLarge: 413,
    otlp.UnsupportedMediaType: 415,
}


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise otlp.DecodeError(f"Content-Length {declared!r} is not a number")
        if int(declared) > limit:
            raise otlp.TooLarge(f"body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise otlp.TooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(body: bytes, media: str, encoding: str | None, settings: Settings) -> Normalized:
    raw = otlp.decompress(body, encoding, settings.max_body_bytes)
    return normalize(otlp.decode(raw, media), settings.default_project)


def create_app(store: Store, settings: Settings | None = None) -> FastAPI:
    """The collector as an ASGI app over ``store``; the batch writer runs in its lifespan.

    Example::

        app = create_app(open_store("./spyglass-data"), Settings())
        uvicorn.run(app, port=4318)
    """
    settings = settings or Settings()
    writer = BatchWriter(
        store,
        max_rows=settings.batch_max_rows,
        max_delay=settings.batch_max_delay,
        max_pending_rows=settings.max_pending_rows,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with writer:
            yield

    app = FastAPI(title="Spyglass collector", version="0.1.0", lifespan=lifespan)
    app.state.writer = writer
    app.state.store = store
    app.state.settings = settings

    @app.post("/v1/traces", summary="OTLP/HTTP trace export (protobuf or JSON, optionally gzip)")
    async def export_traces(request: Request) -> Response:
        media = otlp.JSON  # an unsupported Content-Type is answered in JSON
        try:
            media = otlp.media_type(request.headers.get("content-type"))
            body = await _read_body(request, settings.max_body_bytes)
            result = await run_in_threadpool(
                _decode, body, media, request.headers.get("content-encoding"), settings
            )
            if result.accepted == 0 and result.rejected:
                raise otlp.DecodeError(f"all {result.rejected} spans rejected: {result.error_message()}")
            await asyncio.wrap_future(writer.submit(result.table))
        except (otlp.DecodeError, otlp.TooLarge, otlp.UnsupportedMediaType) as exc:
            return _otlp_error(media, _CLIENT_ERRORS[type(exc)], str(exc))
        except Overloaded as exc:
            return _otlp_error(media, 503, f"collector busy: {exc}; retry later", RETRY_AFTER_S)
        except StoreError as exc:
            return _otlp_error(media, 503, f"store unavailable: {exc}; retry later", RETRY_AFTER_S)
        content = otlp.encode_response(media, result.rejected, result.error_message())
        return Response(content=content, media_type=media)

    @app.get("/api/traces/{trace_id}", summary="A whole trace: spans as a tree, with totals")
    def get_trace(trace_id: str, project: str = Query(default="default", max_length=200)) -> JSONResponse:
        if not TRACE_ID.match(trace_id) or not int(trace_id, 16):
            return _api_error(
                400,
                f"trace ID {trace_id[:64]!r} is malformed: expected 32 hexadecimal "
                "characters, not all zero (as printed by spyglass.current_trace_id())",
            )
        trace_id = trace_id.lower()
        try:
            table = store.query(queries.TRACE_SPANS, {"project": project, "trace_id": trace_id})
        except StoreError as exc:
            log.error("trace lookup failed: %s", exc)
            return _api_error(503, "the store could not be read; retry shortly")
        if table.num_rows == 0:
            return _api_error(
                404,
                f"no trace {trace_id} in project {project!r}. Spans appear about a "
                "second after the application exports them; check the ID and the project.",
            )
        return JSONResponse(build_trace(pl.from_arrow(table)))  # type: ignore[arg-type]

    @app.get("/healthz", summary="Liveness")
    def healthz() -> dict[str, object]:
        return {"status": "ok", "spans_written": writer.rows_written}

    return app


def _otlp_error(media: str, status: int, message: str, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    grpc_code = {400: 3, 413: 8, 415: 3, 503: 14}.get(status, 2)
    return Response(
        content=otlp.encode_status(media, grpc_code, message),
        status_code=status,
        media_type=media,
        headers=headers,
    )


def _api_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)
