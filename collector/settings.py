"""Collector settings: arguments first, then ``SPYGLASS_*`` environment variables, then defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    """Address to listen on (``SPYGLASS_HOST``)."""
    port: int = 4318
    """Port: 4318 is the standard OTLP/HTTP port (``SPYGLASS_PORT``)."""
    grpc_port: int = 4317
    """OTLP/gRPC port, on the same host: 4317 is the standard one; 0 turns gRPC off
    (``SPYGLASS_GRPC_PORT``)."""
    data_dir: str = "./spyglass-data"
    """Embedded store directory (``SPYGLASS_DATA_DIR``)."""
    store: str = ""
    """The store's DSN (``SPYGLASS_STORE``): ``http(s)://user:pass@host:8123/db`` for a ClickHouse
    server, ``chdb:///path`` for embedded; empty = embedded in ``data_dir``."""
    cluster: str = ""
    """A ClickHouse cluster name (``<remote_servers>``) to create the schema on: replicated
    tables sharded by trace ID (``SPYGLASS_CLUSTER``; server stores only)."""
    workers: int = 1
    """Collector processes serving the port (uvicorn workers; ``SPYGLASS_WORKERS``). More than one
    needs a server store: the embedded store belongs to one process."""
    max_body_bytes: int = 16 * 1024 * 1024
    """Largest request body accepted, after decompression; larger gets 413 (``SPYGLASS_MAX_BODY_BYTES``)."""
    decode_threads: int = 1
    """Threads decoding and normalizing exports (``SPYGLASS_DECODE_THREADS``). Decoding is Python
    holding the GIL, so one process gains no throughput from more; they only slow its other
    work (HTTP, the spool, the store writer, queries). Scale out with ``workers`` instead."""
    batch_max_rows: int = 20_000
    """Most spans written in one INSERT (``SPYGLASS_BATCH_MAX_ROWS``)."""
    batch_max_delay: float = 0.1
    """Longest a span waits for its INSERT, in seconds (``SPYGLASS_BATCH_MAX_DELAY``)."""
    default_project: str = "default"
    """Project of spans whose resource names none (``SPYGLASS_DEFAULT_PROJECT``)."""
    prices_file: str = ""
    """A TOML price table that overrides and extends the shipped one (``SPYGLASS_PRICES_FILE``)."""
    require_keys: bool = False
    """Every request needs an API key (``SPYGLASS_REQUIRE_KEYS``); needed to listen beyond loopback."""
    admin_key: str = field(default="", repr=False)
    """The operator's key, every scope on every project (``SPYGLASS_ADMIN_KEY``); setting it turns
    keys on."""
    key_cache_seconds: float = 5.0
    """How long a key lookup is reused: a revocation reaches other collector processes within it
    (``SPYGLASS_KEY_CACHE_SECONDS``)."""
    policy_file: str = ""
    """A TOML governance policy merged over the shipped one (``SPYGLASS_POLICY_FILE``)."""

    spool_dir: str = ""
    """The write-ahead spool's directory; each collector process claims a subdirectory of it
    (``SPYGLASS_SPOOL_DIR``; default: ``spyglass-spool`` inside the embedded store's directory,
    or inside ``data_dir`` for a server store)."""
    spool_max_bytes: int = 1 << 30
    """Disk the spool may use; beyond it exports get 503 + Retry-After (``SPYGLASS_SPOOL_MAX_BYTES``)."""
    spool_fsync: bool = True
    """fsync the spool before acknowledging; off only for benchmarks (``SPYGLASS_SPOOL_FSYNC``)."""
    drain_timeout: float = 10.0
    """On shutdown, how long to keep writing the spool into the store (``SPYGLASS_DRAIN_TIMEOUT``)."""
    fault_store_down_file: str = ""
    """Tests only: while a file exists at this path, store writes fail
    (``SPYGLASS_FAULT_STORE_DOWN_FILE``)."""

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from the environment, with explicit ``overrides`` (None = not given) on top."""
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"SPYGLASS_{f.name.upper()}")
            if raw:
                kind: Any = type(f.default)
                try:
                    values[f.name] = _parse_bool(raw) if kind is bool else kind(raw)
                except ValueError as exc:
                    raise ValueError(
                        f"SPYGLASS_{f.name.upper()}={raw!r} is not a valid {kind.__name__}"
                    ) from exc
            if overrides.get(f.name) is not None:
                values[f.name] = overrides[f.name]
        return cls(**values)  # type: ignore[arg-type]


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)
