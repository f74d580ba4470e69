"""Collector settings: arguments first, then ``SPYGLASS_*`` environment variables, then defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    """Address to listen on (``SPYGLASS_HOST``)."""
    port: int = 4318
    """Port: 4318 is the standard OTLP/HTTP port (``SPYGLASS_PORT``)."""
    data_dir: str = "./spyglass-data"
    """Embedded store directory (``SPYGLASS_DATA_DIR``)."""
    max_body_bytes: int = 16 * 1024 * 1024
    """Largest request body accepted, after decompression; larger gets 413 (``SPYGLASS_MAX_BODY_BYTES``)."""
    batch_max_rows: int = 20_000
    """Most spans written in one INSERT (``SPYGLASS_BATCH_MAX_ROWS``)."""
    batch_max_delay: float = 0.1
    """Longest a span waits for its INSERT, in seconds (``SPYGLASS_BATCH_MAX_DELAY``)."""
    max_pending_rows: int = 1_000_000
    """Spans waiting for the store beyond which exports get 503 + Retry-After
    (``SPYGLASS_MAX_PENDING_ROWS``)."""
    default_project: str = "default"
    """Project of spans whose resource names none (``SPYGLASS_DEFAULT_PROJECT``)."""
    prices_file: str = ""
    """A TOML price table that overrides and extends the shipped one (``SPYGLASS_PRICES_FILE``)."""

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from the environment, with explicit ``overrides`` (None = not given) on top."""
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"SPYGLASS_{f.name.upper()}")
            if raw:
                kind: Any = type(f.default)
                try:
                    values[f.name] = kind(raw)
                except ValueError as exc:
                    raise ValueError(
                        f"SPYGLASS_{f.name.upper()}={raw!r} is not a valid {kind.__name__}"
                    ) from exc
            if overrides.get(f.name) is not None:
                values[f.name] = overrides[f.name]
        return cls(**values)  # type: ignore[arg-type]
