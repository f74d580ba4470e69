"""The collector's HTTP edge: OTLP/HTTP ingest and the query API.

Handlers only parse and validate; decoding runs off the event loop through the one decode
path (``otlp`` + ``normalize``), writes go through the batch writer, reads through the store.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import polars as pl
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from spyglass.analytics import build_trace, feedback_events, trace_rows
from spyglass.analytics.cost import PriceTable

from . import otlp
from .admin_api import install as install_governance
from .analytics_api import BadParameter, CohortFilters, create_router, window
from .auth import require_read
from .ingest import Busy, Denied, Ingest, Rejected
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import Metrics
from .redaction import redact_third_party_content
from .rollup import Rollup
from .settings import Settings
from .spool import Spool
from .store import Store, StoreError, queries
from .writer import StoreWriter

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


Project = Annotated[str, Query(max_length=200, description="the project (default: default)")]
Limit = Annotated[int, Query(ge=1, le=500, description="rows per page")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="rows to skip")]


def _window(since: str | None, until: str | None, default_days: int) -> dict[str, int]:
    since_ns, until_ns = window(since, until, default_days)
    return {"since_ns": since_ns, "until_ns": until_ns}


def create_app(store: Store, settings: Settings | None = None, prices: PriceTable | None = None) -> FastAPI:
    """The collector as an ASGI app over ``store``; the batch writers run in its lifespan.
    ``prices`` prices LLM calls (default: the shipped table plus ``settings.prices_file``).

    Example::

        app = create_app(open_store("./spyglass-data"), Settings())
        uvicorn.run(app, port=4318)
    """
    settings = settings or Settings()
    prices = prices or PriceTable.load(settings.prices_file or None)
    metrics = Metrics()
    spool = Spool(
        _spool_root(store, settings), max_bytes=settings.spool_max_bytes, fsync=settings.spool_fsync
    )
    writer = StoreWriter(
        store,
        spool,
        max_rows=settings.batch_max_rows,
        max_delay=settings.batch_max_delay,
        drain_timeout=settings.drain_timeout,
        fault_file=settings.fault_store_down_file,
        on_write=lambda table, seconds: metrics.store_write_seconds.labels(table).observe(seconds),
    )
    metrics.watch(writer)
    rollup = Rollup(store)  # the per-request table the review and the trace list read

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from .grpc_server import serving  # grpcio loads only when the collector runs

        with writer, rollup.running():
            async with serving(app.state.ingest, settings) as grpc_port:
                app.state.grpc_port = grpc_port
                yield

    app = FastAPI(title="Spyglass collector", version="0.1.0", lifespan=lifespan)
    app.state.writer = writer
    app.state.store = store
    app.state.rollup = rollup
    app.state.settings = settings
    ingest = Ingest(
        settings,
        writer.sink(queries.SPANS_TABLE),
        writer.sink(queries.FEEDBACK_TABLE),
        transforms=[redact_third_party_content],  # other instrumentations' content, as the SDK's
        metrics=metrics,
    )
    app.state.ingest = ingest  # the one ingestion path, for every transport
    # API keys on every transport and read route, the content policy on ingest, retention TTL.
    install_governance(app, store, settings, ingest)
    read_scope = [Depends(require_read)]

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _api_error(400, _validation_message(exc))

    app.include_router(create_router(store, prices, rollup), dependencies=read_scope)

    @app.exception_handler(BadParameter)
    async def bad_parameter(request: Request, exc: BadParameter) -> JSONResponse:
        return _api_error(400, str(exc))

    @app.exception_handler(StoreError)
    async def store_unavailable(request: Request, exc: StoreError) -> JSONResponse:
        log.error("%s %s: %s", request.method, request.url.path, str(exc)[:2000])
        return _api_error(503, "the store could not be read; retry shortly", RETRY_AFTER_S)

    # The Langfuse SDK exports to <host>/api/public/otel/v1/traces: the same handler, so an app
    # instrumented with Langfuse points at Spyglass by changing its host. Its Basic auth header
    # (public:secret key) goes to the key check like any other Authorization value.
    @app.post("/api/public/otel/v1/traces", summary="OTLP/HTTP trace export at the Langfuse SDK's path")
    @app.post("/v1/traces", summary="OTLP/HTTP trace export (protobuf or JSON, optionally gzip)")
    async def export_traces(request: Request) -> Response:
        media = otlp.JSON  # an unsupported Content-Type is answered in JSON
        try:
            media = otlp.media_type(request.headers.get("content-type"))
            project = ingest.project_for(request.headers.get("authorization"))
            body = await _read_body(request, settings.max_body_bytes)
            result = await ingest.spans_from_body(
                body, media, request.headers.get("content-encoding"), project=project
            )
        except Denied as exc:
            return _otlp_error(media, exc.status, str(exc))
        except (otlp.DecodeError, otlp.TooLarge, otlp.UnsupportedMediaType) as exc:
            ingest.metrics.refused("spans", _CLIENT_ERRORS[type(exc)])
            return _otlp_error(media, _CLIENT_ERRORS[type(exc)], str(exc))
        except Rejected as exc:
            return _otlp_error(media, exc.status, str(exc))
        except Busy as exc:
            return _otlp_error(media, 503, f"{exc}; retry later", exc.retry_after)
        content = otlp.encode_response(media, result.rejected, result.error_message())
        return Response(content=content, media_type=media)

    @app.post("/v1/feedback", summary="Feedback events (JSON: one event or a list)")
    async def post_feedback(request: Request) -> JSONResponse:
        content_type = request.headers.get("content-type") or "(none)"
        if content_type.split(";", 1)[0].strip().lower() != otlp.JSON:
            ingest.metrics.refused("feedback", 415)
            return _api_error(
                415, f"Content-Type {content_type[:80]!r} is not supported: send application/json"
            )
        try:
            project = ingest.project_for(request.headers.get("authorization"), "feedback")
            body = await _read_body(request, settings.max_body_bytes)
            table = await ingest.feedback(body, project=project)
        except Denied as exc:
            return _api_error(exc.status, str(exc))
        except (otlp.TooLarge, otlp.DecodeError) as exc:
            ingest.metrics.refused("feedback", _CLIENT_ERRORS[type(exc)])
            return _api_error(_CLIENT_ERRORS[type(exc)], str(exc))
        except Rejected as exc:
            return _api_error(exc.status, str(exc))
        except Busy as exc:
            return _api_error(503, f"feedback not stored: {exc}; retry later", exc.retry_after)
        return JSONResponse({"accepted": table.num_rows, "ids": table.column("event_id").to_pylist()})

    @app.get(
        "/api/traces", summary="Recent traces, newest first, with filters and paging", dependencies=read_scope
    )
    def list_traces(
        filters: CohortFilters,
        project: Project = "default",
        since: Annotated[str | None, Query(description="ISO 8601; default: 7 days before until")] = None,
        until: Annotated[str | None, Query(description="ISO 8601; default: now")] = None,
        sort: Annotated[str, Query(pattern="^(newest|slowest)$")] = "newest",
        status: Annotated[str, Query(pattern="^(|any|error)$", description="error: traces with errors")] = "",
        negative_feedback: Annotated[
            bool | None, Query(description="only traces with (true) or without (false) thumbs-down")
        ] = None,
        min_duration_ms: Annotated[float, Query(ge=0, le=1e9)] = 0,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> JSONResponse:
        params: dict[str, Any] = {
            "project": project,
            **_window(since, until, 7),
            **filters,
            "errors_only": status == "error",
            "negative": "" if negative_feedback is None else str(negative_feedback).lower(),
            "min_duration_ns": int(min_duration_ms * 1e6),
            "limit": limit + 1,
            "offset": offset,
        }
        rollup.refresh()
        table = store.query(queries.trace_list(sort), params)
        rows = trace_rows(pl.from_arrow(table), prices)  # type: ignore[arg-type]
        return JSONResponse(
            {"traces": rows[:limit], "limit": limit, "offset": offset, "has_more": len(rows) > limit}
        )

    @app.get(
        "/api/feedback",
        summary="The feedback inbox: negative feedback and escalations",
        dependencies=read_scope,
    )
    def list_feedback(
        project: Project = "default",
        since: Annotated[str | None, Query(description="ISO 8601; default: 30 days before until")] = None,
        until: Annotated[str | None, Query(description="ISO 8601; default: now")] = None,
        state: Annotated[str, Query(pattern="^(all|open|resolved)$")] = "all",
        source: Annotated[str, Query(pattern="^(|end_user|support|reviewer|eval)$")] = "",
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> JSONResponse:
        params: dict[str, Any] = {
            "project": project,
            **_window(since, until, 30),
            "state": state,
            "source": source,
            "limit": limit + 1,
            "offset": offset,
        }
        table = store.query(queries.FEEDBACK_INBOX, params)
        events = feedback_events(pl.from_arrow(table))  # type: ignore[arg-type]
        return JSONResponse(
            {"events": events[:limit], "limit": limit, "offset": offset, "has_more": len(events) > limit}
        )

    @app.get(
        "/api/traces/{trace_id}",
        summary="A whole trace: spans as a tree, with totals and feedback",
        dependencies=read_scope,
    )
    def get_trace(trace_id: str, project: Project = "default") -> JSONResponse:
        if not TRACE_ID.match(trace_id) or not int(trace_id, 16):
            return _api_error(
                400,
                f"trace ID {trace_id[:64]!r} is malformed: expected 32 hexadecimal "
                "characters, not all zero (as printed by spyglass.current_trace_id())",
            )
        trace_id = trace_id.lower()
        params = {"project": project, "trace_id": trace_id}
        table = store.query(queries.TRACE_SPANS, params)
        events = feedback_events(pl.from_arrow(store.query(queries.TRACE_FEEDBACK, params)))  # type: ignore[arg-type]
        if table.num_rows == 0:
            waiting = f" {len(events)} feedback events are waiting for its spans." if events else ""
            return _api_error(
                404,
                f"no trace {trace_id} in project {project!r}. Spans appear about a "
                f"second after the application exports them; check the ID and the project.{waiting}",
            )
        trace = build_trace(pl.from_arrow(table), prices)  # type: ignore[arg-type]
        trace["feedback"] = events
        return JSONResponse(trace)

    @app.get("/livez", summary="Liveness: the process answers")
    @app.get("/healthz", summary="Liveness, with the writer's figures")
    def healthz() -> dict[str, object]:
        return {
            "status": "ok",
            "spans_written": writer.rows_written.get(queries.SPANS_TABLE, 0),
            "spool_rows": spool.depth_rows,
        }

    @app.get("/readyz", summary="Readiness: the store takes writes and the spool has room")
    def readyz() -> JSONResponse:
        problems = []
        if not writer.store_ok:
            problems.append(
                f"the store is failing writes ({writer.last_error[:200]}); data is kept in the spool"
            )
        if spool.depth_bytes >= 0.9 * spool.max_bytes:
            problems.append(f"the spool is over 90% full ({spool.depth_bytes} of {spool.max_bytes} bytes)")
        status = 503 if problems else 200
        return JSONResponse({"ready": not problems, "problems": problems}, status_code=status)

    @app.get("/metrics", summary="Prometheus metrics of the collector itself")
    def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=METRICS_CONTENT_TYPE)

    return app


def _spool_root(store: Store, settings: Settings) -> str:
    if settings.spool_dir:
        return settings.spool_dir
    local = store.location if os.path.isdir(store.location) else settings.data_dir
    return os.path.join(local, "spyglass-spool")


def _otlp_error(media: str, status: int, message: str, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    grpc_code = {400: 3, 401: 16, 403: 7, 413: 8, 415: 3, 503: 14}.get(status, 2)
    return Response(
        content=otlp.encode_status(media, grpc_code, message),
        status_code=status,
        media_type=media,
        headers=headers,
    )


def _api_error(status: int, message: str, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    """FastAPI's validation errors -> one sentence naming each bad parameter."""
    parts = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ()) if x not in ("query", "path", "body")]
        value = err.get("input")
        shown = f" (got {str(value)[:64]!r})" if value is not None and not isinstance(value, dict) else ""
        parts.append(f"query parameter {'.'.join(loc)!r}: {err.get('msg', 'invalid')}{shown}")
    return "; ".join(parts) or "invalid request"
