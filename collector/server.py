"""Run the collector with uvicorn (``spyglass up``): one process, or several workers sharing the
port when the store is a ClickHouse server."""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from .settings import Settings

# How the parent hands its settings (command-line arguments included) to worker processes.
_WORKER_SETTINGS_ENV = "_SPYGLASS_WORKER_SETTINGS"


def store_dsn(settings: Settings) -> str:
    """The DSN to open: ``settings.store``, else the embedded store in ``settings.data_dir``."""
    from .store import embedded_dsn

    return settings.store or embedded_dsn(settings.data_dir)


# How often Python hands the GIL between threads (default 5 ms). Under ingest load the decoding
# thread holds it most of the time, and every other thread (the event loop answering requests,
# the spool's fsync thread, the store writer, trace lookups) waits up to a whole interval each
# time it needs it back: 1 ms gave more spans/s, fresher data and 1.3-3x faster lookups under
# load (bench/README.md, "Ingest under load"). Set per process, so only for a serving collector.
_GIL_SWITCH_INTERVAL_S = 0.001


def serve(settings: Settings) -> None:
    """Open the store (``settings.store``, else embedded in ``settings.data_dir``), migrate it and
    serve until interrupted; with ``settings.workers`` > 1, that many worker processes."""
    import uvicorn

    from .auth import AuthConfigError, describe_keys
    from .governance import PolicyError, load_policy
    from .store import InvalidDsn, StoreError, open_store, parse_dsn

    dsn = store_dsn(settings)
    try:
        keys = describe_keys(settings)  # refuses unsafe key settings before anything starts
        load_policy(settings.policy_file or None)
        address = parse_dsn(dsn)
        if settings.workers < 1:
            raise InvalidDsn(f"SPYGLASS_WORKERS={settings.workers}: give 1 or more")
        if settings.decode_threads < 1:
            raise InvalidDsn(f"SPYGLASS_DECODE_THREADS={settings.decode_threads}: give 1 or more")
        if settings.workers > 1 and address.embedded:
            raise InvalidDsn(
                f"{settings.workers} workers need a ClickHouse server store (the embedded store "
                "belongs to one process): give --store http(s)://user:pass@host:8123/db, or one worker"
            )
        # Migrate before forking workers, so they start on the finished schema (they would
        # also be safe migrating at once: every migration statement is idempotent).
        store = open_store(dsn, cluster=settings.cluster)
    except (InvalidDsn, StoreError, AuthConfigError, PolicyError) as exc:
        sys.exit(f"spyglass: {exc}")
    workers = f", {settings.workers} workers" if settings.workers > 1 else ""
    print(
        f"Spyglass collector on http://{settings.host}:{settings.port}  "
        f"(OTLP/HTTP: /v1/traces, traces: /api/traces/ID, store: {store.location}{workers})"
        + (f"\nOTLP/gRPC on {settings.host}:{settings.grpc_port}" if settings.grpc_port else "")
        + f"\n{keys}",
        flush=True,
    )
    if settings.workers > 1:
        store.close()
        os.environ[_WORKER_SETTINGS_ENV] = json.dumps(dataclasses.asdict(settings))
        uvicorn.run(
            "spyglass.collector.server:worker_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level="warning",
        )
        return
    from .app import create_app

    sys.setswitchinterval(_GIL_SWITCH_INTERVAL_S)
    try:
        uvicorn.run(create_app(store, settings), host=settings.host, port=settings.port, log_level="warning")
    finally:
        store.close()


def worker_app() -> object:
    """One worker's app (uvicorn calls this in each worker process): its own store client,
    writer and spool, over the parent's settings."""
    from .app import create_app
    from .store import open_store

    settings = Settings(**json.loads(os.environ[_WORKER_SETTINGS_ENV]))
    sys.setswitchinterval(_GIL_SWITCH_INTERVAL_S)
    return create_app(open_store(store_dsn(settings), cluster=settings.cluster), settings)
