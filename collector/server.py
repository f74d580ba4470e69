"""Run the collector with uvicorn (``spyglass up``)."""

from __future__ import annotations

import sys

from .settings import Settings


def serve(settings: Settings) -> None:
    """Open the embedded store in ``settings.data_dir`` and serve until interrupted."""
    import uvicorn

    from .app import create_app
    from .store import StoreError, open_store

    try:
        store = open_store(settings.data_dir)
    except StoreError as exc:
        sys.exit(f"spyglass: {exc}")
    app = create_app(store, settings)
    print(
        f"Spyglass collector on http://{settings.host}:{settings.port}  "
        f"(OTLP/HTTP: /v1/traces, traces: /api/traces/ID, data: {store.location})",
        flush=True,
    )
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        store.close()
